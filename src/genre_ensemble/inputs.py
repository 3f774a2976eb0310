"""Turn audio into what each member takes: window images and window descriptors, cut and
rendered exactly as the pipeline cuts and renders its clips.

- a signal no longer than ``data.clip_seconds`` is padded with trailing silence to that length,
  exactly as the pipeline pads its clips, so a pipeline-length clip gets the very inputs the
  pipeline's own evaluation path gives it;
- a longer signal (a whole song) is cut into consecutive chunks of ``data.clip_seconds``, the
  last one ending at the signal's end (it overlaps the one before rather than being padded),
  and chunks that are digital silence are skipped. Every chunk is treated as one pipeline clip.

librosa is imported only when audio is processed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genre_ensemble.members import FEATURE_MEMBER, REPRESENTATIONS
from genre_ensemble.params import Params

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberInputs:
    """What the members need for one file: window images and window features.

    Small and picklable, so worker processes can prepare it while the models predict.
    """

    images: dict[str, np.ndarray]  # representation -> (n_windows, height, width, channels) uint8
    features: np.ndarray | None  # (n_windows, n_features), or None without a features member
    seconds: float  # length of the decoded audio
    chunks: int  # clips of data.clip_seconds the audio was cut into
    windows: int  # windows per member (images per representation)


def split_chunks(signal: np.ndarray, sr: int, clip_seconds: float) -> list[np.ndarray]:
    """Cut a signal into the pipeline-length clips it is classified from.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Sample rate in Hz.
    clip_seconds : float
        ``data.clip_seconds``.

    Returns
    -------
    list of np.ndarray, each shape (round(clip_seconds * sr),)
        One clip padded with silence for a signal no longer than a clip; otherwise
        consecutive clips, the last one ending at the signal's end, silent clips left out
        (unless all are silent).
    """
    from genre_ensemble.audio import fix_length, is_silent

    size = int(round(clip_seconds * sr))
    if signal.shape[0] <= size:
        return [fix_length(signal, size)]
    starts = list(range(0, signal.shape[0] - size + 1, size))
    if starts[-1] + size < signal.shape[0]:
        starts.append(signal.shape[0] - size)
    chunks = [signal[start : start + size] for start in starts]
    audible = [chunk for chunk in chunks if not is_silent(chunk)]
    return audible or chunks


def chunk_inputs(
    chunks: Sequence[np.ndarray], params: Params, members: Sequence[str], *, seconds: float
) -> MemberInputs:
    """Window images and features of pipeline-length chunks at ``data.sample_rate``.

    ``seconds`` is the length of the audio the chunks were cut from (reported only).
    """
    from genre_ensemble.features import window_features
    from genre_ensemble.images import ImageJob, signal_images

    names = [m for m in members if m in REPRESENTATIONS]
    job = ImageJob.from_params(params, names=names)
    images: dict[str, list[np.ndarray]] = {name: [] for name in names}
    rows: list[list[float]] = []
    for chunk in chunks:
        if names:
            for name, windows in signal_images(chunk, job).items():
                images[name].extend(windows)
        if FEATURE_MEMBER in members:
            descriptors = window_features(
                chunk,
                params.data.sample_rate,
                segments=params.segments,
                descriptors=params.features.descriptors,
            )
            rows.extend(list(row.values()) for row in descriptors)
    stacked = {name: np.stack(windows) for name, windows in images.items()}
    features = np.asarray(rows, dtype=np.float64) if FEATURE_MEMBER in members else None
    windows = len(features) if features is not None else len(next(iter(stacked.values())))
    return MemberInputs(
        images=stacked, features=features, seconds=seconds, chunks=len(chunks), windows=windows
    )


def signal_inputs(
    signal: np.ndarray, sr: int, params: Params, members: Sequence[str]
) -> MemberInputs:
    """Resample a mono signal to ``data.sample_rate``, cut it and prepare every member's input.

    Raises
    ------
    genre_ensemble.audio.AudioError
        If the signal is empty or digital silence.
    """
    from genre_ensemble.audio import conform

    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1:
        raise ValueError(f"expected a mono signal, got shape {signal.shape}")
    signal = conform(signal, sr, sample_rate=params.data.sample_rate, seconds=None)
    chunks = split_chunks(signal, params.data.sample_rate, params.data.clip_seconds)
    return chunk_inputs(chunks, params, members, seconds=signal.shape[0] / params.data.sample_rate)


def file_inputs(path: str | Path, params: Params, members: Sequence[str]) -> MemberInputs:
    """Decode a file like the pipeline does (mono, ``data.sample_rate``) and prepare inputs.

    Raises
    ------
    genre_ensemble.audio.AudioError
        Missing, empty, undecodable or silent file.
    """
    from genre_ensemble.audio import load_clip

    signal = load_clip(path, sample_rate=params.data.sample_rate, seconds=None)
    seconds = signal.shape[0] / params.data.sample_rate
    if seconds < params.data.clip_seconds:
        logger.warning(
            "%s lasts %.1f s, less than the %g s clips the members were trained on: padded with "
            "silence (as the pipeline pads its clips)", path, seconds, params.data.clip_seconds,
        )
    chunks = split_chunks(signal, params.data.sample_rate, params.data.clip_seconds)
    return chunk_inputs(chunks, params, members, seconds=seconds)
