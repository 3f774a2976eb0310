"""The CNN kind's implementation as generic code calls it (:class:`~genre_ensemble.members.base.
Predictor`): window images of a clip, the trained network's softmax on them.

Keras and TensorFlow load with the first network (in safe mode: no code from a model file
runs), with the kernels and threads training used.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genre_ensemble.core.errors import ModelsUnavailableError
from genre_ensemble.core.params import Member, Params
from genre_ensemble.core.quiet import native_stderr_to_log

logger = logging.getLogger(__name__)

# Smallest padded batch: each network sees only batches of SMALLEST_BATCH * 2**k windows (up
# to training.PREDICT_BATCH_SIZE), so it traces a handful of shapes, not one per input length.
SMALLEST_BATCH = 16


def padded_batch_size(windows: int, *, largest: int) -> int:
    """The batch a network is given for ``windows`` windows: the next power-of-two multiple of
    :data:`SMALLEST_BATCH`, at most ``largest``."""
    size = SMALLEST_BATCH
    while size < min(windows, largest):
        size *= 2
    return min(size, largest)


class CnnPredictor:
    """See the module docstring."""

    def check(self, params: Params, *, root: Path) -> None:
        from genre_ensemble.members.cnn.networks import ARCHITECTURES, OPTIMIZERS, SCHEDULES
        from genre_ensemble.members.cnn.representations import STYLES
        from genre_ensemble.members.cnn.runtime import CPU_KERNELS

        train = params.train
        for table, value in ((ARCHITECTURES, train.architecture), (OPTIMIZERS, train.optimizer),
                             (SCHEDULES, train.lr_schedule), (CPU_KERNELS, train.cpu_kernels),
                             (STYLES, params.images.style)):
            table.pick(value)

    def load(self, member: Member, path: Path, params: Params, *, root: Path) -> Any:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if "tensorflow" not in sys.modules:  # a fresh process: the kernels and threads of training
            from genre_ensemble.members.cnn.runtime import pin_cpu_kernels, set_threads

            pin_cpu_kernels(params.train.cpu_kernels)
            set_threads(params.train.threads)
        with native_stderr_to_log(logger):  # TensorFlow's start-up banner, no setting silences
            from genre_ensemble.members.cnn.training import load_model  # Keras and TensorFlow
        from genre_ensemble.members.cnn.representations import image_channels

        try:
            model = load_model(path)
        except Exception as error:  # corrupt file, or a layer safe mode refuses to deserialise
            raise ModelsUnavailableError(f"cannot load {path}: {error}") from error
        images = params.images
        expected = (images.height, images.width, image_channels(images.style))
        shape = tuple(model.input_shape[1:])
        if shape != expected:
            raise ModelsUnavailableError(
                f"{path} takes {shape} images but params.yaml's images settings give {expected}: "
                "run `dvc repro` to retrain it"
            )
        return model

    def prepare(self, clips: Sequence[np.ndarray], members: Sequence[Member], params: Params,
                *, root: Path) -> dict[str, list[np.ndarray]]:
        from genre_ensemble.core.parallel import call_with_thread_limit
        from genre_ensemble.members.cnn.images import ImageJob, signal_images

        job = ImageJob.from_params(params, names=[member.name for member in members])
        rows: dict[str, list[np.ndarray]] = {member.name: [] for member in members}
        for clip in clips:
            # as the images stage runs each clip (parallel_map): with one BLAS thread, so that
            # the images are the stage's to the last bit
            for name, windows in call_with_thread_limit(
                    lambda signal: signal_images(signal, job), clip).items():
                rows[name].append(np.stack(windows))
        return rows

    def probabilities(self, member: Member, model: Any, rows: np.ndarray, n_labels: int
                      ) -> np.ndarray:
        """Softmax of every window, ``(n_windows, n_labels)``, in batches of a few fixed sizes.

        ``model.predict`` sets up a new predict function per call and traces one per input
        length, which costs more than the network on a few files; ``predict_on_batch`` on
        batches zero-padded to :func:`padded_batch_size` traces each size once. A window's
        output does not depend on the other windows of its batch (inference: no batch
        statistics).
        """
        from genre_ensemble.members.cnn.training import PREDICT_BATCH_SIZE  # loaded with Keras

        if model.output_shape[-1] != n_labels:
            raise ModelsUnavailableError(
                f"the {member.name} network has {model.output_shape[-1]} outputs but the "
                f"ensemble has {n_labels} labels: run `dvc repro` to retrain it")
        parts = []
        for start in range(0, len(rows), PREDICT_BATCH_SIZE):
            batch = rows[start : start + PREDICT_BATCH_SIZE]
            size = padded_batch_size(len(batch), largest=PREDICT_BATCH_SIZE)
            padded = np.zeros((size, *batch.shape[1:]), dtype=batch.dtype)
            padded[: len(batch)] = batch
            parts.append(np.asarray(model.predict_on_batch(padded))[: len(batch)])
        return np.concatenate(parts)


PREDICTOR = CnnPredictor()
