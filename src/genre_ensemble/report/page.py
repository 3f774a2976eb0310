"""Assemble the report as one self-contained HTML page.

Charts are embedded one of two ways, neither of which loads anything from the network:

* ``interactive`` (default): each spec sits in a ``<script type="application/json">`` block and
  the Vega, Vega-Lite and Vega-Embed libraries, bundled by vl-convert, are inlined once; the
  browser draws SVG charts with tooltips.
* ``static``: vl-convert renders each chart to SVG now; the page holds no JavaScript at all.

Images are ``data:`` URIs. No TensorFlow here.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd

from genre_ensemble.genres import GENRES
from genre_ensemble.imagestore import window_png
from genre_ensemble.members import MEMBERS, REPRESENTATIONS
from genre_ensemble.paths import image_folder
from genre_ensemble.predictions import probability_matrix
from genre_ensemble.report import charts
from genre_ensemble.report.runs import ENSEMBLE, Missing, Run

logger = logging.getLogger(__name__)

CHART_MODES: tuple[str, ...] = ("interactive", "static")
# The page's skeleton and style sheet (string.Template placeholders), shipped in the package.
PAGE_TEMPLATE = "page.html"
# Section anchor -> its link in the navigation bar, in page order.
NAV_LABELS: dict[str, str] = {
    "missing": "Missing",
    "metrics": "Metrics",
    "cv": "Cross-validation",
    "params": "Params",
    "confusion": "Confusion",
    "per-genre": "Per genre",
    "training": "Training",
    "examples": "Examples",
    "skipped": "Skipped",
}

NOSCRIPT = ('<noscript><p class="notice">The charts are drawn by JavaScript, which is off here: '
            "turn it on, or make the page with <code>--charts static</code>.</p></noscript>")

RENDER_SCRIPT = """
(function () {
  var blocks = Array.prototype.slice.call(document.querySelectorAll("div.chart[data-spec]"));
  var jobs = blocks.map(function (element) {
    var spec = JSON.parse(document.getElementById(element.dataset.spec).textContent);
    return vegaEmbed(element, spec, {actions: false, renderer: "svg", mode: "vega-lite"})
      .catch(function (error) {
        element.textContent = "This chart could not be drawn: " + error;
        element.classList.add("failed");
        console.error("chart " + element.id + ": " + error);
        throw error;
      });
  });
  Promise.allSettled(jobs).then(function (results) {
    var ok = results.every(function (r) { return r.status === "fulfilled"; });
    document.body.dataset.charts = ok ? "rendered" : "failed";
  });
})();
"""



@dataclass
class Page:
    """Collects the charts of the page (and, in interactive mode, their specs)."""

    mode: str = "interactive"
    count: int = 0
    specs: list[str] = field(default_factory=list)

    def chart(self, spec: charts.Spec | None, *, empty: str = "") -> str:
        """HTML for one chart; ``empty`` is shown instead when there is no chart."""
        if spec is None:
            return paragraph(empty, "empty") if empty else ""
        self.count += 1
        name = f"chart-{self.count}"
        if self.mode == "static":
            return f'<div class="chart" id="{name}">{svg_of(spec)}</div>'
        self.specs.append(
            f'<script type="application/json" id="{name}-spec">{json_for_script(spec)}</script>'
        )
        return f'<div class="chart" id="{name}" data-spec="{name}-spec"></div>'


def json_for_script(payload: Any) -> str:
    """JSON that cannot end its ``<script>`` element early."""
    return json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")


def svg_of(spec: charts.Spec) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(spec)


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (vl-convert's bundle), safe to inline."""
    import vl_convert

    logger.info("bundling Vega %s, Vega-Embed %s", vl_convert.get_vega_version(),
                vl_convert.get_vega_embed_version())
    return vl_convert.javascript_bundle().replace("</script", "<\\/script")


# ---------------------------------------------------------------------------------------------
# Small HTML helpers


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def paragraph(text: str, css: str = "hint") -> str:
    return f'<p class="{css}">{text}</p>'


def table(headers: list[str], rows: list[list[str]], *, raw: bool = True) -> str:
    """A table. Body cells are HTML (a cell may be a whole ``<td ...>``); headers are HTML too,
    or plain text escaped here when ``raw`` is false."""
    head = "".join(f"<th>{h if raw else esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def num(text: str, css: str = "") -> str:
    return f'<td class="num {css}">{text}</td>'


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def card(label: str, value: str, detail: str = "") -> str:
    extra = f'<div class="detail">{detail}</div>' if detail else ""
    return (f'<div class="card"><div class="label">{esc(label)}</div>'
            f'<div class="value">{value}</div>{extra}</div>')


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


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
    members = [m for m in MEMBERS if any(m in r.members for r in scored)]
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


def flatten(params: Any, prefix: str = "") -> dict[str, str]:
    """``{"train.epochs": "30", ...}``; lists and scalars as compact JSON."""
    if isinstance(params, dict):
        flat: dict[str, str] = {}
        for key, value in params.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): json.dumps(params, default=str)}


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
            note = paragraph("No confusion data for this run (plots/confusion.csv and the "
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
    predicted = [GENRES[i] for i in probability_matrix(ensemble).argmax(axis=1)]
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
    return GENRES[best], float(probabilities[best])


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
    headers = ["clip", *[esc(rep) for rep in REPRESENTATIONS], "true genre",
               *[esc(m) for m in models]]
    rows = []
    for track in tracks:
        truth = str(run.predictions[ENSEMBLE].set_index("track").loc[track, "genre"])
        cells = [f"<code>{esc(track)}</code>"]
        for rep in REPRESENTATIONS:
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


# ---------------------------------------------------------------------------------------------
# The page


def _interval_cell(value: Any, *, percent: bool = True) -> str:
    """``84.2 % [80.1, 88.3]``; the interval is n/a for a single fold."""
    scale, digits, unit = (100, 1, " %") if percent else (1, 3, "")
    text = f"{value.value * scale:.{digits}f}{unit}"
    if value.low != value.low:  # NaN: one fold
        return num(f"{text} [n/a]")
    return num(f"{text} [{value.low * scale:.{digits}f}, {value.high * scale:.{digits}f}]")


def cv_section(page: Page, result: Mapping[str, Any] | None) -> str:
    """Variants of cross-validation sweeps (:func:`genre_ensemble.compare.compare`'s result):
    fold means with intervals, paired tests against the baseline, pooled confusion matrices."""
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
    blocks = [page.chart(charts.confusion_chart(s.confusion, f"{name} (pooled over folds)"))
              for name, s in summaries.items()]
    body += f"<div class=\"row\">{''.join(blocks)}</div>"
    return section("cv", "Cross-validation", body)


def render(runs: list[Run], *, root: Path, examples: int = 4, mode: str = "interactive",
           cv: Mapping[str, Any] | None = None) -> str:
    """The whole report as one HTML document.

    Parameters
    ----------
    runs : list of Run
        The workspace first, then each revision in the order asked for.
    root : Path
        Repository root (example images are read from its workspace).
    examples : int
        How many example clips to show.
    mode : {"interactive", "static"}
        How charts are embedded (see the module docstring).
    cv : mapping, optional
        Cross-validation sweeps compared by :func:`genre_ensemble.compare.compare`.
    """
    if mode not in CHART_MODES:
        raise ValueError(f"mode must be one of {CHART_MODES}, not {mode!r}")
    page = Page(mode=mode)
    workspace = runs[0]
    summary = next((r for r in runs if r.has_results), workspace)
    missing = [m for r in runs for m in r.missing]
    sections = {  # anchor -> HTML, "" when the section has nothing to show
        "missing": missing_section(missing),
        "metrics": metrics_section(page, runs),
        "cv": cv_section(page, cv),
        "params": params_section(runs),
        "confusion": confusion_section(page, runs),
        "per-genre": per_genre_section(page, runs),
        "training": training_section(page, runs),
        "examples": examples_section(workspace, root, examples) if workspace.has_results else "",
        "skipped": skipped_section(summary),
    }
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>' for anchor, label in NAV_LABELS.items()
        if sections[anchor]
    )
    scripts = ""
    if mode == "interactive" and page.count:
        scripts = ("".join(page.specs) + f"<script>{vega_bundle()}</script>"
                   f"<script>{RENDER_SCRIPT}</script>")
    return page_template().substitute(
        charts_state="pending" if scripts else "rendered",
        chart_count=page.count,
        compared=", ".join(esc(r.title) for r in runs),
        stamp=esc(datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        cards=header_cards(summary),
        nav=nav,
        noscript=NOSCRIPT if scripts else "",
        sections="".join(sections.values()),
        scripts=scripts,
    )


@lru_cache(maxsize=1)
def page_template() -> Template:
    """The page skeleton (:data:`PAGE_TEMPLATE`) read from the package."""
    return Template(files("genre_ensemble.report").joinpath(PAGE_TEMPLATE).read_text())
