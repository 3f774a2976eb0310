"""Stage `prepare`: list and check every clip, then split them into train / val / test."""

from __future__ import annotations

from genre_ensemble.dataset import (
    corpus_root,
    list_clips,
    skipped_clips,
    split_manifest,
    split_summary,
)
from genre_ensemble.fileio import write_csv, write_json
from genre_ensemble.fingerprint import audit_manifest, duplicate_summary
from genre_ensemble.params import Params
from genre_ensemble.paths import (
    DATA_METRICS,
    DUPLICATES_REPORT,
    MANIFEST,
    SKIPPED_REPORT,
    SPLIT_LISTS,
    SYNTHETIC_DIR,
)
from genre_ensemble.stages._common import logger, run_stage


def prepare(params: Params) -> None:
    clips = list_clips(corpus_root(params.data, synthetic_dir=SYNTHETIC_DIR))
    logger.info("found %d clips", len(clips))
    manifest, missing = split_manifest(clips, params.split, lists_dir=SPLIT_LISTS)
    manifest, duplicates, moved = audit_manifest(
        manifest,
        sample_rate=params.data.sample_rate,
        seconds=params.data.clip_seconds,
        threshold=params.split.duplicate_threshold,
        together=params.split.duplicates == "together",
        n_jobs=params.images.n_jobs,
        backend=params.images.backend,
    )
    summary = {**split_summary(manifest, missing), **duplicate_summary(duplicates, moved)}
    write_csv(MANIFEST, manifest)
    write_csv(SKIPPED_REPORT, skipped_clips(manifest))
    write_csv(DUPLICATES_REPORT, duplicates)
    write_json(DATA_METRICS, summary)
    logger.info("manifest: %s", summary)


def main() -> None:
    run_stage(prepare)


if __name__ == "__main__":
    main()
