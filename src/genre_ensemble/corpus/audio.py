"""Decode audio files into fixed-length mono signals at the pipeline's sample rate."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import soundfile

from genre_ensemble.core.errors import AudioError, UndecodableError

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
# Largest absolute sample value of a signal that still counts as digital silence.
SILENCE_THRESHOLD = 1e-6


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    with soundfile.SoundFile(str(path)) as handle:
        if handle.format == "RAW":
            # libsndfile reads any header-less .au file as raw u-law noise: not a real clip
            raise AudioError("not an audio file: no recognised audio header")
        data = handle.read(dtype="float32", always_2d=True)
        sr = handle.samplerate
    return data.mean(axis=1), int(sr)


def _decode_audioread(path: Path) -> tuple[np.ndarray, int]:
    import librosa

    with warnings.catch_warnings():
        # audioread's fallbacks import modules that Python 3.11 deprecates (aifc, sunau, audioop),
        # and librosa warns that it falls back at all: we already know, we asked for it.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        signal, sr = librosa.load(str(path), sr=None, mono=True)
    return signal.astype(np.float32), int(sr)


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file at its own sample rate, mixed down to mono.

    soundfile (libsndfile) reads wav, au, flac, ogg, mp3 and aiff directly; other formats go
    through librosa's audioread fallback.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    signal : np.ndarray, shape (n_samples,), float32
    sample_rate : int, Hz

    Raises
    ------
    AudioError
        If the file is missing, empty or holds no samples; :class:`UndecodableError` (a
        subclass) when no decoder reads it.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        signal, sr = _decode_soundfile(path)
    except AudioError:
        raise
    except Exception as first_error:  # libsndfile raises LibsndfileError / RuntimeError
        try:
            signal, sr = _decode_audioread(path)
        except Exception as error:
            raise UndecodableError(
                f"cannot decode: {first_error}; fallback: {error}"
            ) from error
    if signal.size == 0:
        raise AudioError("decoded to zero samples")
    if not np.all(np.isfinite(signal)):
        raise AudioError("decoded samples hold NaN or infinity")
    return signal, sr


def fix_length(signal: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim ``signal`` to ``n_samples`` or pad it at the end with silence.

    Parameters
    ----------
    signal : np.ndarray, shape (n,)
    n_samples : int

    Returns
    -------
    np.ndarray, shape (n_samples,)
    """
    if signal.shape[0] >= n_samples:
        return signal[:n_samples]
    return np.pad(signal, (0, n_samples - signal.shape[0]))


def is_silent(signal: np.ndarray) -> bool:
    """True when no sample exceeds :data:`SILENCE_THRESHOLD`: digital silence, not a clip."""
    return not np.any(np.abs(signal) > SILENCE_THRESHOLD)


def conform(signal: np.ndarray, sr: int, *, sample_rate: int, seconds: float | None) -> np.ndarray:
    """Bring a decoded mono signal to the pipeline's rate and clip length.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Its sample rate in Hz.
    sample_rate : int
        Target rate in Hz (converted with soxr via librosa when different).
    seconds : float or None
        Length of the result; short clips (GTZAN has 29.9 s ones) are padded with trailing
        silence, long ones trimmed from the end. None keeps the whole signal.

    Returns
    -------
    np.ndarray, shape (round(seconds * sample_rate),), float32

    Raises
    ------
    AudioError
        If the signal is empty or digital silence.
    """
    if signal.size == 0:
        raise AudioError("decoded to zero samples")
    if sr != sample_rate:
        import librosa

        signal = librosa.resample(signal, orig_sr=sr, target_sr=sample_rate)
    signal = np.asarray(signal, dtype=np.float32)
    if is_silent(signal):
        raise AudioError("silent: every sample is zero")
    if seconds is not None:
        signal = fix_length(signal, int(round(seconds * sample_rate)))
    return signal


def load_clip(path: str | Path, *, sample_rate: int, seconds: float | None) -> np.ndarray:
    """Decode one file and :func:`conform` it: mono, ``sample_rate``, ``seconds`` long.

    Raises
    ------
    AudioError
        See :func:`decode` and :func:`conform`.
    """
    signal, sr = decode(path)
    return conform(signal, sr, sample_rate=sample_rate, seconds=seconds)
