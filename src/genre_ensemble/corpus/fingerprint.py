"""Audio fingerprints of clips, and the bit error rate between two of them.

Each clip gets a Haitsma-Kalker style fingerprint (Haitsma & Kalker,
"A highly robust audio fingerprinting system", ISMIR 2002): one 32-bit sub-fingerprint per
23 ms hop, each bit the sign of an energy difference between neighbouring log-spaced bands
(300-2000 Hz) and consecutive frames. The signs do not change with gain, survive lossy
re-encoding, and the long (0.37 s) frames with a short hop make a time offset that is not a
whole number of hops almost harmless. :mod:`genre_ensemble.corpus.duplicates` matches them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.signal import get_window, resample_poly

logger = logging.getLogger(__name__)

# Haitsma & Kalker's recipe: ~5.5 kHz audio, 0.37 s frames, 33 bands from 300 to 2000 Hz.
TARGET_RATE = 5512.5  # Hz; the rate the signal is decimated to before framing
FRAME_SECONDS = 0.37
HOP_SECONDS = 0.0232  # twice H&K's 11.6 ms: half the index, still ~94 % frame overlap
FMIN = 300.0  # Hz
FMAX = 2000.0  # Hz
N_BITS = 32  # one bit per pair of neighbouring bands: 33 bands
# Frames this far (dB) below the clip's loud level (95th percentile) carry no fingerprint:
# silence and padding would otherwise match each other perfectly.
QUIET_DB = 40.0
# Band energies are clamped at this many dB below the clip's loudest band energy.
FLOOR_DB = 40.0
# Similarity (1 - 2 BER) above which two clips count as the same audio; calibrated by
# bench/duplicates.py: copies after gain, OGG and a 1 s offset scored >= 0.51, the closest of
# ~95 000 distinct pairs (synthetic and real GTZAN) 0.24.
DEFAULT_THRESHOLD = 0.35


@dataclass(frozen=True)
class Fingerprint:
    """The fingerprint of one clip.

    Attributes
    ----------
    bits : np.ndarray, shape (n_frames,), uint32
        One sub-fingerprint per hop.
    valid : np.ndarray, shape (n_frames,), bool
        False where the frame (or the one before) is too quiet to carry information.
    hop_seconds : float
        Time between consecutive sub-fingerprints, in seconds.
    """

    bits: np.ndarray
    valid: np.ndarray
    hop_seconds: float


def decimation_factor(sr: int, *, target_rate: float = TARGET_RATE) -> int:
    """The whole factor that brings ``sr`` (Hz) closest to ``target_rate`` (4 at 22050 Hz)."""
    return max(1, int(round(sr / target_rate)))


def band_edges(n_fft: int, rate: float, *, n_bands: int, fmin: float, fmax: float) -> np.ndarray:
    """FFT bin indices that delimit ``n_bands`` log-spaced bands, shape (n_bands + 1,), int.

    Raises
    ------
    ValueError
        If the frequency resolution is too coarse for distinct bands.
    """
    edges = np.round(np.geomspace(fmin, fmax, n_bands + 1) * n_fft / rate).astype(np.int64)
    if np.any(np.diff(edges) < 1) or edges[-1] > n_fft // 2:
        raise ValueError(f"{n_bands} bands from {fmin} to {fmax} Hz do not fit {n_fft}-point "
                         f"frames at {rate} Hz")
    return edges


def band_levels(signal: np.ndarray, sr: int, *, frame_seconds: float = FRAME_SECONDS,
                hop_seconds: float = HOP_SECONDS, n_bits: int = N_BITS, fmin: float = FMIN,
                fmax: float = FMAX, floor_db: float = FLOOR_DB) -> tuple[np.ndarray, float]:
    """Band energies of a mono signal in hundredths of a dB, rounded to integers.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Sample rate in Hz.

    Returns
    -------
    levels : np.ndarray, shape (n_frames, n_bits + 1), int64
        Relative to the loudest band energy of the clip (gain does not change them, up to
        rounding). Empty when the signal is shorter than one frame.
    hop_seconds : float
        The hop actually used (a whole number of samples at the decimated rate).
    """
    factor = decimation_factor(sr)
    rate = sr / factor
    x = np.asarray(signal, dtype=np.float64)
    if factor > 1:
        x = resample_poly(x, 1, factor)  # polyphase FIR: anti-aliased, no BLAS
    n_fft = int(round(frame_seconds * rate))
    hop = max(1, int(round(hop_seconds * rate)))
    edges = band_edges(n_fft, rate, n_bands=n_bits + 1, fmin=fmin, fmax=fmax)
    if x.shape[0] < n_fft:
        return np.zeros((0, n_bits + 1), dtype=np.int64), hop / rate
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * get_window("hann", n_fft), axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    # reduceat sums bins edges[i] .. edges[i+1]-1 (a sum, not a BLAS product: same on any CPU)
    energy = np.add.reduceat(power[:, : edges[-1]], edges[:-1], axis=1)
    # A floor relative to the clip's loudest band keeps the levels gain-free, and clamps
    # near-empty bands, whose sign would flip with the noise a lossy codec adds there.
    floor = max(float(energy.max()), np.finfo(np.float64).tiny) * 10.0 ** (-floor_db / 10.0)
    decibels = 10.0 * np.log10(energy + floor)
    # rounding to 0.01 dB makes the bits independent of last-digit float differences
    levels = np.round(100.0 * (decibels - decibels.max())).astype(np.int64)
    return levels, hop / rate


def clip_fingerprint(signal: np.ndarray, sr: int, *, frame_seconds: float = FRAME_SECONDS,
                     hop_seconds: float = HOP_SECONDS, quiet_db: float = QUIET_DB,
                     floor_db: float = FLOOR_DB) -> Fingerprint:
    """The fingerprint of one decoded mono clip.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio at ``sr`` Hz (any gain).
    sr : int
        Sample rate in Hz. Clips to be compared must share it (their hops must agree).
    frame_seconds, hop_seconds : float
        Analysis frame length and hop in seconds.
    quiet_db : float
        Frames more than this many dB below the clip's loud level are marked invalid.
    floor_db : float
        Band energies are clamped this many dB below the clip's loudest band energy.

    Returns
    -------
    Fingerprint
        ``n_frames - 1`` sub-fingerprints for ``n_frames`` analysis frames.
    """
    levels, hop = band_levels(signal, sr, frame_seconds=frame_seconds, hop_seconds=hop_seconds,
                              floor_db=floor_db)
    if levels.shape[0] < 2:
        return Fingerprint(np.zeros(0, np.uint32), np.zeros(0, bool), hop)
    across = levels[:, :-1] - levels[:, 1:]  # (n_frames, 32): band m minus band m + 1
    bits = (across[1:] - across[:-1]) > 0  # ... and its change since the previous frame
    words = (bits.astype(np.uint32) << np.arange(N_BITS, dtype=np.uint32)).sum(
        axis=1, dtype=np.uint32)
    frame_level = _frame_level(levels)
    loud = np.percentile(frame_level, 95)
    audible = frame_level >= loud - 100 * quiet_db
    return Fingerprint(words, audible[1:] & audible[:-1], hop)


def _frame_level(levels: np.ndarray) -> np.ndarray:
    """Level of each frame in hundredths of a dB (the loudest band: robust and integer)."""
    return levels.max(axis=1)


def bit_error_rate(a: Fingerprint, b: Fingerprint, offset: int) -> tuple[float, int]:
    """BER of ``a`` frame t against ``b`` frame t + ``offset`` over frames valid in both.

    Returns
    -------
    ber : float
        Fraction of differing bits, in [0, 1]; 0.5 when nothing overlaps.
    n_frames : int
        Number of frames compared.
    """
    start = max(0, -offset)
    stop = min(a.bits.shape[0], b.bits.shape[0] - offset)
    if stop <= start:
        return 0.5, 0
    keep = a.valid[start:stop] & b.valid[start + offset:stop + offset]
    n_frames = int(keep.sum())
    if n_frames == 0:
        return 0.5, 0
    shifted = b.bits[start + offset:stop + offset][keep]
    differing = np.bitwise_count(a.bits[start:stop][keep] ^ shifted)
    return float(differing.sum(dtype=np.int64)) / (N_BITS * n_frames), n_frames
