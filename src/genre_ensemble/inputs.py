"""Turn audio into what each member takes: window images and window descriptors, cut and
rendered exactly as the pipeline cuts and renders its clips.

- a signal shorter than ``data.clip_seconds`` is padded with trailing silence to that length,
  as the pipeline's :func:`genre_ensemble.audio.conform` pads its clips;
- a longer signal is cut into consecutive chunks of ``data.clip_seconds``; a tail left after
  the last whole chunk becomes one more chunk, ending at the signal's end (it overlaps the one
  before rather than being padded), only when it is more than :data:`CLIP_TOLERANCE` (5 %) of
  a clip: a shorter tail is dropped, as the pipeline trims a clip at its end. So a file at most
  5 % longer than a clip (GTZAN's 30.013 s files with 30 s clips) is exactly the pipeline's
  clip and gets, bit for bit, the inputs the pipeline's own evaluation path gives it, instead
  of a second near-duplicate clip. Chunks that are digital silence are skipped. Every chunk is
  treated as one pipeline clip.

A file more than :data:`CLIP_TOLERANCE` shorter than a clip is padded all the same, with a
warning: the members never saw that much silence in training.

librosa is imported only when audio is processed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genre_ensemble.members import FEATURE_MEMBER, MUSICNN_MEMBER, REPRESENTATIONS
from genre_ensemble.params import Params
from genre_ensemble.paths import MUSICNN_WEIGHTS_DIR

if TYPE_CHECKING:  # imports librosa, which waits until audio is processed
    from genre_ensemble.images import ImageJob

logger = logging.getLogger(__name__)

# How far (fraction of data.clip_seconds) a file's length may stray from a clip's and still be
# one pipeline clip (longer: trimmed, no second near-duplicate clip) without a warning
# (shorter: padded). 5 % covers GTZAN's files (30.013 s, a few 29.9 s): 1.5 s of a 30 s clip.
CLIP_TOLERANCE = 0.05


@dataclass(frozen=True)
class MemberInputs:
    """What the members need for one file: window images, window features and one musicnn
    embedding per chunk.

    Small and picklable, so worker processes can prepare it while the models predict.
    """

    images: dict[str, np.ndarray]  # representation -> (n_windows, height, width, channels) uint8
    features: np.ndarray | None  # (n_windows, n_features), or None without a features member
    seconds: float  # length of the decoded audio
    chunks: int  # clips of data.clip_seconds the audio was cut into
    windows: int  # windows per member (images per representation)
    # (n_chunks, embedding_size) float32, or None without a musicnn member: the musicnn member
    # classifies whole clips, as its stage does, not windows
    musicnn: np.ndarray | None = None

    def rows(self, member: str) -> int:
        """How many probability vectors ``member`` gives for this file (averaged to one)."""
        return self.chunks if member == MUSICNN_MEMBER else self.windows


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
        One clip padded with silence for a signal shorter than a clip; otherwise consecutive
        clips, plus one ending at the signal's end when the tail after the last whole clip is
        more than :data:`CLIP_TOLERANCE` of a clip (a shorter tail is dropped, as the pipeline
        trims), silent clips left out (unless all are silent). A signal at most
        :data:`CLIP_TOLERANCE` longer than a clip is thus its first clip, as the pipeline cuts
        it.
    """
    from genre_ensemble.audio import fix_length, is_silent

    size = int(round(clip_seconds * sr))
    if signal.shape[0] < size:
        return [fix_length(signal, size)]
    starts = list(range(0, signal.shape[0] - size + 1, size))
    if signal.shape[0] - (starts[-1] + size) > CLIP_TOLERANCE * size:
        starts.append(signal.shape[0] - size)  # a tail worth a clip of its own
    chunks = [signal[start : start + size] for start in starts]
    audible = [chunk for chunk in chunks if not is_silent(chunk)]
    return audible or chunks


def chunk_inputs(
    chunks: Sequence[np.ndarray],
    params: Params,
    members: Sequence[str],
    *,
    seconds: float,
    musicnn_dir: str | Path = MUSICNN_WEIGHTS_DIR,
) -> MemberInputs:
    """Window images and features, and musicnn embeddings, of pipeline-length chunks at
    ``data.sample_rate``.

    ``seconds`` is the length of the audio the chunks were cut from (reported only);
    ``musicnn_dir`` the folder of the musicnn wheel (used only with a musicnn member).
    """
    from genre_ensemble.images import ImageJob
    from genre_ensemble.parallel import call_with_thread_limit

    names = [m for m in members if m in REPRESENTATIONS]
    prepare = partial(_chunk_windows, job=ImageJob.from_params(params, names=names),
                      params=params, with_features=FEATURE_MEMBER in members)
    images: dict[str, list[np.ndarray]] = {name: [] for name in names}
    rows: list[list[float]] = []
    for chunk in chunks:
        # as the `images` and `features` stages run each clip (parallel_map): with their BLAS
        # threads. Descriptors' float sums depend on the thread count (with two threads some
        # differ from the stage's in the last bit), and on these small matrices a second
        # thread costs more than it saves (preparing a real 30 s file: 0.56 s wall with two,
        # 0.47 s with one).
        chunk_images, chunk_rows = call_with_thread_limit(prepare, chunk)
        for name, windows in chunk_images.items():
            images[name].extend(windows)
        rows.extend(chunk_rows)
    stacked = {name: np.stack(windows) for name, windows in images.items()}
    features = np.asarray(rows, dtype=np.float64) if FEATURE_MEMBER in members else None
    if features is not None:
        windows = len(features)
    else:
        windows = len(next(iter(stacked.values()))) if stacked else len(chunks)
    return MemberInputs(
        images=stacked,
        features=features,
        seconds=seconds,
        chunks=len(chunks),
        windows=windows,
        musicnn=_musicnn_embeddings(chunks, params, musicnn_dir)
        if MUSICNN_MEMBER in members else None,
    )


def _chunk_windows(chunk: np.ndarray, *, job: ImageJob, params: Params, with_features: bool
                   ) -> tuple[dict[str, list[np.ndarray]], list[list[float]]]:
    """One chunk's window images (of ``job.names``) and, ``with_features``, its window
    descriptor rows."""
    from genre_ensemble.features import window_features
    from genre_ensemble.images import signal_images

    images = signal_images(chunk, job) if job.names else {}
    rows = []
    if with_features:
        descriptors = window_features(chunk, params.data.sample_rate, segments=params.segments,
                                      descriptors=params.features.descriptors)
        rows = [list(row.values()) for row in descriptors]
    return images, rows


def _musicnn_embeddings(chunks: Sequence[np.ndarray], params: Params,
                        musicnn_dir: str | Path) -> np.ndarray:
    """``(n_chunks, embedding_size)``: each chunk embedded as the ``musicnn_embeddings`` stage
    embeds a clip."""
    from genre_ensemble.musicnn_member import embed_clip

    return np.stack([
        embed_clip(chunk, sample_rate=params.data.sample_rate, settings=params.musicnn,
                   weights_dir=musicnn_dir)
        for chunk in chunks
    ])


def signal_inputs(
    signal: np.ndarray,
    sr: int,
    params: Params,
    members: Sequence[str],
    *,
    musicnn_dir: str | Path = MUSICNN_WEIGHTS_DIR,
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
    return chunk_inputs(chunks, params, members, seconds=signal.shape[0] / params.data.sample_rate,
                        musicnn_dir=musicnn_dir)


def warn_if_short(path: str | Path, *, seconds: float, clip_seconds: float) -> bool:
    """Warn when a file is so short that padding it changes what the members see.

    Parameters
    ----------
    seconds : float
        The file's length in seconds.
    clip_seconds : float
        ``data.clip_seconds``.

    Returns
    -------
    bool
        True when it warned: the file is more than :data:`CLIP_TOLERANCE` shorter than a clip.
    """
    missing = clip_seconds - seconds
    if missing <= CLIP_TOLERANCE * clip_seconds:
        return False
    logger.warning(
        "%s lasts %.2f s, %.2f s less than the %g s clips the members were trained on: padded "
        "with silence (as the pipeline pads its clips)", path, seconds, missing, clip_seconds,
    )
    return True


def file_inputs(
    path: str | Path,
    params: Params,
    members: Sequence[str],
    *,
    musicnn_dir: str | Path = MUSICNN_WEIGHTS_DIR,
) -> MemberInputs:
    """Decode a file like the pipeline does (mono, ``data.sample_rate``) and prepare inputs.

    Raises
    ------
    genre_ensemble.audio.AudioError
        Missing, empty, undecodable or silent file.
    """
    from genre_ensemble.audio import load_clip
    from genre_ensemble.quiet import native_stderr_to_log

    with native_stderr_to_log(logger):  # the decoders' own notes on a broken file
        signal = load_clip(path, sample_rate=params.data.sample_rate, seconds=None)
    seconds = signal.shape[0] / params.data.sample_rate
    warn_if_short(path, seconds=seconds, clip_seconds=params.data.clip_seconds)
    chunks = split_chunks(signal, params.data.sample_rate, params.data.clip_seconds)
    return chunk_inputs(chunks, params, members, seconds=seconds, musicnn_dir=musicnn_dir)
