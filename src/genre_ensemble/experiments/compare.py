"""``genre-ensemble compare``: cross-validation sweeps side by side, with paired statistics.

Collects the finished DVC experiments and their per-clip test outcomes
(:mod:`genre_ensemble.experiments.runs`), groups them into variants (experiments whose params
differ only in ``split.fold``, and in the ``--over`` keys), and prints per variant the mean
accuracy and macro F1 over folds with 95 % t intervals, and for every variant against the
baseline the paired accuracy difference on the same clips with a clip-level bootstrap interval
and the exact McNemar test. Progress goes to the log (stderr), the table to stdout.

No TensorFlow here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from genre_ensemble.evaluation.outcomes import ENSEMBLE
from genre_ensemble.experiments.crossval import (
    CrossValError,
    group_variants,
    select_experiments,
    variant_prefix,
)
from genre_ensemble.experiments.intervals import format_interval
from genre_ensemble.experiments.runs import (
    Experiment,
    RunsError,
    load_experiments,
    load_revision,
)

if TYPE_CHECKING:  # the statistics (scipy, statsmodels) load only when a comparison runs, so
    # that building the `genre-ensemble` parser stays fast for the other sub-commands
    from genre_ensemble.experiments.stats import PairedComparison, VariantSummary

logger = logging.getLogger(__name__)

PREFERRED_BASELINE = "paper"
DEFAULT_RESAMPLES = 9999
EXIT_OK, EXIT_ERROR = 0, 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` arguments (imports nothing heavy)."""
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help="sweeps (NAME selects NAME-f0, NAME-f1, ...), experiment names, commits or git "
             "revisions to compare (default: every finished experiment of HEAD)",
    )
    parser.add_argument("--baseline", metavar="VARIANT", default=None,
                        help=f"the variant the others are compared with (default: "
                             f"{PREFERRED_BASELINE!r} if present, else the first by name)")
    parser.add_argument("--over", action="append", default=[], metavar="KEY",
                        help="a param whose values are replicates, not variants, e.g. "
                             "train.seed (repeatable); split.fold always is")
    parser.add_argument("--model", default=ENSEMBLE, metavar="MODEL",
                        help="ensemble (default) or a member's name (its column in "
                             "metrics/test_clips.csv)")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, metavar="N",
                        help=f"paired bootstrap resamples (default: {DEFAULT_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--all-commits", action="store_true",
                        help="also experiments based on other commits (dvc exp show -A)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of the tables")


def choose_baseline(names: Sequence[str], requested: str | None) -> str:
    """``requested`` if it is a variant, else ``paper`` if present, else the first name.

    Raises
    ------
    CrossValError
        When ``requested`` names no variant.
    """
    if requested is not None:
        if requested not in names:
            raise CrossValError(f"--baseline {requested}: no such variant; "
                                f"choose one of: {', '.join(names)}")
        return requested
    return PREFERRED_BASELINE if PREFERRED_BASELINE in names else names[0]


def compare(
    variants: Mapping[str, pd.DataFrame],
    *,
    baseline: str | None = None,
    model: str = ENSEMBLE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Summaries of every variant and paired comparisons of each with the baseline.

    Parameters
    ----------
    variants : mapping of str to pd.DataFrame
        Variant name -> long outcomes table, as from
        :func:`genre_ensemble.experiments.crossval.group_variants`.
    baseline : str or None
        See :func:`choose_baseline`.
    model : str
        The outcomes column compared: ``ensemble`` or a member.
    resamples, seed : int
        Of the paired bootstrap.

    Returns
    -------
    dict
        ``baseline`` (name), ``model``, ``variants`` (name -> :class:`VariantSummary`, sorted by
        name), ``comparisons`` (list of :class:`PairedComparison`; variants sharing no
        (fold, clip) with the baseline are listed in ``unpaired`` instead).
    """
    from genre_ensemble.experiments.stats import compare_variants, summarize_variant

    if not variants:
        raise CrossValError("no finished experiments with per-clip outcomes to compare; run a "
                            "sweep first (genre-ensemble sweep NAME --folds 5)")
    names = sorted(variants)
    missing = [name for name in names if model not in variants[name].columns]
    if missing:
        raise CrossValError(f"--model {model}: not predicted in {', '.join(missing)}")
    base = choose_baseline(names, baseline)
    summaries = {name: summarize_variant(name, variants[name], model=model) for name in names}
    comparisons, unpaired = [], []
    for name in names:
        if name == base:
            continue
        logger.info("pairing %s with %s", name, base)
        result = compare_variants(base, variants[base], name, variants[name], model=model,
                                  resamples=resamples, seed=seed)
        if result is None:
            unpaired.append(name)
        else:
            comparisons.append(result)
    for name in unpaired:
        logger.warning("%s shares no (fold, clip) with %s: not compared (run it on the same "
                       "folds: same split.seed and split.folds)", name, base)
    return {"baseline": base, "model": model, "variants": summaries,
            "comparisons": comparisons, "unpaired": unpaired}


def format_tables(result: Mapping[str, Any]) -> str:
    """The plain-text tables of :func:`compare`'s result."""
    summaries: dict[str, VariantSummary] = result["variants"]
    width = max(len("variant"), *(len(name) for name in summaries)) + 2
    lines = [f"{result['model']}: mean over folds [95 % t interval]", "",
             f"{'variant':<{width}}{'folds':>6}  {'accuracy':<26}{'macro F1':<26}"]
    for name, summary in summaries.items():
        lines.append(f"{name:<{width}}{summary.folds:>6}  {format_interval(summary.accuracy):<26}"
                     f"{format_interval(summary.f1, percent=False)}")
    comparisons: list[PairedComparison] = result["comparisons"]
    if comparisons:
        lines += ["", f"paired on the same (fold, clip) against {result['baseline']}: accuracy "
                      f"difference [95 % bootstrap over clips], McNemar exact", "",
                  f"{'variant':<{width}}{'pairs':>6}  {'difference':<26}"
                  f"{'b (base only)':>14}{'c (variant only)':>18}{'p':>10}"]
        for item in comparisons:
            difference = format_interval(item.difference, signed=True)
            lines.append(f"{item.variant:<{width}}{item.pairs:>6}  "
                         f"{difference:<26}{item.baseline_only:>14}"
                         f"{item.variant_only:>18}{item.pvalue:>10.3g}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def to_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`compare`'s result as a JSON-ready dict."""
    from genre_ensemble.experiments.stats import as_dict

    return {
        "baseline": result["baseline"],
        "model": result["model"],
        "variants": {name: as_dict(item) for name, item in result["variants"].items()},
        "comparisons": [as_dict(item) for item in result["comparisons"]],
        "unpaired": list(result["unpaired"]),
    }


def collect(root: Path, names: Sequence[str], *, all_commits: bool = False) -> list[Experiment]:
    """The experiments the command line selects: DVC experiments, then plain git revisions."""
    experiments = load_experiments(root, all_commits=all_commits)
    known = {e.name for e in experiments} | {variant_prefix(e.name) for e in experiments}
    for name in names:
        if name not in known and not any(e.rev.startswith(name) for e in experiments):
            revision = load_revision(root, name)
            if revision is not None:
                experiments.append(revision)
    return select_experiments(experiments, names)


def run(args: argparse.Namespace) -> int:
    """The ``compare`` command; 0 on success, 2 with one message when it cannot compare."""
    try:
        experiments = collect(Path.cwd(), args.names, all_commits=args.all_commits)
        variants = group_variants(experiments, over=args.over)
        for name, outcomes in variants.items():
            logger.info("variant %s: %d replicates", name, outcomes["replicate"].nunique())
        result = compare(variants, baseline=args.baseline, model=args.model,
                         resamples=args.resamples, seed=args.seed)
    except (CrossValError, RunsError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_ERROR
    if args.json:
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(format_tables(result))
    return EXIT_OK
