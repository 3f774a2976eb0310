"""Note lists for the pitched parts of a clip (comping chords, bass, melody) and the two
non-pitched extras (rap-like formant voice, vinyl crackle).

Rhythm templates are strings on the 16th grid. Comping: 'X'/'x'/'o' play the whole chord
(accent/normal/ghost), digits '1'..'4' play one note of the voicing (arpeggios), '-' holds,
'.' rests. Bass: 'R' root, '3' third, '5' fifth, '6' sixth, '7' seventh, '8' octave,
'W' walking-bass choice, 'A' chromatic approach to the next chord's root.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .dsp import place
from .harmony import ChordTimeline, nearest_chord_tone, scale_notes, voice_chord
from .instruments import Note
from .timing import Grid

COMP_PATTERNS: dict[str, str] = {
    "sustain_bar": "x---------------",
    "sustain_2bar": "x" + "-" * 31,
    "half_notes": "x-------x-------",
    "arp8": "1-2-3-4-1-2-3-4-",
    "shuffle_comp": "X-x-X-x-X-x-X-x-",
    "skank": "..X-..X-..X-..X-",
    "skank_bubble": "..X..oX...X..oX.",
    "strum8": "X-x-X-x-X-x-X-x-",
    "boom_chick": "1---X-x.2---X-x.",
    "charleston": "X-----x-........",
    "jazz_comp": "...x-.....x-.x-.",
    "clav_16": "x.xx..x.x.xx..x.",
    "disco_stabs": "x..x..x.x..x..x.",
    "chug16": "XxxxXxxxXxxxXxxx",
    "chug8": "X-x-X-x-XxxxX-x-",
    "pop8_piano": "x-x-x-x-x-x-x-x-",
    "pluck_syncop": "x..x..x...x..x..",
    "lofi_stabs": "x-----x---x-----",
}

BASS_PATTERNS: dict[str, str] = {
    "boogie": "R-3-5-6-7-6-5-3-",
    "root_quarters": "R---R---R---R---",
    "half_roots": "R-------5-------",
    "whole_roots": "R---------------",
    "root_fifth": "R--.....5--.....",
    "octave8": "R-8-R-8-R-8-R-8-",
    "octave16": "R.8.R.8.R.8.R.8.",
    "sub808": "R---------R-----",
    "sub808_b": "R-----R---R-----",
    "walking": "W---W---W---A---",
    "follow16": "RRRRRRRRRRRRRRRR",
    "root8": "R-R-R-R-R-R-R-R-",
    "root_syncop": "R--R--R-R-------",
    "reggae_a": "R---..R-5-R-....",
    "reggae_b": "....R-R-5-3-R---",
}

COMP_VELOCITY = {"X": 1.0, "x": 0.75, "o": 0.45}

# Formant centre frequencies (F1, F2) in Hz of the vowels a, e, i, o, u.
VOWELS = ((730.0, 1090.0), (530.0, 1840.0), (270.0, 2290.0), (570.0, 840.0), (300.0, 870.0))


def parse_rhythm(pattern: str) -> list[tuple[int, int, str]]:
    """Split a rhythm template into (offset step, length in steps, symbol) hits."""
    hits = []
    for offset, symbol in enumerate(pattern):
        if symbol in "-.":
            continue
        length = 1
        while offset + length < len(pattern) and pattern[offset + length] == "-":
            length += 1
        hits.append((offset, length, symbol))
    return hits


def _iter_hits(pattern: str, n_steps: int):
    """Yield (absolute step, length, symbol) for ``pattern`` looped over ``n_steps`` steps."""
    hits = parse_rhythm(pattern)
    for start in range(0, n_steps, len(pattern)):
        for offset, length, symbol in hits:
            if start + offset < n_steps:
                yield start + offset, length, symbol


def comp_notes(
    pattern: str,
    timeline: ChordTimeline,
    grid: Grid,
    key: int,
    register: tuple[int, int],
    rng: np.random.Generator,
    humanize_s: float,
) -> list[Note]:
    """Chord-instrument notes: the comping ``pattern`` applied to the chord timeline."""
    notes: list[Note] = []
    voicings: dict[int, list[int]] = {}
    strum_s = rng.uniform(0.0, 0.02)  # guitarists spread a chord, keyboard players barely do
    for step, length, symbol in _iter_hits(COMP_PATTERNS[pattern], grid.n_steps):
        segment = step // timeline.steps_per_chord
        if segment not in voicings:
            voicings[segment] = voice_chord(timeline.at(step), key, register, rng)
        voicing = voicings[segment]
        length = min(length, timeline.next_change(step) - step)
        duration = 0.92 * grid.duration(step, length)
        onset = grid.time(step) + humanize_s * rng.standard_normal()
        if symbol.isdigit():
            chosen, velocity = [voicing[(int(symbol) - 1) % len(voicing)]], 0.8
        else:
            chosen, velocity = voicing, COMP_VELOCITY[symbol]
        for order, midi in enumerate(chosen):
            notes.append(
                Note(onset + order * strum_s, duration, midi, velocity * rng.uniform(0.85, 1.0))
            )
    return notes


def _bass_pitch(
    symbol: str,
    step: int,
    length: int,
    previous: int,
    timeline: ChordTimeline,
    key: int,
    register: tuple[int, int],
    rng: np.random.Generator,
) -> int:
    """MIDI pitch for one bass-template symbol."""
    chord = timeline.at(step)
    low = register[0]
    root = low + (key + chord.root - low) % 12
    third = next((i for i in chord.intervals if i in (3, 4)), 4)
    seventh = next((i for i in chord.intervals if i in (10, 11)), 10)
    offsets = {"R": 0, "3": third, "5": 7, "6": 9, "7": seventh, "8": 12}
    if symbol in offsets:
        return root + offsets[symbol]
    if symbol == "A":
        upcoming = timeline.at(step + length)
        target = low + (key + upcoming.root - low) % 12
        return target + int(rng.choice([-1, 1]))
    # Walking: the root on a chord change, otherwise a nearby chord tone.
    if step % timeline.steps_per_chord == 0:
        return root
    classes = chord.pitch_classes(key)
    candidates = [
        m for m in range(low, register[1] + 1) if m % 12 in classes and 0 < abs(m - previous) <= 7
    ]
    return int(rng.choice(candidates)) if candidates else root


def bass_notes(
    pattern: str,
    timeline: ChordTimeline,
    grid: Grid,
    key: int,
    register: tuple[int, int],
    rng: np.random.Generator,
    humanize_s: float,
) -> list[Note]:
    """Bass-line notes from a bass template (root, walking, octave, 808, ...)."""
    notes: list[Note] = []
    previous = register[0] + 7
    for step, length, symbol in _iter_hits(BASS_PATTERNS[pattern], grid.n_steps):
        midi = _bass_pitch(symbol, step, length, previous, timeline, key, register, rng)
        previous = midi
        accent = 1.0 if step % 4 == 0 else 0.8
        notes.append(
            Note(
                grid.time(step) + humanize_s * rng.standard_normal(),
                0.9 * grid.duration(step, length),
                int(midi),
                accent * rng.uniform(0.85, 1.0),
            )
        )
    return notes


def melody_notes(
    timeline: ChordTimeline,
    grid: Grid,
    key: int,
    scale: str,
    register: tuple[int, int],
    density: float,
    rng: np.random.Generator,
    humanize_s: float,
    chromatic: float,
    unit: int = 2,
) -> list[Note]:
    """A random-walk melody on ``unit``-step positions.

    Strong beats snap to chord tones so the melody reinforces the harmony that chroma sees;
    ``chromatic`` is the probability of a passing tone a semitone off the scale (jazz); whole
    bars are left empty now and then so that phrases breathe.
    """
    pool = scale_notes(key, scale, register)
    if density <= 0 or pool.size == 0:
        return []
    index = int(rng.integers(pool.size // 4, max(3 * pool.size // 4, pool.size // 4 + 1)))
    resting = rng.random(grid.n_steps // 16 + 1) < 0.2
    onsets: list[tuple[int, int]] = []
    for step in range(0, grid.n_steps, unit):
        strong = step % 4 == 0
        if resting[step // 16] or rng.random() >= density * (1.3 if strong else 0.8):
            continue
        index += int(rng.choice([-3, -2, -1, -1, 1, 1, 2, 3]))
        if index < 0 or index >= pool.size:  # bounce off the register edges
            index = int(np.clip(2 * np.clip(index, 0, pool.size - 1) - index, 0, pool.size - 1))
        midi = int(pool[index])
        if strong and rng.random() < 0.7:
            midi = nearest_chord_tone(midi, timeline.at(step), key, register)
            index = int(np.clip(np.searchsorted(pool, midi), 0, pool.size - 1))
        elif rng.random() < chromatic:
            midi += int(rng.choice([-1, 1]))
        onsets.append((step, midi))
    notes = []
    for position, (step, midi) in enumerate(onsets):
        following = onsets[position + 1][0] if position + 1 < len(onsets) else step + 4
        length = min(following - step, 8)
        notes.append(
            Note(
                grid.time(step) + humanize_s * rng.standard_normal(),
                0.9 * grid.duration(step, length),
                midi,
                rng.uniform(0.7, 1.0),
            )
        )
    return notes


def voice_track(
    grid: Grid, n_samples: int, sr: int, rng: np.random.Generator, density: float = 0.55
) -> np.ndarray:
    """Rap-like speech: buzzy glottal syllables through two vowel formant filters.

    Returns
    -------
    np.ndarray, shape (n_samples,)
    """
    track = np.zeros(n_samples)
    pitch = rng.uniform(95.0, 170.0)
    filters = [
        (
            signal.butter(2, (0.85 * f1, 1.15 * f1), "bandpass", fs=sr, output="sos"),
            signal.butter(2, (0.9 * f2, 1.1 * f2), "bandpass", fs=sr, output="sos"),
        )
        for f1, f2 in VOWELS
    ]
    resting = rng.random(grid.n_steps // 16 + 1) < 0.25
    step = 0
    while step < grid.n_steps:
        length = int(rng.choice([1, 1, 2]))
        n = int(0.9 * grid.duration(step, length) * sr)
        if not resting[step // 16] and rng.random() < density and n > 1:
            t = np.arange(n) / sr
            freq = pitch * rng.uniform(0.85, 1.15) * (1.0 - 0.15 * t / t[-1])
            source = 2.0 * (np.cumsum(freq) / sr % 1.0) - 1.0 + 0.2 * rng.standard_normal(n)
            first, second = filters[int(rng.integers(len(filters)))]
            syllable = signal.sosfilt(first, source) + 0.6 * signal.sosfilt(second, source)
            # sin(pi * x) rounds to tiny negatives at x = 1; clip before the square root.
            syllable *= np.sqrt(np.clip(np.sin(np.linspace(0.0, np.pi, n)), 0.0, None))
            place(track, syllable, int(grid.time(step) * sr), rng.uniform(0.6, 1.0))
        step += length
    return track


def crackle_track(n_samples: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Vinyl crackle: sparse random clicks, differentiated so they sit in the highs."""
    count = int(rng.poisson(25.0 * n_samples / sr))
    track = np.zeros(n_samples)
    positions = rng.integers(0, n_samples, count)
    np.add.at(track, positions, rng.exponential(1.0, count) * rng.choice([-1.0, 1.0], count))
    return np.diff(track, prepend=0.0)
