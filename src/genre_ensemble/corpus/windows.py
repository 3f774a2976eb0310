"""Cut a clip into (overlapping) windows; each window becomes one image and one example."""

from __future__ import annotations

import math

import numpy as np


def window_starts(clip_seconds: float, window_seconds: float, overlap: float) -> np.ndarray:
    """Start times of the windows that fit in a clip.

    Parameters
    ----------
    clip_seconds : float
        Clip length in seconds.
    window_seconds : float
        Window length in seconds; 0 means one window covering the whole clip (the paper).
    overlap : float in [0, 1)
        Fraction of a window shared with the next one.

    Returns
    -------
    np.ndarray, shape (n_windows,), float seconds
        At least one window; windows never run past the clip's end.

    Raises
    ------
    ValueError
        If the window is longer than the clip or overlap is outside [0, 1).
    """
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if window_seconds <= 0:
        return np.zeros(1)
    if window_seconds > clip_seconds + 1e-9:
        raise ValueError(f"window of {window_seconds} s is longer than the {clip_seconds} s clip")
    step = window_seconds * (1.0 - overlap)
    count = int(math.floor((clip_seconds - window_seconds) / step + 1e-9)) + 1
    return np.arange(count) * step


def frame_slices(
    n_frames: int,
    *,
    sr: int,
    hop_length: int,
    clip_seconds: float,
    window_seconds: float,
    overlap: float,
) -> list[slice]:
    """Column ranges of a spectrogram that correspond to each window.

    All slices have the same width, so every window of every clip yields an image of the same
    time span.

    Returns
    -------
    list of slice, one per window of :func:`window_starts`
    """
    if window_seconds <= 0:
        return [slice(0, n_frames)]
    frames_per_second = sr / hop_length
    width = max(1, int(round(window_seconds * frames_per_second)))
    slices = []
    for start in window_starts(clip_seconds, window_seconds, overlap):
        first = min(int(round(start * frames_per_second)), max(0, n_frames - width))
        slices.append(slice(first, first + width))
    return slices
