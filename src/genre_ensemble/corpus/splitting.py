"""Split the usable clips of a corpus into train / val (/ calib) / test: the manifest.

Every method (params ``split.method``, the table :data:`SPLIT_METHODS`) is stratified by
label, so that every part holds every label.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from genre_ensemble.core.errors import DatasetError
from genre_ensemble.core.params import Choices, SplitParams
from genre_ensemble.core.splits import CALIBRATION, SPLITS, TEST, TRAIN, VALIDATION
from genre_ensemble.corpus.checks import build_manifest

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS: tuple[str, ...] = (
    "track",
    "genre",
    "path",
    "status",
    "reason",
    "duration",
    "sample_rate",
    "channels",
    "split",
)
# File names of the fault-filtered lists (data/splits/README.md) for each split.
FAULT_FILTERED_LISTS: dict[str, str] = {TRAIN: "train", VALIDATION: "valid", TEST: "test"}


def check_split_sizes(
    n_clips: int, n_labels: int, *, test_size: float, val_size: float, folds: int | None = None
) -> None:
    """Stop early when a stratified split would give some part fewer clips than labels.

    Parts are sized as scikit-learn's ``train_test_split`` sizes them (test, then validation,
    rounded up; train is the rest); with ``folds`` the test part is the largest fold. A part
    with fewer clips than labels cannot hold every label, and scikit-learn would stop with a
    traceback half-way through the stage.

    Raises
    ------
    DatasetError
        Naming the params key to change.
    """
    test = math.ceil(n_clips / folds) if folds else math.ceil(test_size * n_clips)
    validation = math.ceil(val_size * (n_clips - test))
    parts = {
        "test": (test, "split.folds" if folds else "split.test_size"),
        "validation": (validation, "split.val_size"),
        "training": (n_clips - test - validation, "split.test_size and split.val_size"),
    }
    for part, (count, key) in parts.items():
        if count < n_labels:
            raise DatasetError(
                f"{key}: the split of {n_clips} usable clips in {n_labels} labels leaves "
                f"{count} {part} clips, fewer than one per label; use more clips per label "
                f"or change {key}"
            )


def stratified_split(
    manifest: pd.DataFrame, *, test_size: float, val_size: float, seed: int
) -> pd.Series:
    """The paper's protocol: a seeded, per-label split of the usable clips.

    ``test_size`` of all usable clips go to test; ``val_size`` of the rest to validation.

    Returns
    -------
    pd.Series of str, aligned with ``manifest``
        ``train``, ``val`` or ``test`` for usable clips, ``""`` for skipped ones.
    """
    usable = manifest.index[manifest["status"] == "ok"]
    labels = manifest.loc[usable, "genre"]
    check_split_sizes(len(usable), labels.nunique(), test_size=test_size, val_size=val_size)
    rest, test = train_test_split(usable, test_size=test_size, stratify=labels, random_state=seed)
    train, val = train_test_split(
        rest, test_size=val_size, stratify=labels.loc[rest], random_state=seed
    )
    split = pd.Series("", index=manifest.index, dtype=object)
    split.loc[train], split.loc[val], split.loc[test] = TRAIN, VALIDATION, TEST
    return split


def kfold_split(
    manifest: pd.DataFrame, *, folds: int, fold: int, val_size: float, seed: int
) -> pd.Series:
    """Cross-validation: fold ``fold`` of a seeded, stratified ``folds``-fold partition is test.

    The usable clips are cut into ``folds`` parts with per-label proportions kept
    (:class:`sklearn.model_selection.StratifiedKFold`, shuffled with ``seed``); part ``fold`` is
    the test set and ``val_size`` of the remaining clips go to validation, stratified, as in
    :func:`stratified_split`. Over ``fold = 0 .. folds - 1`` every usable clip is a test clip
    exactly once.

    Parameters
    ----------
    manifest : pd.DataFrame
        Columns ``genre`` and ``status`` at least; only ``status == "ok"`` rows are split.
    folds : int
        Number of folds, >= 2.
    fold : int
        The test fold, in ``[0, folds)``.
    val_size : float
        Fraction in (0, 1) of the non-test clips used for validation.
    seed : int
        Seed of the fold shuffle and of the validation draw.

    Returns
    -------
    pd.Series of str, aligned with ``manifest``
        ``train``, ``val`` or ``test`` for usable clips, ``""`` for skipped ones.

    Raises
    ------
    DatasetError
        A label has fewer usable clips than ``folds`` (some fold would lack it).
    """
    if not 0 <= fold < folds:
        raise ValueError(f"fold {fold} is outside [0, {folds})")
    usable = manifest.index[manifest["status"] == "ok"]
    labels = manifest.loc[usable, "genre"]
    smallest = labels.value_counts()
    if smallest.min() < folds:
        raise DatasetError(
            f"split.folds is {folds} but label {smallest.idxmin()!r} has only "
            f"{smallest.min()} usable clips; lower split.folds"
        )
    check_split_sizes(len(usable), labels.nunique(), test_size=0.0, val_size=val_size, folds=folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    rest_positions, test_positions = list(splitter.split(usable, labels))[fold]
    rest, test = usable[rest_positions], usable[test_positions]
    train, val = train_test_split(
        rest, test_size=val_size, stratify=labels.loc[rest], random_state=seed
    )
    split = pd.Series("", index=manifest.index, dtype=object)
    split.loc[train], split.loc[val], split.loc[test] = TRAIN, VALIDATION, TEST
    return split


def read_track_list(path: str | Path) -> list[str]:
    """Track stems of a split list (``<genre>/<genre>.000NN.au`` per line)."""
    lines = Path(path).read_text().split()
    return [Path(line).stem for line in lines if line.strip()]


def listed_split(
    manifest: pd.DataFrame, lists: dict[str, list[str]]
) -> tuple[pd.Series, list[str]]:
    """Assign splits from fixed track lists (e.g. the fault-filtered GTZAN partition).

    Tracks are matched by stem, so ``genres/<g>/<g>.000NN.au`` and
    ``genres_original/<g>/<g>.000NN.wav`` map onto the same entry.

    Parameters
    ----------
    manifest : pd.DataFrame
    lists : dict
        ``{"train": [...], "val": [...], "test": [...]}`` of track stems.

    Returns
    -------
    split : pd.Series of str
        The split of each listed, usable clip; ``""`` for skipped or unlisted ones.
    missing : list of str
        Listed tracks that the corpus lacks or could not decode, sorted.
    """
    where = {track: name for name, tracks in lists.items() for track in tracks}
    usable = manifest["status"] == "ok"
    split = manifest["track"].map(where).fillna("").where(usable, "")
    present = set(manifest.loc[usable, "track"])
    missing = sorted(track for track in where if track not in present)
    return split.astype(object), missing


def _stratified(manifest: pd.DataFrame, settings: SplitParams, lists_dir: Path
                ) -> tuple[pd.Series, list[str]]:
    split = stratified_split(manifest, test_size=settings.test_size,
                             val_size=settings.val_size, seed=settings.seed)
    return split, []


def _kfold(manifest: pd.DataFrame, settings: SplitParams, lists_dir: Path
           ) -> tuple[pd.Series, list[str]]:
    split = kfold_split(manifest, folds=settings.folds, fold=settings.fold,
                        val_size=settings.val_size, seed=settings.seed)
    return split, []


def fault_filtered_lists(lists_dir: str | Path) -> dict[str, Path]:
    """The files of the fault-filtered GTZAN split, per split name."""
    return {split: Path(lists_dir) / f"fault_filtered_{name}.txt"
            for split, name in FAULT_FILTERED_LISTS.items()}


def _fault_filtered(manifest: pd.DataFrame, settings: SplitParams, lists_dir: Path
                    ) -> tuple[pd.Series, list[str]]:
    lists = {split: read_track_list(path)
             for split, path in fault_filtered_lists(lists_dir).items()}
    split, missing = listed_split(manifest, lists)
    for track in missing:
        logger.warning("listed in the fault-filtered split but missing or unusable: %s", track)
    return split, missing


# params split.method -> (manifest, settings, folder of the fault-filtered lists) -> the split
# column and the listed tracks that are missing
SplitMethod = Callable[[pd.DataFrame, SplitParams, Path], tuple[pd.Series, list[str]]]
SPLIT_METHODS: Choices[SplitMethod] = Choices("split.method", {
    "stratified": _stratified,        # seeded, per label: the paper's protocol
    "fault_filtered": _fault_filtered,  # Kereliuk, Sturm & Larsen's GTZAN lists
    "kfold": _kfold,                  # stratified cross-validation, fold split.fold is test
})
# methods that read fixed track lists, so only a corpus with GTZAN's track names can use them
LISTED_METHODS: frozenset[str] = frozenset({"fault_filtered"})


def calibration_split(
    manifest: pd.DataFrame, split: pd.Series, *, fraction: float, seed: int
) -> pd.Series:
    """Move ``fraction`` of the validation clips, per genre where possible, to ``calib``.

    Calibration clips play no part in training a member or in choosing its epoch (early
    stopping watches validation only), so ensemble weights fitted on their predictions are not
    biased towards the members that early-stopped on validation.

    Returns
    -------
    pd.Series of str
        ``split`` with some ``val`` replaced by ``calib`` (unchanged when ``fraction`` is 0).
    """
    validation = split.index[split == VALIDATION]
    if fraction == 0 or len(validation) < 2:
        return split
    genres = manifest.loc[validation, "genre"]
    stratify = genres if genres.value_counts().min() >= 2 else None
    _, held_out = train_test_split(
        validation, test_size=fraction, stratify=stratify, random_state=seed
    )
    result = split.copy()
    result.loc[held_out] = CALIBRATION
    return result


# Usable clips every label needs for a stratified split: one each for training, validation and
# test (a k-fold split needs one per fold).
MIN_CLIPS_PER_LABEL = 3


def check_label_sizes(manifest: pd.DataFrame, settings: SplitParams) -> None:
    """Every label has the usable clips ``settings.method`` needs to give it a clip in every
    part (listed splits take what their lists say).

    Raises
    ------
    DatasetError
        Naming the label's folder (the folder its clips share) and the count.
    """
    if settings.method in LISTED_METHODS:
        return
    need = settings.folds if settings.method == "kfold" else MIN_CLIPS_PER_LABEL
    for label, clips in manifest.groupby("genre", sort=True):
        usable = int((clips["status"] == "ok").sum())
        if usable < need:
            folder = os.path.commonpath([str(Path(path).parent) for path in clips["path"]])
            what = (f"{need} folds" if settings.method == "kfold"
                    else "one each for training, validation and test")
            raise DatasetError(
                f"{folder}: label {label!r} has {usable} usable clip{'s' * (usable != 1)}, "
                f"fewer than the {need} the split needs ({what}); add clips to it or remove it"
            )


def assign_splits(
    manifest: pd.DataFrame, settings: SplitParams, *, lists_dir: str | Path
) -> tuple[pd.Series, list[str]]:
    """The split column for ``settings``, and the listed tracks that are missing.

    The split of ``settings.method`` (:data:`SPLIT_METHODS`), then ``settings.calibration``
    of its validation clips set aside (:func:`calibration_split`).
    """
    method = SPLIT_METHODS.pick(settings.method)
    split, missing = method(manifest, settings, Path(lists_dir))
    split = calibration_split(
        manifest, split, fraction=settings.calibration, seed=settings.seed
    )
    return split, missing


def split_manifest(
    clips: pd.DataFrame, settings: SplitParams, *, lists_dir: str | Path
) -> tuple[pd.DataFrame, list[str]]:
    """Check every clip and split the usable ones: the manifest the other stages read.

    Returns
    -------
    manifest : pd.DataFrame
        :data:`MANIFEST_COLUMNS`, one row per clip; ``split`` is ``""`` for unused clips.
    missing : list of str
        See :func:`assign_splits`.

    Raises
    ------
    DatasetError
        If a split comes out empty.
    """
    manifest = build_manifest(clips)
    check_label_sizes(manifest, settings)
    manifest["split"], missing = assign_splits(manifest, settings, lists_dir=lists_dir)
    manifest = manifest[list(MANIFEST_COLUMNS)]
    counts = manifest["split"].value_counts()
    for name in SPLITS:
        if counts.get(name, 0) == 0:
            raise DatasetError(f"the {name} split is empty; check split.* in params.yaml")
    return manifest, missing


def split_summary(manifest: pd.DataFrame, missing: list[str]) -> dict[str, int]:
    """Counts of a split manifest: clips, usable, skipped, unused, missing_listed and each split.

    Returns
    -------
    dict
        The ``metrics/data.json`` record, in that key order.
    """
    usable = manifest["status"] == "ok"
    counts = manifest["split"].value_counts()
    return {
        "clips": int(len(manifest)),
        "usable": int(usable.sum()),
        "skipped": int((~usable).sum()),
        "unused": int((usable & (manifest["split"] == "")).sum()),
        "missing_listed": len(missing),
        **{name: int(counts.get(name, 0)) for name in (*SPLITS, CALIBRATION)},
    }


def usable_clips(manifest: pd.DataFrame) -> pd.DataFrame:
    """The clips of a manifest that have a split, without it (sorted by track): the same for
    every split of the same corpus, e.g. every fold of a cross-validation."""
    used = manifest[manifest["split"] != ""].drop(columns=["split"])
    return used.sort_values("track").reset_index(drop=True)


def skipped_clips(manifest: pd.DataFrame) -> pd.DataFrame:
    """The clips that cannot be used and why: track, genre, path, reason."""
    return manifest.loc[manifest["status"] != "ok", ["track", "genre", "path", "reason"]]
