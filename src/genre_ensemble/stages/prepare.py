"""Stage `prepare`: list and check every clip, then split them into train / val / test."""

from __future__ import annotations

from pathlib import Path

from genre_ensemble.dataset import list_clips, skipped_clips, split_manifest, split_summary
from genre_ensemble.fileio import write_csv, write_json
from genre_ensemble.params import Params
from genre_ensemble.paths import (
    DATA_METRICS,
    MANIFEST,
    SKIPPED_REPORT,
    SPLIT_LISTS,
    SYNTHETIC_DIR,
)
from genre_ensemble.stages._common import StageError, logger, run_stage


def audio_root(params: Params) -> Path:
    """The corpus folder selected by ``data.source``."""
    if params.data.source == "synthetic":
        return SYNTHETIC_DIR
    if not params.data.gtzan_dir.is_dir():
        raise StageError(
            f"params.yaml: data.gtzan_dir is {str(params.data.gtzan_dir)!r}, which is not a "
            "folder; point it at your GTZAN copy (see README, 'Real GTZAN')"
        )
    return params.data.gtzan_dir


def prepare(params: Params) -> None:
    clips = list_clips(audio_root(params))
    logger.info("found %d clips", len(clips))
    manifest, missing = split_manifest(clips, params.split, lists_dir=SPLIT_LISTS)
    summary = split_summary(manifest, missing)
    write_csv(MANIFEST, manifest)
    write_csv(SKIPPED_REPORT, skipped_clips(manifest))
    write_json(DATA_METRICS, summary)
    logger.info("manifest: %s", summary)


def main() -> None:
    run_stage(prepare)


if __name__ == "__main__":
    main()
