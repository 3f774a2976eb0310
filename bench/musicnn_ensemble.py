"""The ensemble with and without the pretrained musicnn member, paired over a finished sweep.

    python bench/musicnn_ensemble.py --repo SWEEP --variant default --label synthetic

SWEEP is a clone in which ``bench/ablation.py cv VARIANT`` ran (DVC experiments
``VARIANT-f0`` ... ``VARIANT-f<k-1>``) and whose workspace holds the clips the manifests name
(``dvc checkout corpus`` there for the synthetic corpus; a GTZAN copy stays where it is). For
every fold experiment it reads, from the experiment's commit and DVC cache, the manifest and
the members' prediction tables, then adds the musicnn member as its two stages would:

- every clip of the manifests embedded once (``musicnn.model`` and ``musicnn.layers`` of this
  repository's params.yaml, the clip decoded and cut with the experiment's ``data.*``), kept in
  ``.cache/bench/musicnn_ensemble/<label>.npz`` for reruns;
- per fold, the member's classifier (``musicnn.classifier``, ``musicnn.seed``) fitted on that
  fold's train clips, its probabilities for every validation and test clip.

The ensemble is the weighted sum of the experiment's members with its own weights, and with
musicnn added at weight 1 (as ``ensemble.weights=[1,1,1,1,1]`` gives for the default). Only
the musicnn member differs between the two: the CNNs and the features member are the sweep's,
unchanged. The ensemble without musicnn must reproduce every fold's recorded test predictions
(checked: the script stops if not). Test clips of all folds are pooled: mean accuracy over
folds with t intervals, exact McNemar and a paired bootstrap over clips
(:mod:`genre_ensemble.cvstats`), and the same for the musicnn member alone; the same with and
without on the validation clips, which is what a choice of members may look at.

Writes ``bench/results/musicnn_ensemble_<label>.json``; extraction seconds per clip included.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table, write_results  # noqa: E402

from genre_ensemble.audio import load_clip  # noqa: E402
from genre_ensemble.crossval import (  # noqa: E402
    REPLICATE,
    Experiment,
    load_experiments,
    variant_prefix,
)
from genre_ensemble.cvstats import as_dict, compare_variants, summarize_variant  # noqa: E402
from genre_ensemble.ensemble import combine  # noqa: E402
from genre_ensemble.features import fit_predict  # noqa: E402
from genre_ensemble.genres import GENRES  # noqa: E402
from genre_ensemble.members import MUSICNN_MEMBER  # noqa: E402
from genre_ensemble.musicnn_member import ClipEmbeddings, classifier_table, embed_clip  # noqa: E402
from genre_ensemble.musicnn_weights import check_wheel, weights_dir  # noqa: E402
from genre_ensemble.params import MusicnnParams, load_params  # noqa: E402
from genre_ensemble.paths import MANIFEST, PARAMS_FILE, TEST_CLIPS, predictions_path  # noqa: E402
from genre_ensemble.predictions import clip_probabilities, probability_matrix  # noqa: E402
from genre_ensemble.splits import PREDICTED  # noqa: E402

logger = logging.getLogger("musicnn_ensemble")
CACHE = REPO / ".cache" / "bench" / "musicnn_ensemble"
WITHOUT, WITH = "without-musicnn", "with-musicnn"


def read_at(repo: Path, rev: str, path: Path) -> pd.DataFrame:
    """A CSV output of experiment ``rev`` (git-tracked or DVC-cached)."""
    import dvc.api

    return pd.read_csv(io.StringIO(dvc.api.read(str(path), repo=str(repo), rev=rev)),
                       keep_default_na=False)


def fold_experiments(repo: Path, variant: str) -> list[Experiment]:
    """The sweep's fold experiments of ``variant``, by fold."""
    found = [e for e in load_experiments(repo) if variant_prefix(e.name) == variant]
    if not found:
        raise SystemExit(f"no experiments {variant}-f<k> in {repo} (bench/ablation.py cv)")
    return sorted(found, key=lambda e: int(e.params["split.fold"]))


def embed_all(repo: Path, clips: pd.DataFrame, settings: MusicnnParams, *, sample_rate: int,
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


def musicnn_table(manifest: pd.DataFrame, vectors: dict[str, np.ndarray],
                  settings: MusicnnParams) -> pd.DataFrame:
    """The member's val/calib/test predictions for one fold, as `fit_musicnn` makes them."""
    used = manifest[manifest["split"] != ""].reset_index(drop=True)
    embeddings = ClipEmbeddings(keys=used[["track", "genre", "split"]].astype(str),
                                vectors=np.stack([vectors[t] for t in used["track"]]))
    frame = classifier_table(embeddings)
    _, probabilities = fit_predict(frame, settings.classifier, settings.seed)
    keep = frame["split"].isin(PREDICTED).to_numpy()
    return clip_probabilities(frame[keep].reset_index(drop=True), probabilities[keep])


def split_outcomes(combined: pd.DataFrame, fold: int, split: str = "test") -> pd.DataFrame:
    """(replicate, track, genre, predicted genre) of one fold's clips of ``split``."""
    test = combined[combined["split"] == split].reset_index(drop=True)
    predicted = np.asarray(GENRES)[probability_matrix(test).argmax(axis=1)]
    return pd.DataFrame({REPLICATE: fold, "track": test["track"], "genre": test["genre"],
                         "ensemble": predicted})


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="clone holding the sweep")
    parser.add_argument("--variant", default="default", help="the sweep's variant (default)")
    parser.add_argument("--label", required=True, help="results name: musicnn_ensemble_LABEL")
    parser.add_argument("--resamples", type=int, default=9999)
    args = parser.parse_args()
    repo = args.repo.resolve()
    experiments = fold_experiments(repo, args.variant)
    manifests = {e.name: read_at(repo, e.rev, MANIFEST) for e in experiments}
    first = experiments[0].params
    clips = pd.concat(manifests.values()).query("split != ''").drop_duplicates("track")
    settings = load_params(REPO / PARAMS_FILE).musicnn
    vectors, cpu_per_clip = embed_all(repo, clips, settings,
                                      sample_rate=int(first["data.sample_rate"]),
                                      clip_seconds=float(first["data.clip_seconds"]),
                                      label=args.label)
    outcomes: dict[str, list[pd.DataFrame]] = {WITHOUT: [], WITH: [], MUSICNN_MEMBER: []}
    validation: dict[str, list[pd.DataFrame]] = {WITHOUT: [], WITH: []}
    for experiment in experiments:
        fold = int(experiment.params["split.fold"])
        members = list(experiment.params["ensemble.members"])
        weights = [float(w) for w in experiment.params["ensemble.weights"]]
        tables = {m: read_at(repo, experiment.rev, predictions_path(m)) for m in members}
        extra = musicnn_table(manifests[experiment.name], vectors, settings)
        ensemble_without = combine(tables, weights)
        ensemble_with = combine({**tables, MUSICNN_MEMBER: extra}, [*weights, 1.0])
        without = split_outcomes(ensemble_without, fold)
        recorded = read_at(repo, experiment.rev, TEST_CLIPS)
        check = without.merge(recorded[["track", "ensemble"]], on="track", suffixes=("", "_run"))
        if len(check) != len(recorded) or not (check["ensemble"] == check["ensemble_run"]).all():
            raise SystemExit(f"{experiment.name}: the ensemble without musicnn does not "
                             "reproduce the run's test predictions")
        outcomes[WITHOUT].append(without)
        outcomes[WITH].append(split_outcomes(ensemble_with, fold))
        outcomes[MUSICNN_MEMBER].append(split_outcomes(extra, fold))
        # what a choice may look at: the validation clips (the CNNs early-stopped on them,
        # which favours the ensemble without musicnn)
        validation[WITHOUT].append(split_outcomes(ensemble_without, fold, "val"))
        validation[WITH].append(split_outcomes(ensemble_with, fold, "val"))
        logger.info("%s: %s, %d test clips", experiment.name, "+".join(members), len(without))
    pooled = {name: pd.concat(parts, ignore_index=True) for name, parts in outcomes.items()}
    summaries = {name: summarize_variant(name, frame) for name, frame in pooled.items()}
    paired = {name: compare_variants(WITHOUT, pooled[WITHOUT], name, pooled[name],
                                     resamples=args.resamples)
              for name in (WITH, MUSICNN_MEMBER)}
    val_pooled = {name: pd.concat(parts, ignore_index=True) for name, parts in validation.items()}
    val_summaries = {name: summarize_variant(name, frame) for name, frame in val_pooled.items()}
    val_paired = compare_variants(WITHOUT, val_pooled[WITHOUT], WITH, val_pooled[WITH],
                                  resamples=args.resamples)
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
                       f"vs {WITHOUT} (points)", "b/c", "McNemar p"]))
    path = write_results(f"musicnn_ensemble_{args.label}", {
        "repo": str(repo),
        "variant": args.variant,
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
