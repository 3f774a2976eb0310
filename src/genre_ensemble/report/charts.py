"""The report's charts, as Vega-Lite specifications built with Altair.

Every function returns a plain ``dict`` (the Vega-Lite spec, data inlined, no ``$schema`` URL)
so the page can either draw it in the browser with the bundled Vega or turn it into SVG with
vl-convert. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from genre_ensemble.core.labels import label_set
from genre_ensemble.core.tables import label_columns, probability_matrix, true_indices
from genre_ensemble.evaluation.metrics import genre_confusion
from genre_ensemble.report.runs import ENSEMBLE, Run

Spec = dict[str, Any]

CELL = 18  # pixels per confusion-matrix cell
HELPS, HURTS = "#2e7d32", "#c62828"


def finish(chart: alt.TopLevelMixin) -> Spec:
    """The chart's spec without the ``$schema`` URL (nothing on the page points outside)."""
    spec = chart.to_dict()
    spec.pop("$schema", None)
    return spec


def model_order(run: Run) -> list[str]:
    """The ensemble first, then the members in pipeline order."""
    return [ENSEMBLE, *run.members]


# ---------------------------------------------------------------------------------------------
# Accuracy with intervals


def accuracy_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run and model: accuracy, its 95 % interval and macro F1."""
    rows = []
    for run in runs:
        if not run.has_results:
            continue
        scores = {ENSEMBLE: run.metrics["ensemble"], **run.metrics.get("members", {})}
        for model in model_order(run):
            values = scores[model]
            rows.append({
                "run": run.title, "model": model, "accuracy": values["accuracy"],
                "low": values.get("accuracy_ci_low", values["accuracy"]),
                "high": values.get("accuracy_ci_high", values["accuracy"]),
                "macro F1": values.get("f1", np.nan), "clips": values.get("n", 0),
                "in ensemble": model == ENSEMBLE or model in run.members_in_ensemble,
            })
    return pd.DataFrame(rows)


def accuracy_chart(runs: list[Run]) -> Spec | None:
    """Test accuracy of the ensemble and every member with its 95 % interval, per run."""
    table = accuracy_table(runs)
    if table.empty:
        return None
    order = [ENSEMBLE, *[m for m in dict.fromkeys(table["model"]) if m != ENSEMBLE]]
    run_order = list(dict.fromkeys(table["run"]))
    base = alt.Chart(table).encode(
        y=alt.Y("model:N", sort=order, title=None),
        yOffset=alt.YOffset("run:N", sort=run_order),
        color=alt.Color("run:N", sort=run_order, title="run"),
        tooltip=[
            "run:N", "model:N",
            alt.Tooltip("accuracy:Q", format=".1%"),
            alt.Tooltip("low:Q", format=".1%", title="95 % low"),
            alt.Tooltip("high:Q", format=".1%", title="95 % high"),
            alt.Tooltip("macro F1:Q", format=".3f"), "clips:Q", "in ensemble:N",
        ],
    )
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", title="test accuracy (95 % interval)",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        x2="high:Q",
    )
    points = base.mark_point(filled=True, size=70).encode(x="accuracy:Q")
    height = max(120, 22 * len(order) * max(1, len(run_order)) // 2 + 40)
    return finish((bars + points).properties(
        width=560, height=height, title="Test accuracy with 95 % bootstrap interval"))


# ---------------------------------------------------------------------------------------------
# Confusion matrices


def confusion_from_predictions(table: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Counts (true x predicted) of a predictions table's clips, and their labels."""
    labels = label_columns(table)
    return genre_confusion(true_indices(table), probability_matrix(table).argmax(axis=1),
                           len(labels)), labels


def confusion_from_pairs(pairs: pd.DataFrame, labels: list[str]
                         ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Counts of (actual, predicted) label pairs, and their labels (the run's, else those the
    pairs hold)."""
    labels = tuple(labels) or label_set([*pairs["actual"], *pairs["predicted"]])
    index = {label: i for i, label in enumerate(labels)}
    return genre_confusion(pairs["actual"].map(index).to_numpy(),
                           pairs["predicted"].map(index).to_numpy(), len(labels)), labels


def confusion_chart(counts: np.ndarray, labels: Sequence[str], title: str) -> Spec:
    """A heatmap of counts, coloured by the share of the true label's clips (recall)."""
    labels = list(labels)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    rows = [
        {"true genre": labels[i], "predicted": labels[j], "clips": int(counts[i, j]),
         "share": float(shares[i, j]), "label": str(int(counts[i, j])) if counts[i, j] else ""}
        for i in range(len(labels)) for j in range(len(labels))
    ]
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else 0.0
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("predicted:N", sort=labels, title="predicted"),
        y=alt.Y("true genre:N", sort=labels, title=None),
    )
    shade = alt.Color("share:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), legend=None)
    cells = base.mark_rect(stroke="#e3e8ef", strokeWidth=0.5).encode(
        color=alt.condition(alt.datum.clips == 0, alt.value("#ffffff"), shade),
        tooltip=["true genre:N", "predicted:N", "clips:Q",
                 alt.Tooltip("share:Q", format=".0%", title="share of true genre")],
    )
    text = base.mark_text(fontSize=10).encode(
        text="label:N",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("#222222")),
    )
    return finish((cells + text).properties(
        width=CELL * len(labels), height=CELL * len(labels),
        title=alt.TitleParams(title, subtitle=f"accuracy {accuracy:.1%}, "
                                              f"{int(counts.sum())} test clips")))


def run_confusions(run: Run) -> list[tuple[str, Spec]]:
    """(name, chart) for the ensemble and every member whose predictions are at hand."""
    charts = []
    if ENSEMBLE in run.predictions:
        charts.append((ENSEMBLE, confusion_from_predictions(run.predictions[ENSEMBLE])))
    elif run.outcomes is not None and ENSEMBLE in run.outcomes:  # git-tracked: every revision
        pairs = run.outcomes.rename(columns={"genre": "actual", ENSEMBLE: "predicted"})
        charts.append((ENSEMBLE, confusion_from_pairs(pairs, run.labels)))
    for member in run.members:
        if member in run.predictions:
            charts.append((member, confusion_from_predictions(run.predictions[member])))
    return [(name, confusion_chart(counts, labels, member_title(run, name)))
            for name, (counts, labels) in charts]


def member_title(run: Run, name: str) -> str:
    if name == ENSEMBLE:
        return f"ensemble ({' + '.join(run.members_in_ensemble)})"
    return name if name in run.members_in_ensemble else f"{name} (not in ensemble)"


# ---------------------------------------------------------------------------------------------
# Per-genre F1


def per_genre_table(run: Run) -> pd.DataFrame:
    """genre, model, precision, recall, f1, support for the ensemble and every member."""
    rows = []
    for model in model_order(run):
        for genre, values in (run.per_genre or {}).get(model, {}).items():
            rows.append({"genre": genre, "model": model, **values})
    return pd.DataFrame(rows)


def per_genre_chart(run: Run) -> Spec | None:
    """Heatmap of F1 per genre (rows) and model (columns)."""
    table = per_genre_table(run)
    if table.empty:
        return None
    order = [m for m in model_order(run) if m in set(table["model"])]
    base = alt.Chart(table).encode(
        x=alt.X("model:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("genre:N", sort=run.labels, title=None),
    )
    cells = base.mark_rect(stroke="#ffffff", strokeWidth=0.5).encode(
        color=alt.Color("f1:Q", scale=alt.Scale(domain=[0, 1], scheme="greens"),
                        title="F1"),
        tooltip=["genre:N", "model:N", alt.Tooltip("f1:Q", format=".3f"),
                 alt.Tooltip("precision:Q", format=".3f"),
                 alt.Tooltip("recall:Q", format=".3f"), "support:Q"],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("f1:Q", format=".2f"),
        color=alt.condition(alt.datum.f1 > 0.6, alt.value("white"), alt.value("#222222")),
    )
    return finish((cells + text).properties(
        width=52 * len(order), height=CELL * len(run.labels),
        title=alt.TitleParams(f"F1 per genre: {run.title}", subtitle="test clips")))


def ensemble_gain_table(run: Run) -> pd.DataFrame:
    """Per genre: ensemble F1, the best member in the ensemble, its F1 and the difference."""
    scores = run.per_genre or {}
    members = [m for m in run.members_in_ensemble if m in scores]
    if ENSEMBLE not in scores or not members:
        return pd.DataFrame()
    rows = []
    for genre in run.labels:
        if genre not in scores[ENSEMBLE]:
            continue
        best = max(members, key=lambda m: scores[m].get(genre, {}).get("f1", 0.0))
        ensemble_f1 = scores[ENSEMBLE][genre]["f1"]
        best_f1 = scores[best].get(genre, {}).get("f1", 0.0)
        gain = ensemble_f1 - best_f1
        rows.append({"genre": genre, "ensemble F1": ensemble_f1, "best member": best,
                     "best member F1": best_f1, "gain": gain,
                     "effect": "helps" if gain > 0 else ("hurts" if gain < 0 else "same")})
    return pd.DataFrame(rows)


def ensemble_gain_chart(run: Run) -> Spec | None:
    """Bars of ensemble F1 minus the best member's F1, per genre: green helps, red hurts."""
    table = ensemble_gain_table(run)
    if table.empty:
        return None
    reach = max(0.1, float(table["gain"].abs().max()))
    bars = alt.Chart(table).mark_bar().encode(
        x=alt.X("gain:Q", title="ensemble F1 − best member F1",
                scale=alt.Scale(domain=[-reach, reach])),
        y=alt.Y("genre:N", sort=run.labels, title=None),
        color=alt.Color("effect:N", scale=alt.Scale(
            domain=["helps", "same", "hurts"], range=[HELPS, "#9e9e9e", HURTS]), title=None),
        tooltip=["genre:N", alt.Tooltip("ensemble F1:Q", format=".3f"), "best member:N",
                 alt.Tooltip("best member F1:Q", format=".3f"),
                 alt.Tooltip("gain:Q", format="+.3f")],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#444444").encode(x="x:Q")
    return finish((bars + zero).properties(
        width=260, height=CELL * len(run.labels),
        title=alt.TitleParams(f"Where the ensemble helps: {run.title}",
                              subtitle="per genre, against the best member of the ensemble")))


# ---------------------------------------------------------------------------------------------
# Training curves


def training_charts(runs: list[Run]) -> list[tuple[str, Spec]]:
    """(metric, chart) for loss and accuracy: one panel per member, a line per run and split."""
    frames = [run.curves for run in runs if run.curves is not None and not run.curves.empty]
    if not frames:
        return []
    curves = pd.concat(frames, ignore_index=True)
    run_order = list(dict.fromkeys(curves["run"]))
    members = list(dict.fromkeys(curves["member"]))
    charts = []
    for metric in ("loss", "accuracy"):
        table = curves[curves["metric"] == metric]
        if table.empty:
            continue
        base = alt.Chart().encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=metric,
                    axis=alt.Axis(format="%") if metric == "accuracy" else alt.Axis()),
            color=alt.Color("run:N", sort=run_order, title="run"),
        )
        lines = base.mark_line().encode(
            strokeDash=alt.StrokeDash("split:N", sort=["train", "validation"], title="split"),
        )
        points = base.mark_point(filled=True, size=20).encode(
            tooltip=["run:N", "member:N", "split:N", "epoch:Q",
                     alt.Tooltip("value:Q", format=".3f", title=metric)],
        )
        chart = alt.layer(lines, points, data=table).properties(width=280, height=190).facet(
            column=alt.Column("member:N", sort=members, title=None),
        ).properties(title=f"Training {metric} per epoch (solid: train, dashed: validation)")
        charts.append((metric, finish(chart)))
    return charts
