"""The README's results table from the cross-validation sweeps of ``genre-ensemble sweep``.

    genre-ensemble sweep paper paper-clean ... default --folds 5   # the sweeps, first
    python -m bench.cv_table       # in the repository whose experiments hold the sweeps

For every variant of the paper's ladder that has run (:data:`ORDER`: paper mode, each
improvement alone and the default, as :data:`genre_ensemble.experiments.sweeps.VARIANTS` lists
them; experiments ``<variant>-f<k>``): folds, the ensemble's mean accuracy and macro F1 over
folds with 95 % t intervals, the paired difference against ``paper`` on the same (fold, clip)
pairs with its bootstrap interval and exact McNemar p-value, and each member's mean accuracy
(the members are the outcomes tables' columns that every variant has); plus the seed spread of
``default`` on fold 0 (``default-f0`` and the ``default-seed<n>-f0`` experiments). All
statistics come from ``genre-ensemble compare``'s library
(:mod:`genre_ensemble.experiments.compare`). Writes ``bench/results/cv.json`` and ``cv.md``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import RESULTS, program, write_results
from genre_ensemble.evaluation.outcomes import ENSEMBLE
from genre_ensemble.experiments.compare import collect, compare, to_json
from genre_ensemble.experiments.crossval import REPLICATE, group_variants
from genre_ensemble.experiments.sweeps import VARIANTS

# The table's rows: the paper's ladder (paper mode, each improvement alone, the default), in
# the order the sweeps list them; the other variants (opt-in members, kernels, clip length)
# are compared elsewhere.
ORDER = tuple(name for name in VARIANTS if name == "default" or name.startswith("paper"))
SEED_VARIANT = re.compile(r"^default(-seed\d+)?$")
# The outcomes columns that are not a model's prediction.
NOT_MODELS = (REPLICATE, "track", "genre")


def member_columns(variants: dict[str, pd.DataFrame]) -> list[str]:
    """The members every variant predicted: the outcomes columns other than the replicate,
    track, genre and ensemble, in the first variant's column order."""
    tables = list(variants.values())
    if not tables:
        return []
    return [column for column in tables[0].columns
            if column not in (*NOT_MODELS, ENSEMBLE)
            and all(column in outcomes.columns for outcomes in tables[1:])]


def _pct(interval: dict) -> str:
    low, value, high = (interval[key] * 100 for key in ("low", "value", "high"))
    return f"{value:.1f} % [{low:.1f}, {high:.1f}]" if low == low else f"{value:.1f} %"


def _signed(interval: dict) -> str:
    low, value, high = (interval[key] * 100 for key in ("low", "value", "high"))
    return f"{value:+.1f} [{low:+.1f}, {high:+.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd(),
                        help="the repository whose DVC experiments hold the sweeps "
                             "(default: the current folder)")
    root = parser.parse_args().repo
    variants = group_variants(collect(root, []))
    table_variants = {name: variants[name] for name in ORDER if name in variants}
    ensemble = to_json(compare(table_variants, baseline="paper", model=ENSEMBLE))
    members = {
        member: to_json(compare(table_variants, baseline="paper", model=member))
        for member in member_columns(table_variants)
    }
    paired = {item["variant"]: item for item in ensemble["comparisons"]}
    lines = [
        "| variant | folds | ensemble accuracy [95 % CI] | macro F1 | vs paper: difference "
        "[95 % CI], points | McNemar p | " + " | ".join(members) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(members),
    ]
    for name, summary in ensemble["variants"].items():
        pair = paired.get(name)
        cells = [f"`{name}`", str(summary["folds"]), _pct(summary["accuracy"]),
                 f"{summary['f1']['value']:.3f}",
                 _signed(pair["difference"]) if pair else "(baseline)",
                 f"{pair['pvalue']:.2g}" if pair else ""]
        cells += [f"{result['variants'][name]['accuracy']['value']:.1%}"
                  for result in members.values()]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = {}
    for name, outcomes in variants.items():
        if SEED_VARIANT.match(name):
            fold0 = outcomes[outcomes[REPLICATE] == "split.fold=0"]
            if len(fold0):
                seeds[name] = float((fold0[ENSEMBLE] == fold0["genre"]).mean())
    spread = None
    if len(seeds) > 1:
        values = np.array(list(seeds.values()))
        spread = {"runs": seeds, "mean": float(values.mean()), "std": float(values.std(ddof=1)),
                  "min": float(values.min()), "max": float(values.max())}
        lines += ["", f"Seed spread of `default` on fold 0 ({len(values)} train.seed values): "
                      f"accuracy {values.mean():.1%} mean, {values.std(ddof=1) * 100:.1f} points "
                      f"standard deviation, {values.min():.1%} to {values.max():.1%}."]
    markdown = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cv.md").write_text(markdown)
    write_results("cv", {"ensemble": ensemble, "members": members, "seed_spread": spread})
    sys.stdout.write(markdown)


if __name__ == "__main__":
    main()
