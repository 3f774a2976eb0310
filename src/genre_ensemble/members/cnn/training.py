"""Train one CNN member on its images and predict its clips. Imports Keras."""

from __future__ import annotations

import json
import logging
import math
import re
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from genre_ensemble.core.fileio import write_with
from genre_ensemble.core.labels import label_index
from genre_ensemble.core.splits import PREDICTED, TRAIN, VALIDATION
from genre_ensemble.core.tables import clip_probabilities
from genre_ensemble.members.cnn.keras_private import tf_data_autotune_off
from genre_ensemble.members.cnn.kind import SpecAugmentParams, TrainParams
from genre_ensemble.members.cnn.networks import build_model

logger = logging.getLogger(__name__)

# Windows per forward pass when a trained member predicts (here and in its predictor).
PREDICT_BATCH_SIZE = 256


def spec_augment(
    batch: np.ndarray, rng: np.random.Generator, settings: SpecAugmentParams
) -> np.ndarray:
    """SpecAugment-style masking: zero random bands of rows (frequency) and columns (time).

    Parameters
    ----------
    batch : np.ndarray, shape (n, height, width, channels), uint8
    rng : np.random.Generator
        Draws every mask, so augmentation is reproducible from the training seed.

    Returns
    -------
    np.ndarray
        A masked copy; ``batch`` is left untouched.
    """
    out = batch.copy()
    height, width = batch.shape[1:3]
    for image in out:
        for _ in range(settings.freq_masks):
            size = int(rng.integers(0, max(1, int(settings.max_fraction * height)) + 1))
            start = int(rng.integers(0, height - size + 1))
            image[start : start + size, :, :] = 0
        for _ in range(settings.time_masks):
            size = int(rng.integers(0, max(1, int(settings.max_fraction * width)) + 1))
            start = int(rng.integers(0, width - size + 1))
            image[:, start : start + size, :] = 0
    return out


def windows_to_train_on(
    clips: np.ndarray, per_clip: int, rng: np.random.Generator
) -> np.ndarray:
    """Row numbers of at most ``per_clip`` windows of every clip, drawn at random.

    Parameters
    ----------
    clips : np.ndarray, shape (n_windows,), int
        The clip (any integer code) each window was cut from.
    per_clip : int
        Windows kept per clip; a clip with fewer keeps all of them.
    rng : np.random.Generator
        Draws which windows of a longer clip are kept.

    Returns
    -------
    np.ndarray, shape (n_kept,), int
        Ascending row numbers into ``clips``; ``n_kept`` is the same for every draw.
    """
    keys = rng.random(len(clips))
    by_clip = np.lexsort((keys, clips))  # each clip's windows together, in random order
    sorted_clips = clips[by_clip]
    starts = np.flatnonzero(np.r_[True, sorted_clips[1:] != sorted_clips[:-1]])
    lengths = np.diff(np.r_[starts, len(clips)])
    rank = np.arange(len(clips)) - np.repeat(starts, lengths)  # position within its clip
    return np.sort(by_clip[rank < per_clip])


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled, optionally masked mini-batches of uint8 images, reshuffled every epoch.

    With ``clips`` and ``windows_per_clip``, every epoch trains on at most that many windows
    of each clip, drawn afresh each epoch (params ``train.windows_per_clip``): an epoch of 30 s
    clips cut into 19 overlapping windows then costs what a few windows cost, and the draws
    spread over all windows (with 6 of 19 for 20 epochs, a given window is left out of every
    epoch with probability (13/19)**20, about 0.05 %). When no clip has more windows than
    that, the batches are exactly those without the cap.
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        *,
        batch_size: int,
        augment: SpecAugmentParams,
        seed: int,
        clips: np.ndarray | None = None,
        windows_per_clip: int = 0,
    ) -> None:
        super().__init__()
        self.images, self.targets, self.batch_size, self.augment = (
            images,
            targets,
            batch_size,
            augment,
        )
        self.clips = None
        if clips is not None and windows_per_clip:
            counts = np.unique(clips, return_counts=True)[1]
            if counts.max(initial=0) > windows_per_clip:
                self.clips, self.windows_per_clip = np.asarray(clips), windows_per_clip
                self.rows_per_epoch = int(np.minimum(counts, windows_per_clip).sum())
        self.rng = np.random.default_rng(seed)
        self.order = self._epoch_order()

    def _epoch_order(self) -> np.ndarray:
        if self.clips is None:
            return self.rng.permutation(len(self.images))
        kept = windows_to_train_on(self.clips, self.windows_per_clip, self.rng)
        return kept[self.rng.permutation(len(kept))]

    def __len__(self) -> int:
        rows = len(self.images) if self.clips is None else self.rows_per_epoch
        return math.ceil(rows / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[rows]
        if self.augment.time_masks or self.augment.freq_masks:
            batch = spec_augment(batch, self.rng, self.augment)
        return batch, self.targets[rows]

    def on_epoch_end(self) -> None:
        self.order = self._epoch_order()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TF's kernels deterministic."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train_member(
    images: np.ndarray,
    index: pd.DataFrame,
    settings: TrainParams,
    labels: Sequence[str],
    *,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
) -> tuple[keras.Model, pd.DataFrame]:
    """Train one member from scratch and predict its validation and test clips.

    Parameters
    ----------
    images : np.ndarray, shape (n_windows, height, width, channels), uint8
    index : pd.DataFrame
        One row per image: track, genre, split (train / val / test), window.
    settings : TrainParams
    labels : sequence of str
        The run's label set: the network's output ``j`` is ``labels[j]``.
    callbacks : list, optional
        Extra Keras callbacks (e.g. dvclive's logger).

    Returns
    -------
    model : keras.Model
        With the best validation weights when early stopping is on.
    predictions : pd.DataFrame
        Clip-level probabilities for the val and test clips (window softmax averaged per clip).
    """
    seed_everything(settings.seed)
    targets = index["genre"].map(label_index(labels)).to_numpy(dtype=np.int64)
    is_train = (index["split"] == TRAIN).to_numpy()
    is_val = (index["split"] == VALIDATION).to_numpy()
    if not is_train.any() or not is_val.any():
        raise ValueError("training needs images in both the train and val splits")
    batches = TrainingBatches(
        images[is_train],
        targets[is_train],
        batch_size=settings.batch_size,
        augment=settings.spec_augment,
        seed=settings.seed,
        clips=pd.factorize(index.loc[is_train, "track"])[0],
        windows_per_clip=settings.windows_per_clip,
    )
    model = build_model(images.shape[1:], len(labels), settings, steps_per_epoch=len(batches))
    all_callbacks = list(callbacks or [])
    if settings.early_stopping:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.early_stopping, restore_best_weights=True
            )
        )
    logger.info(
        "training %s on %d windows (%d val), %d epochs of %d batches%s",
        model.name,
        is_train.sum(),
        is_val.sum(),
        settings.epochs,
        len(batches),
        f" (at most {settings.windows_per_clip} windows per clip and epoch)"
        if batches.clips is not None
        else "",
    )
    with tf_data_autotune_off():
        model.fit(
            batches,
            validation_data=(images[is_val], targets[is_val]),
            epochs=settings.epochs,
            callbacks=all_callbacks,
            verbose=verbose,
        )
    keep = (index["split"].isin(PREDICTED)).to_numpy()
    probabilities = model.predict(images[keep], batch_size=PREDICT_BATCH_SIZE, verbose=0)
    predictions = clip_probabilities(index[keep].reset_index(drop=True), probabilities, labels)
    return model, predictions


def save_model(model: keras.Model, path: str | Path) -> None:
    """Save as ``.keras`` atomically, byte-identical for identical weights.

    Keras stamps each archive with its save time, Python object ids and file dates; those are
    replaced by fixed values so that retraining with the same seed reproduces the same file
    (and DVC sees no change).
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / path.name
        model.save(raw)
        write_with(path, lambda temp: canonical_keras_archive(raw, temp))


def canonical_keras_archive(source: Path, target: Path) -> None:
    """Copy a ``.keras`` zip with its volatile fields fixed.

    ``metadata.json``'s ``date_saved`` is dropped, the ``shared_object_id`` values in
    ``config.json`` (Python ``id()``s, different in every process) are renumbered in order of
    appearance, and every entry gets the same date. Loading is unaffected.
    """
    ids: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        number = ids.setdefault(match.group(1), str(len(ids) + 1))
        return f'"shared_object_id": {number}'

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata).encode()
            elif info.filename == "config.json":
                data = re.sub(r'"shared_object_id": (\d+)', renumber, data.decode()).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            copy.writestr(entry, data)


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` member in safe mode: no code from the file is executed."""
    return keras.models.load_model(path, safe_mode=True, compile=False)
