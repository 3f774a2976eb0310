"""Pitched instruments: additive (wavetable) synthesis driven by a small harmonic profile.

Each instrument is a frozen :class:`Instrument` describing its partial amplitudes, envelope and
expression (vibrato, glide, tremolo, attack noise). A note is rendered by reading a
band-limited single-cycle wavetable built from those partials, which costs O(samples) instead
of O(samples x partials). Plucked and struck strings cross-fade from a bright to a dull table,
the cheap stand-in for Karplus-Strong's frequency-dependent damping.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .dsp import midi_to_hz, place

TABLE_SIZE = 2048


@dataclass(frozen=True)
class Instrument:
    """Harmonic profile and envelope of one pitched instrument (times in s, levels linear)."""

    tilt: float = 1.0  # partial k has amplitude k**-tilt (1 = sawtooth-like)
    even: float = 1.0  # gain on even partials; 0 gives clarinet/square-like odd spectra
    partials: tuple[tuple[int, float], ...] = ()  # explicit (k, amplitude) overrides tilt
    n_partials: int = 40
    formant_hz: float = 0.0  # resonance boosting partials near this frequency (reeds, voice)
    formant_gain: float = 0.0
    dull_tilt: float = 0.0  # > 0: the tone decays towards this tilt (strings lose highs first)
    bright_tau: float = 0.2
    attack: float = 0.005
    decay_tau: float = 0.0  # 0 = sustained; otherwise exponential amplitude decay
    release: float = 0.05
    vibrato_hz: float = 0.0
    vibrato_cents: float = 0.0
    tremolo_hz: float = 0.0
    tremolo_depth: float = 0.0
    detune_cents: float = 0.0  # second oscillator for ensemble/chorus width
    noise_attack: float = 0.0  # pick, hammer or chiff noise at the onset
    breath: float = 0.0  # sustained noise (flute, sax)
    glide: float = 0.0  # semitones slid into each note (+ from below, - from above)


INSTRUMENTS: dict[str, Instrument] = {
    # Keyboards
    "piano": Instrument(
        tilt=1.3,
        dull_tilt=2.6,
        bright_tau=0.25,
        attack=0.002,
        decay_tau=1.1,
        release=0.08,
        noise_attack=0.05,
    ),
    "epiano": Instrument(
        partials=((1, 1.0), (2, 0.3), (3, 0.06), (7, 0.05), (14, 0.04)),
        dull_tilt=3.0,
        bright_tau=0.15,
        attack=0.003,
        decay_tau=1.4,
        tremolo_hz=4.5,
        tremolo_depth=0.25,
    ),
    "organ": Instrument(
        partials=((1, 1.0), (2, 0.8), (3, 0.6), (4, 0.5), (6, 0.3), (8, 0.25)),
        attack=0.01,
        release=0.03,
        tremolo_hz=6.5,
        tremolo_depth=0.15,
    ),
    "clavinet": Instrument(
        tilt=0.4,
        even=0.3,
        dull_tilt=1.6,
        bright_tau=0.08,
        attack=0.001,
        decay_tau=0.3,
        release=0.02,
        noise_attack=0.08,
    ),
    "vibes": Instrument(
        partials=((1, 1.0), (4, 0.25), (10, 0.06)),
        attack=0.001,
        decay_tau=1.5,
        tremolo_hz=5.0,
        tremolo_depth=0.3,
    ),
    # Plucked strings
    "clean_guitar": Instrument(
        tilt=0.9, dull_tilt=2.5, bright_tau=0.08, attack=0.002, decay_tau=0.8, noise_attack=0.1
    ),
    "acoustic_guitar": Instrument(
        tilt=0.7,
        dull_tilt=2.0,
        bright_tau=0.12,
        attack=0.001,
        decay_tau=1.0,
        noise_attack=0.15,
        formant_hz=2500.0,
        formant_gain=0.8,
    ),
    "banjo": Instrument(
        tilt=0.5,
        dull_tilt=1.5,
        bright_tau=0.05,
        attack=0.001,
        decay_tau=0.35,
        noise_attack=0.2,
        formant_hz=1500.0,
        formant_gain=1.5,
    ),
    "jazz_guitar": Instrument(
        tilt=1.8, dull_tilt=3.0, bright_tau=0.15, attack=0.003, decay_tau=0.9, noise_attack=0.04
    ),
    "steel_guitar": Instrument(
        tilt=1.0,
        attack=0.01,
        decay_tau=2.5,
        vibrato_hz=5.0,
        vibrato_cents=10.0,
        glide=2.0,
        release=0.1,
    ),
    "electric_guitar": Instrument(
        tilt=1.0, dull_tilt=1.5, bright_tau=0.3, attack=0.003, decay_tau=3.0, noise_attack=0.05
    ),
    "lead_guitar": Instrument(
        tilt=1.0, attack=0.005, decay_tau=2.5, vibrato_hz=5.5, vibrato_cents=20.0, glide=0.5
    ),
    # Bowed strings, winds, voice
    "strings": Instrument(
        tilt=1.0, attack=0.15, release=0.3, vibrato_hz=5.5, vibrato_cents=12.0, detune_cents=8.0
    ),
    "violin": Instrument(
        tilt=0.9,
        formant_hz=2500.0,
        formant_gain=1.0,
        attack=0.06,
        release=0.15,
        vibrato_hz=6.0,
        vibrato_cents=18.0,
    ),
    "fiddle": Instrument(
        tilt=0.8,
        formant_hz=2800.0,
        formant_gain=1.5,
        attack=0.03,
        release=0.08,
        vibrato_hz=6.0,
        vibrato_cents=15.0,
        glide=0.7,
    ),
    "cello": Instrument(
        tilt=1.1,
        formant_hz=600.0,
        formant_gain=1.0,
        attack=0.08,
        release=0.2,
        vibrato_hz=5.0,
        vibrato_cents=12.0,
    ),
    "contrabass": Instrument(tilt=1.4, attack=0.05, release=0.2, vibrato_hz=4.5, vibrato_cents=8.0),
    "winds": Instrument(
        tilt=1.0,
        even=0.15,
        attack=0.04,
        release=0.1,
        breath=0.02,
        vibrato_hz=5.0,
        vibrato_cents=5.0,
    ),
    "clarinet": Instrument(tilt=1.0, even=0.1, attack=0.03, release=0.08, breath=0.02),
    "flute": Instrument(
        partials=((1, 1.0), (2, 0.25), (3, 0.1), (4, 0.03)),
        attack=0.05,
        release=0.1,
        breath=0.06,
        vibrato_hz=5.0,
        vibrato_cents=10.0,
    ),
    "sax": Instrument(
        tilt=0.8,
        formant_hz=1200.0,
        formant_gain=2.0,
        attack=0.03,
        release=0.06,
        breath=0.03,
        vibrato_hz=5.0,
        vibrato_cents=15.0,
    ),
    "trumpet": Instrument(
        tilt=0.6,
        formant_hz=1500.0,
        formant_gain=1.5,
        attack=0.04,
        release=0.05,
        vibrato_hz=5.5,
        vibrato_cents=8.0,
    ),
    "melodica": Instrument(
        tilt=0.9, formant_hz=1000.0, formant_gain=1.0, attack=0.02, release=0.05, breath=0.02
    ),
    "voice_lead": Instrument(
        tilt=1.5,
        formant_hz=700.0,
        formant_gain=4.0,
        attack=0.04,
        release=0.08,
        vibrato_hz=5.5,
        vibrato_cents=25.0,
        glide=0.5,
    ),
    # Synths
    "synth_lead": Instrument(
        tilt=1.0, even=0.0, attack=0.01, release=0.05, vibrato_hz=5.5, vibrato_cents=10.0
    ),
    "pad": Instrument(tilt=1.6, attack=0.4, release=0.5, detune_cents=12.0),
    "synth_pluck": Instrument(
        tilt=0.8, dull_tilt=3.0, bright_tau=0.05, attack=0.002, decay_tau=0.3
    ),
    # Basses
    "synth_bass": Instrument(
        tilt=1.0, dull_tilt=2.0, bright_tau=0.1, attack=0.003, decay_tau=0.6, release=0.03
    ),
    "electric_bass": Instrument(
        tilt=1.4,
        dull_tilt=2.5,
        bright_tau=0.2,
        attack=0.003,
        decay_tau=1.2,
        noise_attack=0.05,
        release=0.04,
    ),
    "upright_bass": Instrument(
        tilt=1.8,
        dull_tilt=3.0,
        bright_tau=0.1,
        attack=0.004,
        decay_tau=0.7,
        noise_attack=0.08,
        release=0.05,
    ),
    "round_bass": Instrument(
        partials=((1, 1.0), (2, 0.35), (3, 0.1)), attack=0.01, decay_tau=2.0, release=0.05
    ),
    "sub808": Instrument(
        partials=((1, 1.0), (2, 0.08)), attack=0.003, decay_tau=1.0, release=0.05, glide=-1.0
    ),
}


def partial_amplitudes(inst: Instrument, f0: float, sr: int, tilt: float) -> np.ndarray:
    """Amplitudes of partials 1..K of a note at ``f0`` Hz, band-limited below 0.45 * ``sr``.

    Returns
    -------
    np.ndarray, shape (K + 1,)
        Index k holds the amplitude of partial k (index 0, DC, is always 0).
    """
    k_max = max(1, min(inst.n_partials, int(0.45 * sr / f0)))
    amps = np.zeros(k_max + 1)
    if inst.partials:
        for k, amp in inst.partials:
            if k <= k_max:
                amps[k] = amp
    else:
        k = np.arange(1, k_max + 1)
        amps[1:] = k**-tilt
        amps[2::2] *= inst.even
    if inst.formant_gain > 0:
        freqs = np.arange(k_max + 1) * f0
        amps *= 1.0 + inst.formant_gain * np.exp(-0.5 * ((freqs - inst.formant_hz) / 500.0) ** 2)
    return amps


@lru_cache(maxsize=8192)
def wavetable(inst: Instrument, midi: int, sr: int, dull: bool) -> np.ndarray:
    """Single-cycle band-limited waveform (peak 1) for note ``midi``; cached across clips."""
    f0 = float(midi_to_hz(midi))
    amps = partial_amplitudes(inst, f0, sr, inst.dull_tilt if dull else inst.tilt)
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=complex)
    spectrum[: amps.shape[0]] = -0.5j * TABLE_SIZE * amps  # sine phase for every partial
    table = np.fft.irfft(spectrum, n=TABLE_SIZE)
    table /= np.max(np.abs(table)) + 1e-12
    table.setflags(write=False)
    return table


def _phase(
    inst: Instrument, midi: float, t: np.ndarray, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Oscillator phase in cycles, shape (n,), including glide and vibrato pitch movement."""
    f0 = float(midi_to_hz(midi))
    if inst.glide == 0.0 and inst.vibrato_cents == 0.0:
        return f0 * t + rng.random()
    semitones = np.zeros_like(t)
    if inst.glide != 0.0:
        semitones -= inst.glide * np.exp(-t / 0.06)
    if inst.vibrato_cents > 0.0:
        fade_in = np.minimum(t / 0.3, 1.0)  # players start a note straight, then add vibrato
        semitones += (
            (inst.vibrato_cents / 100.0)
            * fade_in
            * np.sin(2 * np.pi * inst.vibrato_hz * t + rng.uniform(0, 2 * np.pi))
        )
    return np.cumsum(f0 * 2.0 ** (semitones / 12.0)) / sr + rng.random()


def _envelope(inst: Instrument, n_hold: int, n: int, f0: float, sr: int) -> np.ndarray:
    """Amplitude envelope, shape (n,): linear attack, optional exponential decay, linear release."""
    t = np.arange(n) / sr
    env = np.minimum(t / max(inst.attack, 1.0 / sr), 1.0)
    if inst.decay_tau > 0:
        # High notes of struck/plucked strings die faster than low ones.
        tau = inst.decay_tau * (f0 / 261.6) ** -0.4
        env *= np.exp(-t / tau)
    if n > n_hold:
        env[n_hold:] *= np.linspace(1.0, 0.0, n - n_hold)
    if inst.tremolo_depth > 0:
        env *= 1.0 - inst.tremolo_depth * (0.5 + 0.5 * np.sin(2 * np.pi * inst.tremolo_hz * t))
    return env


def render_note(
    inst: Instrument, midi: float, duration: float, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Render one note at unit velocity.

    Parameters
    ----------
    inst : Instrument
        Timbre.
    midi : float
        Pitch as a MIDI note number.
    duration : float
        Held time in seconds; the release tail is added after it.
    sr : int
        Sample rate in Hz.
    rng : np.random.Generator
        Source of oscillator phases and noise.

    Returns
    -------
    np.ndarray, shape (round(duration * sr) + release samples,)
    """
    n_hold = max(int(duration * sr), 1)
    n = n_hold + int(inst.release * sr)
    t = np.arange(n) / sr
    f0 = float(midi_to_hz(midi))
    note = int(round(midi))
    phase = _phase(inst, midi, t, sr, rng)
    index = ((phase % 1.0) * TABLE_SIZE).astype(np.intp)
    tone = wavetable(inst, note, sr, False)[index]
    if inst.dull_tilt > 0:
        bright = np.exp(-t / inst.bright_tau)
        tone = bright * tone + (1.0 - bright) * wavetable(inst, note, sr, True)[index]
    if inst.detune_cents > 0:
        detuned = (phase * 2.0 ** (inst.detune_cents / 1200.0) + 0.37) % 1.0
        tone = 0.6 * (
            tone + wavetable(inst, note, sr, False)[(detuned * TABLE_SIZE).astype(np.intp)]
        )
    if inst.breath > 0:
        tone = tone + inst.breath * 4.0 * rng.standard_normal(n)
    env = _envelope(inst, n_hold, n, f0, sr)
    out = tone * env
    if inst.noise_attack > 0:
        n_click = min(n, int(0.03 * sr))
        click = rng.standard_normal(n_click) * np.exp(-np.arange(n_click) / (0.004 * sr))
        out[:n_click] += inst.noise_attack * click
    return out


@dataclass(frozen=True)
class Note:
    """One pitched event: onset and held duration in seconds, MIDI pitch, linear velocity."""

    onset: float
    duration: float
    midi: int
    velocity: float


def render_notes(
    notes: list[Note], inst: Instrument, n_samples: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Mix ``notes`` played by ``inst`` into a track of shape (n_samples,).

    Identical (pitch, duration) notes are rendered once and reused: repeated comping chords and
    bass riffs make this the main speed-up of the whole generator.
    """
    track = np.zeros(n_samples)
    cache: dict[tuple[int, int], np.ndarray] = {}
    for note in notes:
        key = (note.midi, int(note.duration * 100))  # 10 ms duration buckets
        if key not in cache:
            cache[key] = render_note(inst, note.midi, key[1] / 100.0 + 0.005, sr, rng)
        place(track, cache[key], int(round(note.onset * sr)), note.velocity)
    return track
