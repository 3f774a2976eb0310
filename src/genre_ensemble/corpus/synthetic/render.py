"""Turn a genre spec into a clip: draw a per-clip :class:`ClipPlan`, then render and mix it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.labels import label_index

from .drums import render_drums
from .dsp import colored_noise, compress, normalize_rms, reverb, rms, smooth_curve, soft_clip, tilt
from .harmony import Progression, make_timeline
from .instruments import INSTRUMENTS, render_notes
from .parts import bass_notes, comp_notes, crackle_track, melody_notes, voice_track
from .specs import ELEMENT_FIELDS, SPECS, GenreSpec, Mix, Range
from .timing import STEPS_PER_BEAT, Grid, build_grid

GENRE_INDEX = label_index(GENRES)


@dataclass(frozen=True)
class ClipPlan:
    """Every random choice of one clip, drawn before any audio is rendered.

    ``borrowed`` lists the (element, donor genre) pairs taken from other genres; the remaining
    fields are concrete values (tempo in bpm, times in s, levels in dB, registers as MIDI notes).
    """

    genre: str
    borrowed: tuple[tuple[str, str], ...]
    key: int
    tempo: float
    rubato: float
    swing: float
    swing_unit: int
    drum_pattern: str
    kit: str
    comp_pattern: str
    humanize_s: float
    progression: Progression
    chromatic: float
    chord_instrument: str
    melody_instrument: str | None
    drive: float
    bass_pattern: str
    bass_instrument: str
    bass_register: tuple[int, int]
    chord_register: tuple[int, int]
    melody_register: tuple[int, int]
    melody_density: float
    counter_melody: bool
    mix: Mix
    compression: float
    reverb_decay: float
    reverb_wet: float
    brightness: float
    dynamics: float
    extras: tuple[str, ...]
    peak: float
    noise_db: float
    noise_color: float
    start_step: int


def clip_rng(genre: str, seed: int) -> np.random.Generator:
    """The single random generator a clip draws everything from."""
    return np.random.default_rng(np.random.SeedSequence([seed, GENRE_INDEX[genre]]))


def _borrow(
    genre: str, difficulty: float, rng: np.random.Generator
) -> tuple[GenreSpec, tuple[tuple[str, str], ...]]:
    """Each element independently comes from a random other genre with p = difficulty / 2."""
    spec = SPECS[genre]
    others = [name for name in GENRES if name != genre]
    borrowed = []
    for element, fields in ELEMENT_FIELDS.items():
        if rng.random() < 0.5 * difficulty:
            donor = others[int(rng.integers(len(others)))]
            spec = replace(spec, **{field: getattr(SPECS[donor], field) for field in fields})
            borrowed.append((element, donor))
    return spec, tuple(borrowed)


def _uniform(
    rng: np.random.Generator, bounds: Range, spread: float = 0.0, limits: Range = (-np.inf, np.inf)
) -> float:
    """Uniform draw from ``bounds`` widened by ``spread`` (relative) on both sides."""
    low, high = bounds
    width = (high - low) + spread * (abs(low) + abs(high)) / 2.0
    middle = (low + high) / 2.0
    return float(np.clip(rng.uniform(middle - width / 2.0, middle + width / 2.0), *limits))


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _shift(register: tuple[int, int], semitones: int) -> tuple[int, int]:
    return register[0] + semitones, register[1] + semitones


def draw_plan(genre: str, difficulty: float, rng: np.random.Generator) -> ClipPlan:
    """Draw all per-clip choices; ``difficulty`` borrows elements and widens every range."""
    spec, borrowed = _borrow(genre, difficulty, rng)
    d = difficulty
    max_shift = int(round(6 * d))
    register_shift = int(rng.integers(-max_shift, max_shift + 1))
    melody_instrument = _pick(rng, spec.melody_instruments)
    if rng.random() < 0.3 * d:  # at high difficulty some clips lose their melody
        melody_instrument = None
    level_spread = 2.0 + 4.0 * d
    mix = Mix(
        *(
            level + rng.uniform(-level_spread, level_spread)
            for level in (
                spec.mix.drums,
                spec.mix.bass,
                spec.mix.chords,
                spec.mix.melody,
                spec.mix.voice,
            )
        )
    )
    return ClipPlan(
        genre=genre,
        borrowed=borrowed,
        key=int(rng.integers(12)),
        tempo=_uniform(rng, spec.tempo, 0.5 * d, (40.0, 240.0)),
        rubato=spec.rubato * rng.uniform(0.5, 1.0 + d),
        swing=_uniform(rng, (spec.swing[0] - 0.3 * d, spec.swing[1] + 0.3 * d), 0.0, (0.0, 1.0)),
        swing_unit=spec.swing_unit,
        drum_pattern=_pick(rng, spec.drum_patterns),
        kit=spec.kit,
        comp_pattern=_pick(rng, spec.comp_patterns),
        humanize_s=spec.humanize_ms * rng.uniform(0.5, 1.5) / 1000.0,
        progression=spec.progressions[int(rng.integers(len(spec.progressions)))],
        chromatic=spec.chromatic,
        chord_instrument=_pick(rng, spec.chord_instruments),
        melody_instrument=melody_instrument,
        drive=_uniform(rng, spec.drive, d, (1.0, 60.0)),
        bass_pattern=_pick(rng, spec.bass_patterns),
        bass_instrument=_pick(rng, spec.bass_instruments),
        bass_register=spec.bass_register,
        chord_register=_shift(spec.chord_register, register_shift),
        melody_register=_shift(spec.melody_register, register_shift),
        melody_density=spec.melody_density * rng.uniform(1.0 - 0.5 * d, 1.0 + 0.5 * d),
        counter_melody=spec.counter_melody,
        mix=mix,
        compression=_uniform(
            rng,
            (spec.compression - 0.1 - 0.3 * d, spec.compression + 0.1 + 0.3 * d),
            0.0,
            (0.0, 1.0),
        ),
        reverb_decay=_uniform(rng, spec.reverb_decay, d, (0.1, 3.0)),
        reverb_wet=_uniform(rng, spec.reverb_wet, d, (0.0, 0.6)),
        brightness=spec.brightness + rng.uniform(-0.1 - 0.3 * d, 0.1 + 0.3 * d),
        dynamics=spec.dynamics * rng.uniform(0.6, 1.0),
        extras=spec.extras,
        peak=_uniform(rng, spec.peak),
        noise_db=-50.0 + 35.0 * d + rng.uniform(-5.0, 5.0),
        noise_color=rng.uniform(0.0, 1.0),
        start_step=STEPS_PER_BEAT + int(rng.integers(16)),
    )


def _render_tracks(
    plan: ClipPlan, rng: np.random.Generator, grid: Grid, n_buffer: int, sr: int
) -> dict[str, np.ndarray]:
    """Render each part of the arrangement as its own track, shape (n_buffer,) each."""
    timeline = make_timeline(plan.progression, rng)
    tracks: dict[str, np.ndarray] = {}
    if plan.drum_pattern != "none":
        tracks["drums"] = render_drums(
            plan.drum_pattern, plan.kit, grid, n_buffer, sr, rng, plan.humanize_s
        )
    notes = bass_notes(
        plan.bass_pattern, timeline, grid, plan.key, plan.bass_register, rng, plan.humanize_s
    )
    tracks["bass"] = render_notes(notes, INSTRUMENTS[plan.bass_instrument], n_buffer, sr, rng)
    notes = comp_notes(
        plan.comp_pattern, timeline, grid, plan.key, plan.chord_register, rng, plan.humanize_s
    )
    chords = render_notes(notes, INSTRUMENTS[plan.chord_instrument], n_buffer, sr, rng)
    tracks["chords"] = soft_clip(chords, plan.drive, sr)
    if plan.melody_instrument is not None and plan.melody_density > 0:
        notes = melody_notes(
            timeline,
            grid,
            plan.key,
            plan.progression.scale,
            plan.melody_register,
            plan.melody_density,
            rng,
            plan.humanize_s,
            plan.chromatic,
        )
        if plan.counter_melody:  # a slower second line a register lower (counterpoint)
            low = plan.chord_register[0] - 7
            notes += melody_notes(
                timeline,
                grid,
                plan.key,
                plan.progression.scale,
                (low, low + 17),
                0.6,
                rng,
                plan.humanize_s,
                0.0,
                unit=8,
            )
        melody = render_notes(notes, INSTRUMENTS[plan.melody_instrument], n_buffer, sr, rng)
        tracks["melody"] = soft_clip(melody, plan.drive, sr)
    if "voice" in plan.extras:
        tracks["voice"] = voice_track(grid, n_buffer, sr, rng)
    return tracks


def _mix(
    tracks: dict[str, np.ndarray], plan: ClipPlan, rng: np.random.Generator, sr: int
) -> np.ndarray:
    """Balance tracks by the plan's levels, then master: tone, reverb, compression, dynamics."""
    levels = {
        "drums": plan.mix.drums,
        "bass": plan.mix.bass,
        "chords": plan.mix.chords,
        "melody": plan.mix.melody,
        "voice": plan.mix.voice,
    }
    mix = sum(
        normalize_rms(track) * 10.0 ** (levels[name] / 20.0) for name, track in tracks.items()
    )
    if "crackle" in plan.extras:
        mix = mix + normalize_rms(crackle_track(mix.shape[0], sr, rng), 0.05 * rms(mix))
    mix = tilt(mix, sr, plan.brightness)
    mix = reverb(mix, sr, rng, plan.reverb_decay, plan.reverb_wet)
    mix = compress(mix, sr, plan.compression)
    if plan.dynamics > 0:  # slow crescendi and decrescendi of up to ~18 dB
        swell = 0.5 + 0.5 * smooth_curve(mix.shape[0], rng, 3)
        mix = mix * 10.0 ** (-plan.dynamics * 18.0 * swell / 20.0)
    return mix


def render_plan(plan: ClipPlan, rng: np.random.Generator, seconds: float, sr: int) -> np.ndarray:
    """Render ``plan`` to a float32 clip of shape (round(seconds * sr),) with peak ``plan.peak``."""
    n = int(round(seconds * sr))
    # Enough steps for the lead-in plus the clip even when rubato shortens every beat.
    shortest_step = 60.0 / plan.tempo / STEPS_PER_BEAT * math.exp(-plan.rubato)
    n_steps = plan.start_step + int(math.ceil((seconds + 0.5) / shortest_step)) + 1
    grid = build_grid(
        plan.tempo, n_steps, swing=plan.swing, unit=plan.swing_unit, rubato=plan.rubato, rng=rng
    )
    # The clip starts mid-bar, after a lead-in, so notes and reverb tails are already sounding.
    begin = int(grid.time(plan.start_step) * sr)
    n_buffer = begin + n + int(0.1 * sr)
    tracks = _render_tracks(plan, rng, grid, n_buffer, sr)
    mix = _mix(tracks, plan, rng, sr)
    clip = mix[begin : begin + n]
    clip = clip + colored_noise(n, sr, rng, plan.noise_color) * rms(clip) * 10.0 ** (
        plan.noise_db / 20.0
    )
    clip = clip * (plan.peak / (np.max(np.abs(clip)) + 1e-12))
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


def validate(genre: str, seconds: float, sr: int, difficulty: float) -> None:
    """Raise ValueError for arguments :func:`synthesize_clip` cannot honour."""
    if genre not in GENRE_INDEX:
        raise ValueError(f"unknown genre {genre!r}; expected one of {', '.join(GENRES)}")
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    if sr < 4000:
        raise ValueError(f"sr must be at least 4000 Hz, got {sr}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")


def plan_clip(genre: str, seed: int, *, difficulty: float = 0.5) -> ClipPlan:
    """The :class:`ClipPlan` that ``synthesize_clip(genre, seed, difficulty=...)`` renders."""
    validate(genre, 1.0, 22050, difficulty)
    return draw_plan(genre, difficulty, clip_rng(genre, seed))


def synthesize_clip(
    genre: str, seed: int, *, seconds: float = 10.0, sr: int = 22050, difficulty: float = 0.5
) -> np.ndarray:
    """Synthesise one clip of ``genre``.

    Parameters
    ----------
    genre : str
        One of :data:`genre_ensemble.core.labels.GTZAN_GENRES`.
    seed : int
        Non-negative seed; the same arguments always give the same audio.
    seconds : float
        Clip length in seconds.
    sr : int
        Sample rate in Hz.
    difficulty : float
        0 = textbook genres, 1 = heavily overlapping genres (borrowed elements, wide ranges,
        more noise).

    Returns
    -------
    np.ndarray, shape (round(seconds * sr),), float32
        Mono audio with peak <= 1.0 (about 0.9; classical may be quieter).

    Raises
    ------
    ValueError
        For an unknown genre, ``seconds`` <= 0, ``difficulty`` outside [0, 1] or a negative seed.
    """
    validate(genre, seconds, sr, difficulty)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    rng = clip_rng(genre, seed)
    plan = draw_plan(genre, difficulty, rng)
    return render_plan(plan, rng, seconds, sr)
