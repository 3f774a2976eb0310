"""Find the clips of a genre corpus, check each one, and split them into train/val/test."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split
from tqdm import tqdm

from genre_ensemble.audio import AUDIO_EXTENSIONS, decode, is_silent
from genre_ensemble.errors import AudioError, DatasetError
from genre_ensemble.genres import GENRES
from genre_ensemble.params import DataParams, SplitParams
from genre_ensemble.splits import CALIBRATION, SPLITS, VALIDATION

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
# GTZAN's own name for a clip: <genre>.000NN.<ext>; the stem is the track's identity.
TRACK_PATTERN = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")
# Folders a GTZAN copy is found under, in order: the original tarball and the Kaggle copy.
GENRE_ROOT_CANDIDATES: tuple[str, ...] = (
    ".",
    "genres",
    "genres_original",
    "Data/genres_original",
    "gtzan/genres",
    "GTZAN/genres",
)
# File names of the fault-filtered lists (data/splits/README.md) for each split.
FAULT_FILTERED_LISTS: dict[str, str] = {"train": "train", "val": "valid", "test": "test"}


def corpus_root(data: DataParams, *, synthetic_dir: str | Path) -> Path:
    """The corpus folder that ``data.source`` selects: the synthetic corpus or the GTZAN copy.

    Raises
    ------
    DatasetError
        If ``data.source`` is gtzan and ``data.gtzan_dir`` is not a folder.
    """
    if data.source == "synthetic":
        return Path(synthetic_dir)
    if not data.gtzan_dir.is_dir():
        raise DatasetError(
            f"params.yaml: data.gtzan_dir is {str(data.gtzan_dir)!r}, which is not a folder; "
            "point it at your GTZAN copy (see README, 'Real GTZAN')"
        )
    return data.gtzan_dir


def find_genre_root(root: str | Path) -> Path:
    """Return the folder whose sub-folders are the genres.

    Both GTZAN layouts are recognised without being told which: ``genres/<g>/<g>.000NN.au``
    (the original) and ``genres_original/<g>/<g>.000NN.wav`` (the common Kaggle copy, also under
    ``Data/``), as well as ``<root>/<g>/...`` directly (the synthetic corpus).

    Raises
    ------
    DatasetError
        If no candidate folder holds any genre folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder; point params.yaml at a genre corpus")
    for candidate in GENRE_ROOT_CANDIDATES:
        folder = root / candidate
        if folder.is_dir() and any((folder / genre).is_dir() for genre in GENRES):
            return folder.resolve() if candidate != "." else folder
    raise DatasetError(
        f"{root}: no genre folders found (looked for {', '.join(GENRES[:3])}, ... directly and "
        f"under {', '.join(GENRE_ROOT_CANDIDATES[1:])}); point params.yaml at a GTZAN copy"
    )


def list_clips(root: str | Path) -> pd.DataFrame:
    """List every audio file of a genre corpus.

    Parameters
    ----------
    root : str or Path
        A corpus folder in any layout accepted by :func:`find_genre_root`.

    Returns
    -------
    pd.DataFrame
        Columns ``track`` (file stem, e.g. ``jazz.00054``), ``genre``, ``path``; sorted by
        genre order then track. Non-audio files (by extension) are ignored.

    Raises
    ------
    DatasetError
        A genre folder is missing or empty, or a folder is named after no GTZAN genre.
    """
    genre_root = find_genre_root(root)
    unknown = sorted(
        entry.name
        for entry in genre_root.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in GENRES
    )
    if unknown:
        raise DatasetError(
            f"{genre_root / unknown[0]}: {unknown[0]!r} is not a GTZAN genre "
            f"({', '.join(GENRES)}); rename or remove that folder"
        )
    rows = []
    for genre in GENRES:
        folder = genre_root / genre
        if not folder.is_dir():
            raise DatasetError(f"{folder}: genre folder missing; every one of the 10 is needed")
        files = sorted(
            path
            for path in folder.iterdir()
            if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS
        )
        if not files:
            raise DatasetError(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
        rows += [{"track": path.stem, "genre": genre, "path": str(path)} for path in files]
    return pd.DataFrame(rows, columns=["track", "genre", "path"])


@dataclass(frozen=True)
class ClipCheck:
    status: str
    reason: str
    duration: float
    sample_rate: int
    channels: int


def check_clip(path: str | Path) -> ClipCheck:
    """Decode one file fully and report whether the pipeline can use it."""
    try:
        signal, sr = decode(path)
    except AudioError as error:
        return ClipCheck("skipped", str(error), 0.0, 0, 0)
    if is_silent(signal):
        return ClipCheck("skipped", "silent: every sample is zero", signal.size / sr, sr, 1)
    try:
        import soundfile

        channels = soundfile.info(str(path)).channels
    except Exception:  # decoded by the audioread fallback: channel count unknown to libsndfile
        channels = 0
    return ClipCheck("ok", "", round(signal.size / sr, 3), sr, channels)


def build_manifest(clips: pd.DataFrame, *, progress: bool = True) -> pd.DataFrame:
    """Check every clip; damaged ones stay in the manifest with ``status='skipped'`` and reason.

    Returns
    -------
    pd.DataFrame
        ``clips`` plus columns status, reason, duration (s), sample_rate (Hz), channels.
    """
    checks = []
    for path in tqdm(clips["path"], desc="check clips", unit="clip", disable=not progress):
        check = check_clip(path)
        if check.status != "ok":
            logger.warning("skipping %s: %s", path, check.reason)
        checks.append(check.__dict__)
    return pd.concat([clips.reset_index(drop=True), pd.DataFrame(checks)], axis=1)


def check_split_sizes(
    n_clips: int, n_genres: int, *, test_size: float, val_size: float, folds: int | None = None
) -> None:
    """Stop early when a stratified split would give some part fewer clips than genres.

    Parts are sized as scikit-learn's ``train_test_split`` sizes them (test, then validation,
    rounded up; train is the rest); with ``folds`` the test part is the largest fold. A part
    with fewer clips than genres cannot hold every genre, and scikit-learn would stop with a
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
        if count < n_genres:
            raise DatasetError(
                f"{key}: the split of {n_clips} usable clips in {n_genres} genres leaves "
                f"{count} {part} clips, fewer than one per genre; use more clips per genre "
                f"or change {key}"
            )


def stratified_split(
    manifest: pd.DataFrame, *, test_size: float, val_size: float, seed: int
) -> pd.Series:
    """The paper's protocol: a seeded, per-genre split of the usable clips.

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
    split.loc[train], split.loc[val], split.loc[test] = "train", "val", "test"
    return split


def kfold_split(
    manifest: pd.DataFrame, *, folds: int, fold: int, val_size: float, seed: int
) -> pd.Series:
    """Cross-validation: fold ``fold`` of a seeded, stratified ``folds``-fold partition is test.

    The usable clips are cut into ``folds`` parts with per-genre proportions kept
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
        A genre has fewer usable clips than ``folds`` (some fold would lack it).
    """
    if not 0 <= fold < folds:
        raise ValueError(f"fold {fold} is outside [0, {folds})")
    usable = manifest.index[manifest["status"] == "ok"]
    labels = manifest.loc[usable, "genre"]
    smallest = labels.value_counts()
    if smallest.min() < folds:
        raise DatasetError(
            f"split.folds is {folds} but genre {smallest.idxmin()!r} has only "
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
    split.loc[train], split.loc[val], split.loc[test] = "train", "val", "test"
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


def _method_split(
    manifest: pd.DataFrame, settings: SplitParams, *, lists_dir: str | Path
) -> tuple[pd.Series, list[str]]:
    """The split column for ``settings.method``, and the listed tracks that are missing.

    Parameters
    ----------
    manifest : pd.DataFrame
        From :func:`build_manifest`.
    settings : SplitParams
        params ``split``: ``stratified`` (:func:`stratified_split`), ``kfold``
        (:func:`kfold_split`) or ``fault_filtered`` (:func:`listed_split` on the lists
        ``fault_filtered_{train,valid,test}.txt``).
    lists_dir : str or Path
        Folder of the fault-filtered lists.

    Returns
    -------
    split : pd.Series of str, aligned with ``manifest``
    missing : list of str
        Listed tracks the corpus lacks (always empty for ``stratified``).
    """
    if settings.method == "stratified":
        split = stratified_split(
            manifest,
            test_size=settings.test_size,
            val_size=settings.val_size,
            seed=settings.seed,
        )
        return split, []
    if settings.method == "kfold":
        split = kfold_split(
            manifest,
            folds=settings.folds,
            fold=settings.fold,
            val_size=settings.val_size,
            seed=settings.seed,
        )
        return split, []
    lists = {
        split: read_track_list(Path(lists_dir) / f"fault_filtered_{name}.txt")
        for split, name in FAULT_FILTERED_LISTS.items()
    }
    split, missing = listed_split(manifest, lists)
    for track in missing:
        logger.warning("listed in the fault-filtered split but missing or unusable: %s", track)
    return split, missing


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


def assign_splits(
    manifest: pd.DataFrame, settings: SplitParams, *, lists_dir: str | Path
) -> tuple[pd.Series, list[str]]:
    """The split column for ``settings``, and the listed tracks that are missing.

    The split of ``settings.method`` (see :func:`_method_split`), then
    ``settings.calibration`` of its validation clips set aside (:func:`calibration_split`).
    """
    split, missing = _method_split(manifest, settings, lists_dir=lists_dir)
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


def skipped_clips(manifest: pd.DataFrame) -> pd.DataFrame:
    """The clips that cannot be used and why: track, genre, path, reason."""
    return manifest.loc[manifest["status"] != "ok", ["track", "genre", "path", "reason"]]
