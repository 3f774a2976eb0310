"""The ensemble against each of its own members, paired over the folds of a sweep.

    genre-ensemble sweep default real --folds 5 --set data.source=gtzan --set data.dir=DIR
    python -m bench.real_music default real --label mini   # in the repository of the sweeps

For every named variant (experiments ``<variant>-f<k>`` of ``genre-ensemble sweep``): each
model's mean test accuracy over the folds (the ensemble and every member, from the per-clip
outcomes ``metrics/test_clips.csv``), and the ensemble against each member on the same (fold,
clip) pairs: the accuracy difference with a paired bootstrap interval over clips and the exact
McNemar p-value; plus what ``ensemble.method: selected`` chose in each fold
(``metrics/ensemble.json``). The statistics are ``genre-ensemble compare``'s
(:mod:`genre_ensemble.experiments.stats`); the comparison between variants is
``genre-ensemble compare`` itself. Writes ``bench/results/real_music_<label>.json`` and
``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from bench.common import RESULTS, program, write_results
from genre_ensemble.evaluation.outcomes import ENSEMBLE
from genre_ensemble.experiments.compare import collect
from genre_ensemble.experiments.crossval import REPLICATE, group_variants, variant_prefix
from genre_ensemble.experiments.runs import read_at
from genre_ensemble.experiments.stats import (
    fold_scores,
    mcnemar_exact,
    paired_bootstrap_difference,
)

NOT_MODELS = (REPLICATE, "track", "genre")


def ensemble_against_members(outcomes: pd.DataFrame, *, resamples: int = 9999) -> dict:
    """Each model's fold-mean accuracy, and the ensemble minus each member, paired."""
    models = [c for c in outcomes.columns if c not in NOT_MODELS]
    accuracy = {m: float(fold_scores(outcomes, model=m)["accuracy"].mean()) for m in models}
    right = {m: (outcomes[m] == outcomes["genre"]).to_numpy() for m in models}
    against = {}
    for member in models:
        if member == ENSEMBLE:
            continue
        pairs = pd.DataFrame({"track": outcomes["track"].to_numpy(),
                              "baseline": right[member], "variant": right[ENSEMBLE]})
        difference = paired_bootstrap_difference(pairs, resamples=resamples)
        only_member, only_ensemble, pvalue = mcnemar_exact(right[member], right[ENSEMBLE])
        against[member] = {"difference": asdict(difference), "only_member": only_member,
                           "only_ensemble": only_ensemble, "pvalue": pvalue}
    return {"folds": int(outcomes[REPLICATE].nunique()), "clips": len(outcomes),
            "accuracy": accuracy, "ensemble_minus_member": against}


def selections(root: Path, experiments: list, variant: str) -> dict[str, object]:
    """What the ensemble stage recorded per fold: the chosen candidate, or the method."""
    chosen = {}
    for experiment in experiments:
        if variant_prefix(experiment.name) != variant:
            continue
        text = read_at(root, "metrics/ensemble.json", experiment.rev)
        record = json.loads(text) if text else {}
        selection = record.get("selection", {})
        chosen[experiment.name] = {"method": record.get("method"),
                                   "chosen": selection.get("chosen"),
                                   "weights": record.get("weights")}
    return dict(sorted(chosen.items()))


def markdown(label: str, results: dict) -> str:
    lines = [f"Corpus `{label}`: mean test accuracy over folds; ensemble minus member on the "
             "same (fold, clip) pairs, points [95 % bootstrap CI], exact McNemar p.", ""]
    for variant, result in results.items():
        scores = result["scores"]
        lines.append(f"`{variant}` ({scores['folds']} folds, {scores['clips']} clip outcomes), "
                     f"ensemble {scores['accuracy'][ENSEMBLE]:.1%}; chosen per fold: "
                     + ", ".join(str(s["chosen"] or s["method"])
                                 for s in result["selection"].values()))
        lines += ["", "| member | accuracy | ensemble minus member | McNemar p |",
                  "|---|---|---|---|"]
        for member, pair in scores["ensemble_minus_member"].items():
            d = pair["difference"]
            lines.append(f"| {member} | {scores['accuracy'][member]:.1%} | "
                         f"{d['value'] * 100:+.1f} [{d['low'] * 100:+.1f}, "
                         f"{d['high'] * 100:+.1f}] | {pair['pvalue']:.2g} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", metavar="VARIANT")
    parser.add_argument("--label", required=True,
                        help="names the results: bench/results/real_music_<label>.json")
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--all-commits", action="store_true",
                        help="also experiments based on other commits (as compare's option)")
    args = parser.parse_args()
    experiments = collect(args.repo, args.variants, all_commits=args.all_commits)
    grouped = group_variants(experiments)
    results = {}
    for variant in args.variants:
        if variant not in grouped:
            sys.exit(f"no finished sweep named {variant} (variants found: "
                     f"{', '.join(sorted(grouped))})")
        results[variant] = {"scores": ensemble_against_members(grouped[variant]),
                            "selection": selections(args.repo, experiments, variant)}
    text = markdown(args.label, results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"real_music_{args.label}.md").write_text(text)
    write_results(f"real_music_{args.label}", {"variants": results})
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
