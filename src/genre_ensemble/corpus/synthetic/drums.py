"""Synthesised drum kits and 16th-grid drum patterns.

Pattern strings have one character per 16th step ('.' rest, 'o' ghost, 'x' normal, 'X'
accent) and repeat every 16 or 32 steps. A kit is a set of per-voice synthesis parameters; each
clip jitters them by +-15 % so no two clips share exactly the same drum sounds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dsp import butter_filter, place
from .timing import Grid

VELOCITY = {"o": 0.35, "x": 0.7, "X": 1.0}

DRUM_PATTERNS: dict[str, dict[str, str]] = {
    "none": {},
    "shuffle": {"kick": "X.......x.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
    "shuffle_ride": {
        "kick": "X.......X.....x.",
        "snare": "....X..o....X...",
        "ride": "x.x.x.x.x.x.x.x.",
    },
    "train": {"kick": "X.......X.......", "snare": "oxoxXxoxoxoxXxox"},
    "country_backbeat": {
        "kick": "X.......X.......",
        "snare": "....X.......X...",
        "hat": "x.x.x.x.x.x.x.x.",
    },
    "four_floor": {
        "kick": "X...X...X...X...",
        "clap": "....X.......X...",
        "ohat": "..x...x...x...x.",
        "hat": "o...o...o...o...",
    },
    "four_floor_16": {
        "kick": "X...X...X...X...",
        "snare": "....X.......X...",
        "ohat": "..x...x...x...x.",
        "hat": "xoxoxoxoxoxoxoxo",
    },
    "boom_bap": {
        "kick": "X.........X.....",
        "snare": "....X.......X...",
        "hat": "x.x.x.x.x.x.x.x.",
    },
    "boom_bap2": {
        "kick": "X.....x...X.....",
        "snare": "....X.......X..o",
        "hat": "xoxxxoxxxoxxxoxx",
    },
    "swing_ride": {
        "ride": "X...x.x.X...x.x.",
        "pedal": "....x.......x...",
        "kick": "o...o...o...o...",
        "snare": "......o.......o.",
    },
    "swing_ride_brush": {
        "ride": "X...x.x.X...x.x.",
        "pedal": "....x.......x...",
        "brush": "x.x.x.x.x.x.x.x.",
    },
    "double_kick": {
        "kick": "XxXxXxXxXxXxXxXx",
        "snare": "....X.......X...",
        "crash": "X.......X.......",
    },
    "blast": {"kick": "X.X.X.X.X.X.X.X.", "snare": ".X.X.X.X.X.X.X.X", "crash": "X.x.X.x.X.x.X.x."},
    "pop8": {"kick": "X.....x.X.......", "clap": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
    "pop_syncop": {
        "kick": "X..x..x.X.......",
        "clap": "....X.......X...",
        "hat": "xoxoxoxoxoxoxoxo",
    },
    "one_drop": {"kick": "........X.......", "rim": "........X.......", "hat": "x.x.x.x.x.x.x.x."},
    "one_drop_hat16": {
        "kick": "........X.......",
        "snare": "........X.......",
        "hat": "xoxoxoxoxoxoxoxo",
        "rim": "...x..........x.",
    },
    "backbeat": {
        "kick": "X.......X.......",
        "snare": "....X.......X...",
        "hat": "x.x.x.x.x.x.x.x.",
        "crash": "X" + "." * 31,
    },
    "backbeat_var": {
        "kick": "X.....x.X.x.....",
        "snare": "....X.......X...",
        "hat": "x.x.x.x.x.x.x.x.",
        "crash": "X" + "." * 31,
    },
}

# Per-voice (synth name, parameter dict) for each kit; gains are relative voice levels.
KITS: dict[str, dict[str, dict[str, float]]] = {
    "acoustic": {
        "kick": {"f0": 110, "f1": 50, "decay": 0.25, "click": 0.3},
        "snare": {"tone": 190, "decay": 0.15, "hp": 1500, "mix": 0.4},
    },
    "brush": {
        "kick": {"f0": 90, "f1": 50, "decay": 0.2, "click": 0.1},
        "snare": {"tone": 0, "decay": 0.12, "hp": 800, "mix": 0.0, "swish": 1},
    },
    "disco": {
        "kick": {"f0": 120, "f1": 45, "decay": 0.3, "click": 0.4},
        "snare": {"tone": 200, "decay": 0.15, "hp": 2000, "mix": 0.3},
    },
    "boombap": {
        "kick": {"f0": 90, "f1": 40, "decay": 0.45, "click": 0.2},
        "snare": {"tone": 180, "decay": 0.2, "hp": 1000, "mix": 0.5},
    },
    "jazz": {
        "kick": {"f0": 80, "f1": 55, "decay": 0.2, "click": 0.05},
        "snare": {"tone": 0, "decay": 0.15, "hp": 800, "mix": 0.0, "swish": 1},
    },
    "metal": {
        "kick": {"f0": 140, "f1": 55, "decay": 0.12, "click": 1.0},
        "snare": {"tone": 230, "decay": 0.12, "hp": 2000, "mix": 0.3},
    },
    "pop": {
        "kick": {"f0": 100, "f1": 45, "decay": 0.35, "click": 0.5},
        "snare": {"tone": 210, "decay": 0.15, "hp": 1800, "mix": 0.35},
    },
    "reggae": {
        "kick": {"f0": 100, "f1": 50, "decay": 0.2, "click": 0.2},
        "snare": {"tone": 300, "decay": 0.08, "hp": 2500, "mix": 0.5},
    },
    "rock": {
        "kick": {"f0": 110, "f1": 50, "decay": 0.25, "click": 0.5},
        "snare": {"tone": 200, "decay": 0.18, "hp": 1500, "mix": 0.4},
    },
}

VOICE_GAIN = {
    "kick": 1.0,
    "snare": 0.8,
    "clap": 0.8,
    "hat": 0.3,
    "ohat": 0.35,
    "ride": 0.3,
    "crash": 0.45,
    "pedal": 0.2,
    "rim": 0.45,
    "brush": 0.3,
}


def _decay(n: int, sr: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * sr))


def kick(
    sr: int, rng: np.random.Generator, f0: float, f1: float, decay: float, click: float
) -> np.ndarray:
    """Pitched sine sweeping from ``f0`` down to ``f1`` Hz plus a beater click."""
    n = int(4 * decay * sr)
    t = np.arange(n) / sr
    freq = f1 + (f0 - f1) * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / decay)
    n_click = min(n, int(0.01 * sr))
    body[:n_click] += click * rng.standard_normal(n_click) * _decay(n_click, sr, 0.002)
    return body


def snare(
    sr: int,
    rng: np.random.Generator,
    tone: float,
    decay: float,
    hp: float,
    mix: float,
    swish: float = 0.0,
) -> np.ndarray:
    """Noise burst through a high-pass plus a short drum-head tone; ``swish`` makes it a brush."""
    n = int(4 * decay * sr)
    t = np.arange(n) / sr
    noise = butter_filter(rng.standard_normal(n), hp, sr, "highpass")
    envelope = np.exp(-t / decay)
    if swish:  # brushes are dragged: a soft 15 ms swell instead of a stick's instant hit
        envelope *= np.minimum(t / 0.015, 1.0)
    out = (1.0 - mix) * noise * envelope
    if mix > 0:
        out += mix * 2.0 * np.sin(2 * np.pi * tone * t) * np.exp(-t / 0.05)
    return out


def metal_noise(
    sr: int, rng: np.random.Generator, decay: float, hp: float, bell: float = 0.0
) -> np.ndarray:
    """Cymbal: high-passed noise, optionally with inharmonic bell partials (ride)."""
    n = int(3 * decay * sr)
    t = np.arange(n) / sr
    out = butter_filter(rng.standard_normal(n), hp, sr, "highpass", order=4)
    if bell:
        for freq in (3150.0, 4280.0, 5370.0):
            out += bell * np.sin(2 * np.pi * freq * rng.uniform(0.95, 1.05) * t)
    return out * np.exp(-t / decay)


def clap(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Three quick band-passed noise bursts then a short tail, like several hands."""
    n = int(0.3 * sr)
    noise = butter_filter(rng.standard_normal(n), (900.0, 2500.0), sr, "bandpass")
    envelope = np.zeros(n)
    for delay in (0.0, 0.011, 0.022):
        start = int(delay * sr)
        envelope[start:] += _decay(n - start, sr, 0.008 if delay < 0.02 else 0.08)
    return noise * envelope * 2.0


def rim(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Cross-stick click: a short 900 Hz tone with a noise tick."""
    n = int(0.08 * sr)
    t = np.arange(n) / sr
    return np.sin(2 * np.pi * 900.0 * t) * np.exp(-t / 0.012) + 0.3 * rng.standard_normal(
        n
    ) * np.exp(-t / 0.003)


def _jitter(params: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    return {name: value * rng.uniform(0.85, 1.15) for name, value in params.items()}


def voice_sample(voice: str, kit: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One drum hit of ``voice`` (kick, snare, hat, ...) in the style of ``kit``."""
    params = KITS[kit]
    bright = 1.2 if kit == "metal" else (0.8 if kit in ("boombap", "jazz") else 1.0)
    makers: dict[str, Callable[[], np.ndarray]] = {
        "kick": lambda: kick(sr, rng, **_jitter(params["kick"], rng)),
        "snare": lambda: snare(sr, rng, **_jitter(params["snare"], rng)),
        "brush": lambda: snare(sr, rng, tone=0, decay=0.1, hp=600, mix=0.0, swish=1),
        "hat": lambda: metal_noise(sr, rng, 0.035 * rng.uniform(0.7, 1.3), 7000 * bright),
        "ohat": lambda: metal_noise(sr, rng, 0.2 * rng.uniform(0.7, 1.3), 6000 * bright),
        "pedal": lambda: metal_noise(sr, rng, 0.025, 5000),
        "ride": lambda: metal_noise(sr, rng, 0.9 * rng.uniform(0.7, 1.3), 3500, bell=0.15),
        "crash": lambda: metal_noise(sr, rng, 1.2 * rng.uniform(0.7, 1.3), 2500 * bright),
        "clap": lambda: clap(sr, rng),
        "rim": lambda: rim(sr, rng),
    }
    sample = makers[voice]()
    return sample / (np.max(np.abs(sample)) + 1e-12)


def render_drums(
    pattern: str,
    kit: str,
    grid: Grid,
    n_samples: int,
    sr: int,
    rng: np.random.Generator,
    humanize_s: float,
) -> np.ndarray:
    """Render the named drum ``pattern`` on ``grid`` into a track of shape (n_samples,).

    ``humanize_s`` is the standard deviation of timing jitter in seconds (0 for a drum machine).
    """
    track = np.zeros(n_samples)
    for voice, steps in DRUM_PATTERNS[pattern].items():
        sample = voice_sample(voice, kit, sr, rng)
        gain = VOICE_GAIN[voice] * rng.uniform(0.75, 1.25)
        for step in range(grid.n_steps):
            symbol = steps[step % len(steps)]
            if symbol == ".":
                continue
            onset = grid.time(step) + humanize_s * rng.standard_normal()
            velocity = VELOCITY[symbol] * rng.uniform(0.9, 1.1)
            place(track, sample, int(round(onset * sr)), gain * velocity)
    return track
