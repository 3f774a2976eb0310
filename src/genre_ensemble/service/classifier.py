"""Classify one uploaded file with the members loaded once, exactly as ``predict`` does.

The work is :func:`genre_ensemble.inference.classify.prepare_file` (decoding, every member's
inputs: what ``predict``'s workers run) then :func:`genre_ensemble.inference.classify.
predict_batch` (the members and the soft vote: what ``predict`` runs on each batch), so a file
gets the probabilities
``predict`` gives it. Around them, the service's own checks: the header's length against the
duration limit before anything is decoded, truncation, and a status for every refusal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from pathlib import Path

from genre_ensemble.core.params import Member, Params
from genre_ensemble.inference.classify import (
    NOT_AUDIO,
    FileNotClassifiedError,
    Prediction,
    predict_batch,
    prepare_file,
)
from genre_ensemble.inference.loading import LoadedMembers
from genre_ensemble.inference.timeline import format_time
from genre_ensemble.service.probe import probe_audio, truncation

logger = logging.getLogger(__name__)

FORMATS_READ = "wav, flac, ogg, mp3, aiff or au"


def _malloc_trim() -> object | None:
    """glibc's ``malloc_trim``, or None off glibc."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim(0)``; a no-op
    elsewhere): a file's decoded audio and images are freed after each request, but glibc
    keeps freed memory in its arenas, so the server's RSS would stay at its largest request's
    level. TensorFlow's own allocator pool is not affected."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class ClassifyError(Exception):
    """The file cannot be classified; ``status`` is the HTTP status, the message one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def too_long(seconds: float, limit: float) -> ClassifyError:
    return ClassifyError(413, f"the file lasts {format_time(seconds)}, longer than the "
                              f"{format_time(limit)} this service classifies (serve "
                              "--max-minutes)")


def _refusal(error: FileNotClassifiedError, audio_format: str | None) -> ClassifyError:
    """The status and sentence for a file :func:`prepare_file` could not prepare."""
    reason = str(error)
    if reason == NOT_AUDIO or reason.startswith("not an audio file"):
        if audio_format is not None:  # the header is audio, the samples are not readable
            return ClassifyError(422, f"the {audio_format} file is damaged or truncated: its "
                                      "audio cannot be decoded")
        return ClassifyError(415, "the file is not audio: no installed decoder recognises its "
                                  f"format ({FORMATS_READ} are read)")
    if reason.startswith("empty file"):
        return ClassifyError(422, "the file is empty (0 bytes)")
    if reason.startswith("silent"):
        return ClassifyError(422, "the file is silent: every sample is zero")
    if reason.startswith("decoded to zero samples"):
        if audio_format is not None:
            return ClassifyError(422, f"the {audio_format} file is damaged or truncated: it "
                                      "decodes to no samples")
        return ClassifyError(422, "the file holds no audio samples")
    return ClassifyError(422, f"the file cannot be classified: {reason}")


class Classifier:
    """The loaded members and params, and the duration limit.

    :meth:`classify` runs in a worker thread; several may prepare files at once (up to the
    service's ``--max-concurrent``), but the members run one file at a time (a lock), since
    TensorFlow's ops run one at a time anyway (``train.threads``, inter-op 1).
    """

    def __init__(self, members: LoadedMembers, params: Params, *, max_seconds: float) -> None:
        self.members = members
        self.params = params
        self.max_seconds = max_seconds
        self._models = threading.Lock()

    @property
    def specs(self) -> list[Member]:
        """The members' specs (kind and settings), in ensemble order, as the inputs need them."""
        return [self.members.members[name] for name in self.members.names]

    def classify(self, path: str | Path) -> Prediction:
        """Classify one audio file.

        Parameters
        ----------
        path : str or Path
            The uploaded file on disk.

        Returns
        -------
        Prediction
            With the per-clip rows (the timeline).

        Raises
        ------
        ClassifyError
            413 longer than the limit; 415 not audio; 422 empty, silent, truncated, damaged.
        """
        probe = probe_audio(path)
        if probe.seconds is not None and probe.seconds > self.max_seconds:
            raise too_long(probe.seconds, self.max_seconds)  # before decoding a sample
        if probe.wav_shortfall is not None:
            raise ClassifyError(422, truncation(probe, 0.0) or "the file is truncated")
        inputs = prepare_file(str(path), self.params, self.specs, self.members.root)
        if isinstance(inputs, FileNotClassifiedError):
            raise _refusal(inputs, probe.format)
        if inputs.seconds > self.max_seconds:  # a format only the fallback decoder reads
            raise too_long(inputs.seconds, self.max_seconds)
        if reason := truncation(probe, inputs.seconds):
            raise ClassifyError(422, reason)
        try:
            with self._models:
                return predict_batch([inputs], self.members)[0]
        finally:
            del inputs
            release_free_memory()

    def warm_up(self) -> None:
        """Classify one clip of a synthetic tone, so that the first request does not pay for
        TensorFlow's first traces (the result is dropped)."""
        import numpy as np

        from genre_ensemble.inference.classify import predict_inputs
        from genre_ensemble.inference.inputs import signal_inputs

        sr = self.params.data.sample_rate
        t = np.arange(int(self.params.data.clip_seconds * sr)) / sr
        tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        inputs = signal_inputs(tone, sr, self.params, self.specs, root=self.members.root)
        with self._models:
            predict_inputs(inputs, self.members)
