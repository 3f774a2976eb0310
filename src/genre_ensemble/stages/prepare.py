"""Stage `prepare`: list and check every clip, then split them into train / val / test.

Writes the manifest (every clip, its checks and split) and the usable clips without their
split (what the pretrained members embed: a new split, e.g. the next cross-validation fold,
leaves that file and so their embeddings as they were)."""

from __future__ import annotations

from genre_ensemble.core.fileio import write_csv, write_json
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import (
    CLIPS,
    DATA_METRICS,
    DUPLICATES_REPORT,
    MANIFEST,
    SKIPPED_REPORT,
    SPLIT_LISTS,
    SYNTHETIC_DIR,
)
from genre_ensemble.corpus.discovery import corpus_clips
from genre_ensemble.corpus.duplicates import DUPLICATE_MODES, audit_manifest, duplicate_summary
from genre_ensemble.corpus.splitting import (
    skipped_clips,
    split_manifest,
    split_summary,
    usable_clips,
)
from genre_ensemble.stages._common import logger, run_stage


def prepare(params: Params) -> None:
    clips = corpus_clips(params.data, synthetic_dir=SYNTHETIC_DIR)
    logger.info("found %d clips of %d labels", len(clips), clips["genre"].nunique())
    manifest, missing = split_manifest(clips, params.split, lists_dir=SPLIT_LISTS)
    manifest, duplicates, moved = audit_manifest(
        manifest,
        sample_rate=params.data.sample_rate,
        seconds=params.data.clip_seconds,
        threshold=params.split.duplicate_threshold,
        together=DUPLICATE_MODES.pick(params.split.duplicates),
        n_jobs=params.parallel.n_jobs,
        backend=params.parallel.backend,
    )
    summary = {**split_summary(manifest, missing), **duplicate_summary(duplicates, moved)}
    write_csv(MANIFEST, manifest)
    write_csv(CLIPS, usable_clips(manifest))
    write_csv(SKIPPED_REPORT, skipped_clips(manifest))
    write_csv(DUPLICATES_REPORT, duplicates)
    write_json(DATA_METRICS, summary)
    logger.info("manifest: %s", summary)


def main() -> None:
    run_stage(prepare)


if __name__ == "__main__":
    main()
