"""Stage `prepare`: list and check every clip, then split them into train / val / test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genre_ensemble.dataset import (
    MANIFEST_COLUMNS,
    SPLITS,
    build_manifest,
    list_clips,
    listed_split,
    read_track_list,
    stratified_split,
)
from genre_ensemble.fileio import write_csv, write_json
from genre_ensemble.fingerprint import (
    duplicate_report,
    find_duplicates,
    fingerprint_files,
    keep_together,
)
from genre_ensemble.params import Params
from genre_ensemble.stages._common import (
    DATA_METRICS,
    DUPLICATES_REPORT,
    MANIFEST,
    SKIPPED_REPORT,
    SPLIT_LISTS,
    SYNTHETIC_DIR,
    StageError,
    logger,
    run_stage,
)

# File names of the fault-filtered lists (data/splits/README.md) for each split.
FAULT_FILTERED_LISTS = {"train": "train", "val": "valid", "test": "test"}


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


def assign_splits(manifest: pd.DataFrame, params: Params) -> tuple[pd.Series, list[str]]:
    """The split column for ``split.method``, and the listed tracks that are missing."""
    settings = params.split
    if settings.method == "stratified":
        return (
            stratified_split(
                manifest,
                test_size=settings.test_size,
                val_size=settings.val_size,
                seed=settings.seed,
            ),
            [],
        )
    lists = {
        split: read_track_list(SPLIT_LISTS / f"fault_filtered_{name}.txt")
        for split, name in FAULT_FILTERED_LISTS.items()
    }
    split, missing = listed_split(manifest, lists)
    for track in missing:
        logger.warning("listed in the fault-filtered split but missing or unusable: %s", track)
    return split, missing


def audit_duplicates(manifest: pd.DataFrame, params: Params) -> tuple[pd.Series, pd.DataFrame]:
    """Fingerprint the usable clips; the split (duplicates kept together when
    ``split.duplicates`` is together) and the duplicate report with each clip's final split."""
    usable = manifest[manifest["status"] == "ok"]
    fingerprints = fingerprint_files(dict(zip(usable["track"], usable["path"], strict=True)),
                                     sample_rate=params.data.sample_rate,
                                     seconds=params.data.clip_seconds)
    pairs = find_duplicates(fingerprints, threshold=params.split.duplicate_threshold)
    split = manifest.set_index("track")["split"]
    if params.split.duplicates == "together":
        split = keep_together(split, pairs)
    report = duplicate_report(pairs, manifest.assign(split=manifest["track"].map(split)))
    return split, report


def prepare(params: Params) -> None:
    clips = list_clips(audio_root(params))
    logger.info("found %d clips", len(clips))
    manifest = build_manifest(clips)
    split, missing = assign_splits(manifest, params)
    manifest["split"] = split
    by_track, duplicates = audit_duplicates(manifest, params)
    moved = int((manifest["track"].map(by_track) != manifest["split"]).sum())
    manifest["split"] = manifest["track"].map(by_track)
    manifest = manifest[list(MANIFEST_COLUMNS)]
    counts = manifest["split"].value_counts()
    for name in SPLITS:
        if counts.get(name, 0) == 0:
            raise StageError(f"the {name} split is empty; check split.* in params.yaml")
    skipped = manifest[manifest["status"] != "ok"]
    summary = {
        "clips": int(len(manifest)),
        "usable": int((manifest["status"] == "ok").sum()),
        "skipped": int(len(skipped)),
        "unused": int(((manifest["status"] == "ok") & (manifest["split"] == "")).sum()),
        "missing_listed": len(missing),
        "duplicate_pairs": int(len(duplicates)),
        "cross_split_duplicates": int(duplicates["cross_split"].sum()),
        "duplicates_moved": moved,
        **{name: int(counts.get(name, 0)) for name in SPLITS},
    }
    write_csv(MANIFEST, manifest)
    write_csv(SKIPPED_REPORT, skipped[["track", "genre", "path", "reason"]])
    write_csv(DUPLICATES_REPORT, duplicates)
    write_json(DATA_METRICS, summary)
    logger.info("manifest: %s", summary)


def main() -> None:
    run_stage(prepare)


if __name__ == "__main__":
    main()
