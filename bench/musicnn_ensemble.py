"""The ensemble with and without a pretrained member (musicnn), paired over a finished sweep.

    python -m bench.musicnn_ensemble --repo SWEEP --variant default --label synthetic

SWEEP is a clone in which ``genre-ensemble sweep VARIANT --folds K`` ran (DVC experiments
``VARIANT-f0`` ... ``VARIANT-f<k-1>``; the variants are
:data:`genre_ensemble.experiments.sweeps.VARIANTS`) and whose workspace holds the clips the
manifests name (``dvc checkout corpus`` there for the synthetic corpus; a GTZAN copy stays where
it is). For every fold experiment it reads, from the experiment's commit and DVC cache, the
manifest and the members' prediction tables, then adds the pretrained member ``--member``
(default ``musicnn``) as its two stages, ``embed@<member>`` and ``fit_embeddings@<member>``,
would:

- every clip of the manifests embedded once (``pretrained.<member>.model`` and ``.layers`` of
  this repository's params.yaml, the clip decoded and cut with the experiment's ``data.*``),
  kept in ``.cache/bench/musicnn_ensemble/<label>.npz`` for reruns;
- per fold, the member's classifier (``pretrained.<member>.classifier`` and ``.seed``) fitted on
  that fold's train clips, its probabilities for every validation and test clip.

The ensemble is the weighted sum of the experiment's members with its own weights, and with the
pretrained member added at weight 1 (as ``ensemble.weights=[1,1,1,1,1]`` gives for the
default). Only that member differs between the two: the CNNs and the features member are the
sweep's, unchanged. The ensemble without it must reproduce every fold's recorded test
predictions (checked: the script stops if not). Test clips of all folds are pooled: mean
accuracy over folds with t intervals, exact McNemar and a paired bootstrap over clips
(:mod:`genre_ensemble.experiments.stats`), and the same for the pretrained member alone; the
same with and without on the validation clips, which is what a choice of members may look at.

Writes ``bench/results/musicnn_ensemble_<label>.json``; extraction seconds per clip included.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import REPO, program, table, write_results
from genre_ensemble.core.paths import MANIFEST, PARAMS_FILE, TEST_CLIPS, predictions_path
from genre_ensemble.core.splits import PREDICTED
from genre_ensemble.core.tables import clip_probabilities, label_columns, probability_matrix
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.evaluation.combine import combine
from genre_ensemble.experiments.crossval import REPLICATE, variant_prefix
from genre_ensemble.experiments.runs import Experiment, load_experiments
from genre_ensemble.experiments.stats import as_dict, compare_variants, summarize_variant
from genre_ensemble.members.classifier import fit_predict
from genre_ensemble.members.pretrained.embeddings import (
    ClipEmbeddings,
    classifier_table,
    embed_clip,
)
from genre_ensemble.members.pretrained.kind import PretrainedParams, pretrained_member
from genre_ensemble.members.pretrained.weights import check_wheel, weights_dir
from genre_ensemble.members.registry import load_params

logger = logging.getLogger("bench.musicnn_ensemble")
CACHE = REPO / ".cache" / "bench" / "musicnn_ensemble"
MEMBER = "musicnn"  # the pretrained member added, by default


def read_at(repo: Path, rev: str, path: Path) -> pd.DataFrame:
    """A CSV output of experiment ``rev`` (git-tracked or DVC-cached)."""
    import dvc.api

    return pd.read_csv(io.StringIO(dvc.api.read(str(path), repo=str(repo), rev=rev)),
                       keep_default_na=False)


def fold_experiments(repo: Path, variant: str) -> list[Experiment]:
    """The sweep's fold experiments of ``variant``, by fold."""
    found = [e for e in load_experiments(repo) if variant_prefix(e.name) == variant]
    if not found:
        raise SystemExit(f"no experiments {variant}-f<k> in {repo} "
                         f"(genre-ensemble sweep {variant} --folds K)")
    return sorted(found, key=lambda e: int(e.params["split.fold"]))


def embed_all(repo: Path, clips: pd.DataFrame, settings: PretrainedParams, *, sample_rate: int,
              clip_seconds: float, label: str) -> tuple[dict[str, np.ndarray], float]:
    """One embedding per track (cached on disk); the extraction CPU seconds per clip."""
    cache = CACHE / f"{label}.npz"
    key = f"{settings.model}|{'+'.join(settings.layers)}|{sample_rate}|{clip_seconds}"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as archive:
            if str(archive["key"]) == key and set(archive["tracks"]) >= set(clips["track"]):
                logger.info("embeddings from %s", cache)
                return dict(zip(archive["tracks"], archive["vectors"], strict=True)), float(
                    archive["cpu_per_clip"])
    weights = weights_dir(REPO)
    check_wheel(weights)
    vectors: dict[str, np.ndarray] = {}
    started = time.process_time()
    for number, clip in enumerate(clips.itertuples(index=False), start=1):
        path = Path(clip.path) if Path(clip.path).is_absolute() else repo / clip.path
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run `dvc checkout corpus` in {repo}")
        signal = load_clip(path, sample_rate=sample_rate, seconds=clip_seconds)
        vectors[clip.track] = embed_clip(signal, sample_rate=sample_rate, settings=settings,
                                         weights_dir=weights)
        if number % 50 == 0:
            logger.info("embedded %d / %d clips", number, len(clips))
    cpu_per_clip = (time.process_time() - started) / len(clips)
    CACHE.mkdir(parents=True, exist_ok=True)
    tracks = sorted(vectors)
    np.savez(cache, key=key, tracks=np.array(tracks), cpu_per_clip=cpu_per_clip,
             vectors=np.stack([vectors[t] for t in tracks]))
    return vectors, cpu_per_clip


def member_table(manifest: pd.DataFrame, vectors: dict[str, np.ndarray],
                 settings: PretrainedParams, labels: Sequence[str]) -> pd.DataFrame:
    """The member's val/calib/test predictions for one fold, as ``fit_embeddings@<member>``
    makes them, with a column per label of ``labels`` (the fold's other members' labels)."""
    used = manifest[manifest["split"] != ""].reset_index(drop=True)
    embeddings = ClipEmbeddings(keys=used[["track", "genre", "split"]].astype(str),
                                vectors=np.stack([vectors[t] for t in used["track"]]))
    frame = classifier_table(embeddings)
    _, probabilities = fit_predict(frame, settings.classifier, settings.seed, labels)
    keep = frame["split"].isin(PREDICTED).to_numpy()
    return clip_probabilities(frame[keep].reset_index(drop=True), probabilities[keep], labels)


def split_outcomes(combined: pd.DataFrame, fold: int, split: str = "test") -> pd.DataFrame:
    """(replicate, track, genre, predicted genre) of one fold's clips of ``split``."""
    test = combined[combined["split"] == split].reset_index(drop=True)
    predicted = np.asarray(label_columns(test))[probability_matrix(test).argmax(axis=1)]
    return pd.DataFrame({REPLICATE: fold, "track": test["track"], "genre": test["genre"],
                         "ensemble": predicted})


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="clone holding the sweep")
    parser.add_argument("--variant", default="default",
                        help="the sweep's variant (a name of `genre-ensemble sweep --list`; "
                             "default: default)")
    parser.add_argument("--member", default=MEMBER,
                        help=f"the pretrained member of params.yaml to add (default: {MEMBER})")
    parser.add_argument("--label", required=True, help="results name: musicnn_ensemble_LABEL")
    parser.add_argument("--resamples", type=int, default=9999)
    args = parser.parse_args()
    repo = args.repo.resolve()
    experiments = fold_experiments(repo, args.variant)
    manifests = {e.name: read_at(repo, e.rev, MANIFEST) for e in experiments}
    first = experiments[0].params
    clips = pd.concat(manifests.values()).query("split != ''").drop_duplicates("track")
    settings = pretrained_member(load_params(REPO / PARAMS_FILE), args.member).settings
    without, with_member = f"without-{args.member}", f"with-{args.member}"
    vectors, cpu_per_clip = embed_all(repo, clips, settings,
                                      sample_rate=int(first["data.sample_rate"]),
                                      clip_seconds=float(first["data.clip_seconds"]),
                                      label=args.label)
    outcomes: dict[str, list[pd.DataFrame]] = {without: [], with_member: [], args.member: []}
    validation: dict[str, list[pd.DataFrame]] = {without: [], with_member: []}
    for experiment in experiments:
        fold = int(experiment.params["split.fold"])
        members = list(experiment.params["ensemble.members"])
        weights = [float(w) for w in experiment.params["ensemble.weights"]]
        tables = {m: read_at(repo, experiment.rev, predictions_path(m)) for m in members}
        labels = label_columns(tables[members[0]])
        extra = member_table(manifests[experiment.name], vectors, settings, labels)
        ensemble_without = combine(tables, weights)
        ensemble_with = combine({**tables, args.member: extra}, [*weights, 1.0])
        fold_without = split_outcomes(ensemble_without, fold)
        recorded = read_at(repo, experiment.rev, TEST_CLIPS)
        check = fold_without.merge(recorded[["track", "ensemble"]], on="track",
                                   suffixes=("", "_run"))
        if len(check) != len(recorded) or not (check["ensemble"] == check["ensemble_run"]).all():
            raise SystemExit(f"{experiment.name}: the ensemble without {args.member} does not "
                             "reproduce the run's test predictions")
        outcomes[without].append(fold_without)
        outcomes[with_member].append(split_outcomes(ensemble_with, fold))
        outcomes[args.member].append(split_outcomes(extra, fold))
        # what a choice may look at: the validation clips (the CNNs early-stopped on them,
        # which favours the ensemble without the pretrained member)
        validation[without].append(split_outcomes(ensemble_without, fold, "val"))
        validation[with_member].append(split_outcomes(ensemble_with, fold, "val"))
        logger.info("%s: %s, %d test clips", experiment.name, "+".join(members),
                    len(fold_without))
    pooled = {name: pd.concat(parts, ignore_index=True) for name, parts in outcomes.items()}
    summaries = {name: summarize_variant(name, frame) for name, frame in pooled.items()}
    paired = {name: compare_variants(without, pooled[without], name, pooled[name],
                                     resamples=args.resamples)
              for name in (with_member, args.member)}
    val_pooled = {name: pd.concat(parts, ignore_index=True) for name, parts in validation.items()}
    val_summaries = {name: summarize_variant(name, frame) for name, frame in val_pooled.items()}
    val_paired = compare_variants(without, val_pooled[without], with_member,
                                  val_pooled[with_member], resamples=args.resamples)
    for name, summary in val_summaries.items():
        logger.info("validation, %s: %.1f %% (mean over folds)", name, 100 * summary.accuracy.value)
    rows = []
    for name, summary in summaries.items():
        comparison = paired.get(name)
        rows.append([name, summary.folds, f"{summary.accuracy.value:.1%}",
                     f"[{summary.accuracy.low:.1%}, {summary.accuracy.high:.1%}]",
                     f"{summary.f1.value:.3f}",
                     "" if comparison is None else f"{comparison.difference.value * 100:+.1f} "
                     f"[{comparison.difference.low * 100:+.1f}, "
                     f"{comparison.difference.high * 100:+.1f}]",
                     "" if comparison is None else f"{comparison.baseline_only}/"
                     f"{comparison.variant_only}",
                     "" if comparison is None else f"{comparison.pvalue:.2g}"])
    print(table(rows, ["model", "folds", "accuracy", "95 % CI", "macro F1",
                       f"vs {without} (points)", "b/c", "McNemar p"]))
    path = write_results(f"musicnn_ensemble_{args.label}", {
        "repo": str(repo),
        "variant": args.variant,
        "member": args.member,
        "experiments": {e.name: e.rev for e in experiments},
        "clips_embedded": len(vectors),
        "embedding_cpu_seconds_per_clip": round(cpu_per_clip, 3),
        "summaries": {name: as_dict(s) for name, s in summaries.items()},
        "paired_against_without": {name: as_dict(c) for name, c in paired.items()
                                   if c is not None},
        "validation": {"summaries": {name: as_dict(s) for name, s in val_summaries.items()},
                       "paired": None if val_paired is None else as_dict(val_paired)},
    })
    logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
