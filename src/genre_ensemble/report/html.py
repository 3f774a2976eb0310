"""The report's HTML pieces: escaping, tables, cards, sections, and the charts of a page.

Charts are embedded one of two ways, neither of which loads anything from the network:

* ``interactive`` (default): each spec sits in a ``<script type="application/json">`` block and
  the Vega, Vega-Lite and Vega-Embed libraries, bundled by vl-convert, are inlined once; the
  browser draws SVG charts with tooltips.
* ``static``: vl-convert renders each chart to SVG now; the page holds no JavaScript at all.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from genre_ensemble.report import charts

logger = logging.getLogger(__name__)

CHART_MODES: tuple[str, ...] = ("interactive", "static")
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
