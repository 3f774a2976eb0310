"""Assemble the report as one self-contained HTML page (see :mod:`.html` for how charts are
embedded; images are ``data:`` URIs). No TensorFlow here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from genre_ensemble.report import sections as parts
from genre_ensemble.report.html import (
    CHART_MODES,
    NOSCRIPT,
    RENDER_SCRIPT,
    Page,
    esc,
    vega_bundle,
)
from genre_ensemble.report.runs import Run

logger = logging.getLogger(__name__)

__all__ = ["CHART_MODES", "render"]

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
        Cross-validation sweeps compared by :func:`genre_ensemble.experiments.compare.compare`.
    """
    if mode not in CHART_MODES:
        raise ValueError(f"mode must be one of {CHART_MODES}, not {mode!r}")
    page = Page(mode=mode)
    workspace = runs[0]
    summary = next((r for r in runs if r.has_results), workspace)
    missing = [m for r in runs for m in r.missing]
    sections = {  # anchor -> HTML, "" when the section has nothing to show
        "missing": parts.missing_section(missing),
        "metrics": parts.metrics_section(page, runs),
        "cv": parts.cv_section(page, cv),
        "params": parts.params_section(runs),
        "confusion": parts.confusion_section(page, runs),
        "per-genre": parts.per_genre_section(page, runs),
        "training": parts.training_section(page, runs),
        "examples": (parts.examples_section(workspace, root, examples)
                     if workspace.has_results else ""),
        "skipped": parts.skipped_section(summary),
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
        cards=parts.header_cards(summary),
        nav=nav,
        noscript=NOSCRIPT if scripts else "",
        sections="".join(sections.values()),
        scripts=scripts,
    )


@lru_cache(maxsize=1)
def page_template() -> Template:
    """The page skeleton (:data:`PAGE_TEMPLATE`) read from the package."""
    return Template(files("genre_ensemble.report").joinpath(PAGE_TEMPLATE).read_text())
