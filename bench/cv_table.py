"""The README's results table from the cross-validation sweeps of ``bench/ablation.py cv``.

    python bench/cv_table.py            # in the repository whose experiments hold the sweeps

For every variant (experiments ``<variant>-f<k>``): folds, the ensemble's mean accuracy and
macro F1 over folds with 95 % t intervals, the paired difference against ``paper`` on the same
(fold, clip) pairs with its bootstrap interval and exact McNemar p-value, and each member's mean
accuracy; plus the seed spread of ``default`` on fold 0 (``default-f0`` and the
``default-seed<n>-f0`` experiments). All statistics come from ``genre-ensemble compare``'s
library (:mod:`genre_ensemble.compare`). Writes ``bench/results/cv.json`` and ``cv.md``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from _common import RESULTS, write_results

from genre_ensemble.compare import collect, compare, to_json
from genre_ensemble.crossval import ENSEMBLE, group_variants
from genre_ensemble.members import MEMBERS

ORDER = ("paper", "paper-clean", "paper-segments", "paper-deep", "paper-learned",
         "paper-features", "default")
SEED_VARIANT = re.compile(r"^default(-seed\d+)?$")


def _pct(interval: dict) -> str:
    low, value, high = (interval[key] * 100 for key in ("low", "value", "high"))
    return f"{value:.1f} % [{low:.1f}, {high:.1f}]" if low == low else f"{value:.1f} %"


def _signed(interval: dict) -> str:
    low, value, high = (interval[key] * 100 for key in ("low", "value", "high"))
    return f"{value:+.1f} [{low:+.1f}, {high:+.1f}]"


def main() -> None:
    root = Path.cwd()
    variants = group_variants(collect(root, []))
    table_variants = {name: variants[name] for name in ORDER if name in variants}
    ensemble = to_json(compare(table_variants, baseline="paper", model=ENSEMBLE))
    members = {
        member: to_json(compare(table_variants, baseline="paper", model=member))
        for member in MEMBERS
        if all(member in outcomes.columns for outcomes in table_variants.values())
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
            fold0 = outcomes[outcomes["replicate"] == "split.fold=0"]
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
