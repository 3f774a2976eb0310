"""``genre-ensemble report``: one offline HTML page that tells the story of runs.

The page (``reports/index.html`` by default) holds the metrics of the workspace and of every
revision named with ``--rev`` (git branch, tag, commit or DVC experiment), the params that differ
between them, confusion matrices, per-genre F1 of every member against the ensemble, training
curves and example clips with their images and predictions. Everything, the Vega libraries
included, is inlined: the file opens from disk with no network. Inputs that are absent (a fresh
clone has no DVC-cached data) are listed on the page with the command that makes them.

No TensorFlow here.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from genre_ensemble.core.fileio import write_text
from genre_ensemble.experiments.crossval import CrossValError
from genre_ensemble.report.page import CHART_MODES, render
from genre_ensemble.report.runs import ReportError, Run, load_rev, load_workspace

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("reports/index.html")
DEFAULT_EXAMPLES = 4


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` options to ``parser``."""
    parser.add_argument(
        "--rev", action="append", default=[], metavar="REV",
        help="a git branch, tag or commit, or a DVC experiment name, to compare with the "
             "workspace (repeat for several)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the page (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N",
                        help=f"example test clips to show with their images "
                             f"(default: {DEFAULT_EXAMPLES}; 0: none)")
    parser.add_argument("--cv", nargs="*", default=None, metavar="SWEEP",
                        help="add the cross-validation section: these sweeps (NAME selects "
                             "NAME-f0, NAME-f1, ...), or every finished experiment of HEAD "
                             "when none is named (see `genre-ensemble compare`)")
    parser.add_argument("--charts", choices=CHART_MODES, default="interactive",
                        help="interactive: drawn in the browser by the inlined Vega, with "
                             "tooltips (default); static: pre-drawn SVG, no JavaScript")


def collect_runs(root: Path, revs: list[str]) -> list[Run]:
    """The workspace run, then one run per revision (duplicates dropped)."""
    runs = [load_workspace(root)]
    for rev in dict.fromkeys(revs):
        runs.append(load_rev(root, rev))
    return runs


def cross_validation(root: Path, sweeps: list[str]) -> dict:
    """:func:`genre_ensemble.experiments.compare.compare` of the named sweeps (all finished ones
    if none)."""
    from genre_ensemble.experiments.compare import collect, compare
    from genre_ensemble.experiments.crossval import group_variants

    return compare(group_variants(collect(root, sweeps)))


def build_report(root: Path, revs: list[str], *, examples: int = DEFAULT_EXAMPLES,
                 charts: str = "interactive", sweeps: list[str] | None = None) -> str:
    """The report page of the repository at ``root`` as HTML text.

    ``sweeps``: cross-validation sweeps to add (``[]``: every finished one; None: no section).
    """
    runs = collect_runs(root, revs)
    cv = None if sweeps is None else cross_validation(root, sweeps)
    for run in runs:
        for missing in run.missing:
            logger.warning("%s: %s missing, so %s (%s)", missing.run, missing.what,
                           missing.effect, missing.fix)
    return render(runs, root=root, examples=examples, mode=charts, cv=cv)


def run(args: argparse.Namespace) -> int:
    """Write the report; 0 on success, 2 with one message when it cannot be made."""
    root = Path.cwd()
    if args.examples < 0:
        logger.error("--examples must be 0 or more, not %d", args.examples)
        return 2
    try:
        page = build_report(root, args.rev, examples=args.examples, charts=args.charts,
                            sweeps=args.cv)
    except (ReportError, CrossValError) as error:
        logger.error("%s", error)
        return 2
    output = args.output if args.output.is_absolute() else root / args.output
    write_text(output, page)
    logger.info("wrote %s (%.0f kB); open it in a browser, no network needed", output,
                len(page.encode()) / 1024)
    return 0
