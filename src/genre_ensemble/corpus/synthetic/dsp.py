"""Signal-processing building blocks shared by every synthetic-corpus renderer.

All functions work on 1-D float arrays of audio samples at a sample rate ``sr`` in Hz and are
vectorised: nothing here loops over samples in Python.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

EPS = 1e-12


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Convert MIDI note numbers (69 = A4) to frequencies in Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def rms(x: np.ndarray) -> float:
    """Root-mean-square level of ``x`` (0 for an empty array)."""
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def place(buffer: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Add ``gain * sound`` into ``buffer`` beginning at sample ``start``, in place.

    Parts of ``sound`` falling before 0 or after the end of ``buffer`` are dropped, so events
    may straddle the edges of the render window.
    """
    begin = max(start, 0)
    end = min(buffer.shape[0], start + sound.shape[0])
    if end <= begin or gain == 0.0:
        return
    buffer[begin:end] += gain * sound[begin - start : end - start]


def one_pole_lowpass(x: np.ndarray, cutoff_hz: float, sr: int) -> np.ndarray:
    """Gentle 6 dB/octave low-pass; cheap enough for envelopes and tone tilts."""
    a = float(np.exp(-2.0 * np.pi * cutoff_hz / sr))
    return signal.lfilter([1.0 - a], [1.0, -a], x)


def butter_filter(
    x: np.ndarray, cutoff_hz: float | tuple[float, float], sr: int, kind: str, order: int = 2
) -> np.ndarray:
    """Butterworth filter as second-order sections; ``kind`` is lowpass, highpass or bandpass."""
    nyquist = 0.5 * sr
    if np.isscalar(cutoff_hz):
        cutoff = min(float(cutoff_hz), 0.95 * nyquist)
    else:
        low, high = cutoff_hz
        cutoff = (min(low, 0.9 * nyquist), min(high, 0.95 * nyquist))
    sos = signal.butter(order, cutoff, btype=kind, fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def normalize_rms(x: np.ndarray, target: float = 1.0) -> np.ndarray:
    """Scale ``x`` to RMS ``target``; silence stays silence."""
    level = rms(x)
    return x * (target / level) if level > EPS else x


def soft_clip(x: np.ndarray, drive: float, sr: int) -> np.ndarray:
    """Guitar-amp style distortion: tanh waveshaping then a speaker-cabinet low-pass.

    Parameters
    ----------
    x : np.ndarray, shape (n,)
        Clean track.
    drive : float
        Gain into the tanh (1 = clean, ~4 = overdrive, 20+ = metal); the output keeps the input
        peak so that mix levels stay comparable.
    sr : int
        Sample rate in Hz.
    """
    if drive <= 1.05:
        return x
    peak = float(np.max(np.abs(x))) + EPS
    shaped = np.tanh(drive * x / peak) / np.tanh(drive)
    # A real cabinet rolls off above ~5-6 kHz; without it clipping sounds like fizz, not guitar.
    return peak * butter_filter(shaped, 5500.0, sr, "lowpass")


def compress(x: np.ndarray, sr: int, amount: float) -> np.ndarray:
    """Feed-forward compressor with a 10 Hz envelope follower.

    ``amount`` in [0, 1] maps to ratio 1..8 with the threshold at the track RMS, so heavily
    compressed genres (pop, disco) end up with a flat loudness contour.
    """
    if amount <= 0.01:
        return x
    envelope = np.sqrt(np.maximum(one_pole_lowpass(np.square(x), 10.0, sr), 0.0) + EPS)
    threshold = rms(x) + EPS
    ratio = 1.0 + 7.0 * amount
    gain = np.where(envelope > threshold, (envelope / threshold) ** (1.0 / ratio - 1.0), 1.0)
    return x * gain


def reverb(
    x: np.ndarray, sr: int, rng: np.random.Generator, decay_s: float, wet: float
) -> np.ndarray:
    """Cheap room: convolution with exponentially decaying low-passed noise.

    Parameters
    ----------
    decay_s : float
        RT60 in seconds (time for the tail to fall 60 dB); the impulse response is cut at
        min(1.5 * decay_s, 2 s) to bound the cost.
    wet : float
        Wet/dry mix in [0, 1].
    """
    if wet <= 0.0 or decay_s <= 0.0:
        return x
    n = max(int(min(1.5 * decay_s, 2.0) * sr), 16)
    t = np.arange(n) / sr
    impulse = rng.standard_normal(n) * np.exp(-6.9 * t / decay_s)
    impulse = one_pole_lowpass(impulse, 4000.0, sr)
    impulse[: int(0.005 * sr)] = 0.0  # a few ms of pre-delay keeps transients readable
    impulse /= np.sqrt(np.sum(np.square(impulse))) + EPS
    tail = signal.oaconvolve(x, impulse)[: x.shape[0]]
    return (1.0 - wet) * x + wet * tail


def tilt(x: np.ndarray, sr: int, brightness: float) -> np.ndarray:
    """Master tone tilt: positive ``brightness`` boosts highs, negative darkens (lo-fi, warm)."""
    if abs(brightness) < 0.01:
        return x
    low = one_pole_lowpass(x, 1500.0, sr)
    if brightness > 0:
        return x + brightness * (x - low)
    return (1.0 + brightness) * x - brightness * low


def colored_noise(n: int, sr: int, rng: np.random.Generator, color: float) -> np.ndarray:
    """Unit-RMS noise between white (``color`` = 0) and dark/rumbly (``color`` = 1)."""
    noise = rng.standard_normal(n)
    if color > 0.05:
        noise = (1.0 - color) * noise + color * 8.0 * one_pole_lowpass(noise, 300.0, sr)
    return normalize_rms(noise)


def smooth_curve(n: int, rng: np.random.Generator, n_knots: int) -> np.ndarray:
    """Smooth random curve in [-1, 1] of length ``n`` (cosine-interpolated random knots)."""
    knots = rng.uniform(-1.0, 1.0, n_knots + 1)
    position = np.linspace(0.0, n_knots, n, endpoint=False)
    index = position.astype(int)
    frac = 0.5 - 0.5 * np.cos(np.pi * (position - index))
    return knots[index] * (1.0 - frac) + knots[index + 1] * frac
