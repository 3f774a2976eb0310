"""Chords, progressions and voicings: the harmonic skeleton of a clip.

Progressions are written as Roman numerals relative to the key ("ii9 V13 Imaj9"): upper case
is a major chord, lower case minor, 'b' flattens the degree, and the suffix picks the quality
(7, maj7, 9, maj9, 13, 5 = power chord, dim, sus4, add9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .timing import STEPS_PER_BAR

DEGREES = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}

# Intervals in semitones above the chord root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dom7": (0, 4, 7, 10),
    "min7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "dom9": (0, 4, 7, 10, 14),
    "min9": (0, 3, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "dom13": (0, 4, 10, 14, 21),
    "power": (0, 7, 12),
    "dim": (0, 3, 6),
    "sus4": (0, 5, 7),
    "add9": (0, 4, 7, 14),
}

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "major_pent": (0, 2, 4, 7, 9),
    "minor_pent": (0, 3, 5, 7, 10),
    "bebop": (0, 2, 4, 5, 7, 9, 10, 11),
}

_TOKEN = re.compile(r"^(b?)(vii|iii|iv|vi|ii|v|i)(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Chord:
    """A chord as a root pitch class (0 = key tonic) and intervals above the root."""

    root: int
    intervals: tuple[int, ...]

    def pitch_classes(self, key: int) -> set[int]:
        """Absolute pitch classes (0 = C) of the chord in ``key``."""
        return {(key + self.root + interval) % 12 for interval in self.intervals}


@dataclass(frozen=True)
class Progression:
    """A looped chord sequence: Roman-numeral text, beats per chord and the melody scale."""

    text: str
    beats_per_chord: int
    scale: str

    @property
    def chords(self) -> tuple[Chord, ...]:
        """Parsed chords in order."""
        return tuple(parse_chord(token) for token in self.text.split())


def parse_chord(token: str) -> Chord:
    """Parse one Roman-numeral token such as 'bVII', 'ii7', 'V13' or 'i5'."""
    match = _TOKEN.match(token)
    if match is None:
        raise ValueError(f"cannot parse chord {token!r}")
    flat, numeral, suffix = match.groups()
    major = numeral.isupper()
    root = (DEGREES[numeral.lower()] - (1 if flat else 0)) % 12
    by_suffix = {
        "": "maj" if major else "min",
        "7": "dom7" if major else "min7",
        "maj7": "maj7",
        "9": "dom9" if major else "min9",
        "maj9": "maj9",
        "13": "dom13",
        "5": "power",
        "dim": "dim",
        "sus4": "sus4",
        "add9": "add9",
    }
    if suffix not in by_suffix:
        raise ValueError(f"unknown chord quality {suffix!r} in {token!r}")
    return Chord(root=root, intervals=QUALITIES[by_suffix[suffix]])


@dataclass(frozen=True)
class ChordTimeline:
    """Which chord sounds at each 16th step of the clip."""

    chords: tuple[Chord, ...]
    steps_per_chord: int
    first: int  # index into ``chords`` of the chord at step 0

    def at(self, step: int) -> Chord:
        """Chord sounding at ``step``."""
        return self.chords[(self.first + step // self.steps_per_chord) % len(self.chords)]

    def next_change(self, step: int) -> int:
        """First step after ``step`` where a new chord starts."""
        return (step // self.steps_per_chord + 1) * self.steps_per_chord


def make_timeline(progression: Progression, rng: np.random.Generator) -> ChordTimeline:
    """Loop ``progression`` starting from a random chord (clips start mid-song)."""
    chords = progression.chords
    steps = max(progression.beats_per_chord * STEPS_PER_BAR // 4, 1)
    return ChordTimeline(chords=chords, steps_per_chord=steps, first=int(rng.integers(len(chords))))


def voice_chord(
    chord: Chord, key: int, register: tuple[int, int], rng: np.random.Generator
) -> list[int]:
    """MIDI notes of ``chord`` placed inside ``register`` (lowest, highest MIDI note).

    The inversion whose mean pitch lies closest to a random point in the register is chosen,
    which both keeps chords in the genre's register and gives smooth-ish voice leading.
    """
    low, high = register
    root = low + (key + chord.root - low) % 12
    base = [root + interval for interval in chord.intervals]
    target = rng.uniform(low + 3, max(high - 3, low + 4))
    best: list[int] = base
    best_distance = np.inf
    for inversion in range(len(base)):
        notes = sorted(base[inversion:] + [note + 12 for note in base[:inversion]])
        for shift in (-12, 0, 12):
            candidate = [note + shift for note in notes]
            if candidate[0] < low - 5 or candidate[-1] > high + 5:
                continue
            distance = abs(float(np.mean(candidate)) - target)
            if distance < best_distance:
                best, best_distance = candidate, distance
    return best


def scale_notes(key: int, scale: str, register: tuple[int, int]) -> np.ndarray:
    """All MIDI notes of ``scale`` in ``key`` within ``register`` (inclusive), ascending."""
    pitch_classes = {(key + interval) % 12 for interval in SCALES[scale]}
    return np.array([m for m in range(register[0], register[1] + 1) if m % 12 in pitch_classes])


def nearest_chord_tone(midi: int, chord: Chord, key: int, register: tuple[int, int]) -> int:
    """Chord tone closest to ``midi`` inside ``register``."""
    classes = chord.pitch_classes(key)
    candidates = [m for m in range(register[0], register[1] + 1) if m % 12 in classes]
    if not candidates:
        return midi
    return min(candidates, key=lambda m: abs(m - midi))
