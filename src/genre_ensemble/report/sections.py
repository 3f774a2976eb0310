"""The report's sections, each the HTML of one part of the page. No TensorFlow here."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from genre_ensemble.core.params import flatten as flatten_params
from genre_ensemble.core.paths import image_folder
from genre_ensemble.core.tables import label_columns, predicted_labels, probability_matrix
from genre_ensemble.members.cnn.imagestore import window_png
from genre_ensemble.report import charts
from genre_ensemble.report.html import Page, card, esc, num, paragraph, pct, section, table
from genre_ensemble.report.runs import ENSEMBLE, Missing, Run

# ---------------------------------------------------------------------------------------------
# Sections


def header_cards(run: Run) -> str:
    """Data source, clip counts and the ensemble's score of the workspace (or first) run."""
    data_params = run.params.get("data", {})
    source = str(data_params.get("source", "?"))
    detail = esc(data_params.get("gtzan_dir", "")) if source == "gtzan" else "generated corpus"
    cards = [card("data source", esc(source), detail)]
    if run.data:
        split = f"train {run.data.get('train', '?')} · val {run.data.get('val', '?')}"
        cards.append(card("test clips", esc(run.data.get("test", "?")), split))
        cards.append(card("skipped clips", esc(run.data.get("skipped", 0)),
                          f"of {esc(run.data.get('clips', '?'))} listed"))
    if run.metrics:
        ensemble = run.metrics["ensemble"]
        cards.append(card(
            "ensemble accuracy", pct(ensemble["accuracy"]),
            f"95 % {pct(ensemble.get('accuracy_ci_low'))}–{pct(ensemble.get('accuracy_ci_high'))}"
            f" · macro F1 {ensemble.get('f1', 0):.3f}"))
        method = (run.ensemble or {}).get("method", run.params.get("ensemble", {}).get("method"))
        cards.append(card("members", esc(" + ".join(run.members_in_ensemble)),
                          f"combined by {esc(method)}"))
    return f'<div class="cards">{"".join(cards)}</div>'


def missing_section(missing: list[Missing]) -> str:
    if not missing:
        return ""
    rows = [[esc(m.run), f"<code>{esc(m.what)}</code>", esc(m.effect), f"<code>{esc(m.fix)}</code>"]
            for m in missing]
    body = ('<div class="notice"><p><strong>Not everything could be shown.</strong> '
            "These inputs are missing; the sections below say where they would appear.</p>"
            + table(["run", "missing", "so that", "to get it"], rows) + "</div>")
    return section("missing", "What is missing", body)


def metrics_section(page: Page, runs: list[Run]) -> str:
    """The metrics table (one row per run) and the accuracy chart."""
    scored = [r for r in runs if r.has_results]
    members = list(dict.fromkeys(m for r in scored for m in r.members))
    best = max((r.metrics["ensemble"]["accuracy"] for r in scored), default=None)
    headers = ["run", "ensemble accuracy<br><span class=sub>95 % interval</span>",
               "ensemble<br>macro F1", "method: weights",
               *[f"{esc(m)}<br><span class=sub>accuracy · F1</span>" for m in members],
               "test clips", "skipped"]
    rows = []
    for run in runs:
        if not run.has_results:
            rows.append([esc(run.title), f'<td colspan="{len(headers) - 1}" class="empty">'
                         "no results (see What is missing)</td>"])
            continue
        rows.append(metrics_row(run, members, best))
    body = table(headers, rows)
    if scored:
        body += paragraph("Members marked <em>not in ensemble</em> are scored but not combined. "
                          "Interval: percentile bootstrap over test clips (Wilson in the "
                          "tooltip).")
    body += page.chart(charts.accuracy_chart(runs), empty="No run has results yet.")
    return section("metrics", "Metrics", body)


def metrics_row(run: Run, members: list[str], best: float | None) -> list[str]:
    ensemble = run.metrics["ensemble"]
    wilson = (f"Wilson {pct(ensemble.get('accuracy_wilson_low'))}–"
              f"{pct(ensemble.get('accuracy_wilson_high'))}")
    css = "best" if best is not None and ensemble["accuracy"] == best and best > 0 else ""
    weights = (run.ensemble or {}).get("weights", {})
    method = (run.ensemble or {}).get("method", "?")
    weight_text = ", ".join(f"{esc(m)} {w:.2f}" for m, w in weights.items()) or "–"
    cells = [
        esc(run.title),
        f'<td class="num {css}" title="{wilson}">{pct(ensemble["accuracy"])} '
        f'<span class="sub">[{pct(ensemble.get("accuracy_ci_low"))}, '
        f'{pct(ensemble.get("accuracy_ci_high"))}]</span></td>',
        num(f"{ensemble.get('f1', 0):.3f}"),
        f"{esc(method)}: {weight_text}",
    ]
    scores = run.metrics.get("members", {})
    for member in members:
        if member not in scores:
            cells.append(num("–"))
            continue
        note = ("" if member in run.members_in_ensemble
                else "<br><span class=sub>not in ensemble</span>")
        cells.append(num(f"{pct(scores[member]['accuracy'])} · {scores[member].get('f1', 0):.3f}"
                         f"{note}"))
    skipped = run.metrics.get("n_skipped", (run.data or {}).get("skipped", "–"))
    cells += [num(esc(run.metrics.get("n_test", ensemble.get("n", "–")))), num(esc(skipped))]
    return cells


def flatten(params: Any) -> dict[str, str]:
    """``{"train.epochs": "30", ...}``: params as dotted keys, values as compact JSON."""
    return {key: json.dumps(value, default=str)
            for key, value in flatten_params(params if isinstance(params, Mapping) else {})
            .items()}


def params_section(runs: list[Run]) -> str:
    """Params that differ between runs; with one run, all of them folded away."""
    flat = {run.title: flatten(run.params) for run in runs if run.params}
    if not flat:
        return section("params", "Params", paragraph("No params.yaml found.", "empty"))
    keys = sorted(set().union(*flat.values()))
    if len(flat) == 1:
        only = next(iter(flat.values()))
        body = paragraph("Only one run: pass <code>--rev REV</code> (a branch, tag, commit or "
                         "DVC experiment) to see which params differ.")
        body += ("<details><summary>All params of this run</summary>"
                 + table(["param", "value"],
                         [[f"<code>{esc(k)}</code>", esc(only[k])] for k in keys])
                 + "</details>")
        return section("params", "Params", body)
    absent = "(absent)"
    differing = [k for k in keys if len({values.get(k, absent) for values in flat.values()}) > 1]
    if not differing:
        return section("params", "Params that differ",
                       paragraph("All runs have the same params."))
    rows = [[f"<code>{esc(k)}</code>", *[esc(values.get(k, absent)) for values in flat.values()]]
            for k in differing]
    body = table(["param", *[esc(t) for t in flat]], rows)
    return section("params", "Params that differ", body)


NO_RESULTS = "Nothing to show until a run has results (see What is missing)."


def confusion_section(page: Page, runs: list[Run]) -> str:
    if not any(run.has_results for run in runs):
        return section("confusion", "Confusion matrices", paragraph(NO_RESULTS, "empty"))
    body = paragraph("Rows are true genres, columns predicted genres; numbers are test clips, "
                     "colour is the share of the true genre's clips (so the diagonal is recall).")
    for run in runs:
        if not run.has_results:
            continue
        confusions = charts.run_confusions(run)
        blocks = [page.chart(spec) for _, spec in confusions]
        shown = {name for name, _ in confusions}
        absent = [m for m in run.members if m not in shown]
        note = ""
        if not blocks:
            note = paragraph("No confusion data for this run (metrics/test_clips.csv and the "
                             "predictions are missing).", "empty")
        elif absent:
            note = paragraph(f"Not shown: {esc(', '.join(absent))} (their per-clip predictions "
                             "are not available; see What is missing).", "empty")
        body += f"<h3>{esc(run.title)}</h3>{note}<div class=\"row\">{''.join(blocks)}</div>"
    return section("confusion", "Confusion matrices", body)


def per_genre_section(page: Page, runs: list[Run]) -> str:
    if not any(run.has_results for run in runs):
        return section("per-genre", "Per-genre F1", paragraph(NO_RESULTS, "empty"))
    body = paragraph("F1 of every genre for the ensemble and each member, and the ensemble's F1 "
                     "minus the best single member's (among those it combines): green bars are "
                     "genres the ensemble gets better than any of its members, red ones worse.")
    for run in runs:
        if not run.has_results:
            continue
        heat = page.chart(charts.per_genre_chart(run),
                          empty=f"{esc(run.title)}: metrics/per_genre.json is missing.")
        gain = page.chart(charts.ensemble_gain_chart(run))
        body += f"<h3>{esc(run.title)}</h3><div class=\"row\">{heat}{gain}</div>"
    return section("per-genre", "Per-genre F1", body)


def training_section(page: Page, runs: list[Run]) -> str:
    blocks = [page.chart(spec) for _, spec in charts.training_charts(runs)]
    if not blocks:
        return section("training", "Training curves", paragraph(
            "No training curves (plots/train/&lt;member&gt;/plots/metrics/) in any run; "
            "<code>dvc repro train</code> makes them.", "empty"))
    body = paragraph("Per epoch, from dvclive's logs; the feature-based member has no epochs.")
    return section("training", "Training curves", body + "".join(blocks))


# ---------------------------------------------------------------------------------------------
# Example clips


def choose_examples(ensemble: pd.DataFrame, count: int) -> list[str]:
    """Up to ``count`` test tracks, alternating right and wrong ensemble calls, genres spread."""
    predicted = predicted_labels(ensemble)
    clips = ensemble.assign(predicted=predicted).sort_values("track")
    right = clips["predicted"] == clips["genre"]
    queues = [clips[right], clips[~right]]
    picks: list[str] = []
    genres: set[str] = set()
    turn = 0
    while len(picks) < count and any(len(q) for q in queues):
        queue = queues[turn % 2] if len(queues[turn % 2]) else queues[(turn + 1) % 2]
        fresh = queue[~queue["genre"].isin(genres)]
        row = (fresh if len(fresh) else queue).iloc[0]
        picks.append(str(row["track"]))
        genres.add(str(row["genre"]))
        queues = [q[q["track"] != row["track"]] for q in queues]
        turn += 1
    return picks


def image_uri(root: Path, rep: str, index: pd.DataFrame, track: str) -> str | None:
    """A ``data:`` URI of the track's middle window image (a PNG drawn from the image store),
    or ``None``."""
    rows = index[index["track"] == track]
    if rows.empty:
        return None
    middle = rows.sort_values("window").iloc[len(rows) // 2]
    folder = root / image_folder(rep)
    try:
        png = window_png(folder, str(middle["file"]), int(middle["window"]))
    except (OSError, ValueError, IndexError):  # absent, or not this store's format (an old run)
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def call(table: pd.DataFrame | None, track: str) -> tuple[str, float] | None:
    """(predicted genre, its probability) for one track, or ``None``."""
    if table is None:
        return None
    rows = table[table["track"] == track]
    if rows.empty:
        return None
    probabilities = probability_matrix(rows)[0]
    best = int(probabilities.argmax())
    return label_columns(rows)[best], float(probabilities[best])


def examples_section(run: Run, root: Path, count: int) -> str:
    title = "Example clips"
    if count <= 0:
        return ""
    if ENSEMBLE not in run.predictions:
        return section("examples", title, paragraph(
            "Not available: the workspace has no per-clip ensemble predictions "
            "(data/ensemble/predictions.csv); see What is missing.", "empty"))
    tracks = choose_examples(run.predictions[ENSEMBLE], count)
    models = [ENSEMBLE, *[m for m in run.members if m in run.predictions]]
    imaged = list(run.images)  # the members whose stages store window images
    headers = ["clip", *[esc(member) for member in imaged], "true genre",
               *[esc(m) for m in models]]
    rows = []
    for track in tracks:
        truth = str(run.predictions[ENSEMBLE].set_index("track").loc[track, "genre"])
        cells = [f"<code>{esc(track)}</code>"]
        for rep in imaged:
            uri = image_uri(root, rep, run.images[rep], track) if rep in run.images else None
            cells.append(f'<img class="spec" alt="{esc(rep)} image of {esc(track)}" src="{uri}">'
                         if uri else '<div class="noimg">no image</div>')
        cells.append(f"<strong>{esc(truth)}</strong>")
        for model in models:
            result = call(run.predictions.get(model), track)
            if result is None:
                cells.append("–")
                continue
            genre, probability = result
            css = "ok" if genre == truth else "wrong"
            mark = "✓" if genre == truth else "✗"
            cells.append(f'<span class="{css}">{mark} {esc(genre)}</span>'
                         f'<br><span class="sub">p = {probability:.2f}</span>')
        rows.append(cells)
    body = paragraph("A few test clips of the workspace run, right and wrong ensemble calls in "
                     "turn: the image of each representation the CNNs were given (the clip's "
                     "middle window), the true genre, and each model's predicted genre with its "
                     "probability.")
    return section("examples", title, body + table(headers, rows))


def skipped_section(run: Run) -> str:
    if run.skipped is None or run.skipped.empty:
        return ""
    counts = run.skipped.groupby("reason").size().sort_values(ascending=False)
    rows = [[esc(reason), num(str(n))] for reason, n in counts.items()]
    listing = table(list(run.skipped.columns),
                    [[esc(v) for v in row] for row in run.skipped.astype(str).to_numpy().tolist()],
                    raw=False)
    body = (table(["reason", "clips"], rows)
            + f"<details><summary>All {len(run.skipped)} skipped clips</summary>{listing}"
              "</details>")
    return section("skipped", "Skipped clips", body)


def _interval_cell(value: Any, *, percent: bool = True) -> str:
    """``84.2 % [80.1, 88.3]``; the interval is n/a for a single fold."""
    scale, digits, unit = (100, 1, " %") if percent else (1, 3, "")
    text = f"{value.value * scale:.{digits}f}{unit}"
    if value.low != value.low:  # NaN: one fold
        return num(f"{text} [n/a]")
    return num(f"{text} [{value.low * scale:.{digits}f}, {value.high * scale:.{digits}f}]")


def cv_section(page: Page, result: Mapping[str, Any] | None) -> str:
    """Variants of cross-validation sweeps (the result of
    :func:`genre_ensemble.experiments.compare.compare`): fold means with intervals, paired tests
    against the baseline, pooled confusion matrices."""
    if result is None:
        return ""
    summaries = result["variants"]
    body = paragraph(
        f"{esc(result['model'])} on the test folds of each sweep (<code>genre-ensemble "
        "compare</code>): mean over folds with a 95 % t interval.")
    rows = [[esc(name), num(str(s.folds)), num(str(s.clips)), _interval_cell(s.accuracy),
             _interval_cell(s.f1, percent=False)] for name, s in summaries.items()]
    body += table(["variant", "folds", "test clips", "accuracy", "macro F1"], rows)
    if result["comparisons"]:
        body += paragraph(
            f"Each variant against <b>{esc(result['baseline'])}</b> on the same (fold, clip) "
            "pairs: accuracy difference with a 95 % bootstrap interval over clips, and the "
            "exact McNemar test (b: only the baseline right, c: only the variant right).")
        rows = [[esc(c.variant), num(str(c.pairs)), _interval_cell(c.difference),
                 num(str(c.baseline_only)), num(str(c.variant_only)), num(f"{c.pvalue:.3g}")]
                for c in result["comparisons"]]
        body += table(["variant", "pairs", "difference", "b", "c", "p"], rows)
    blocks = [page.chart(charts.confusion_chart(s.confusion, s.labels,
                                                f"{name} (pooled over folds)"))
              for name, s in summaries.items()]
    body += f"<div class=\"row\">{''.join(blocks)}</div>"
    return section("cv", "Cross-validation", body)
