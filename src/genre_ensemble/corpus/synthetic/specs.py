"""One declarative :class:`GenreSpec` per genre; the renderer is shared by all of them.

The spec fields are grouped into *elements* (rhythm, tempo, harmony, instrument, bass, register,
production). With ``difficulty`` > 0 a clip may borrow whole elements from another genre, see
:data:`ELEMENT_FIELDS`, so that each element (and hence each representation that sees it) is an
imperfect clue on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from .harmony import Progression

Range = tuple[float, float]


@dataclass(frozen=True)
class Mix:
    """Track levels in dB after each track is normalised to unit RMS."""

    drums: float
    bass: float
    chords: float
    melody: float
    voice: float = -5.0


@dataclass(frozen=True)
class GenreSpec:
    """Everything that characterises a genre for the generator (ranges are drawn per clip)."""

    # rhythm
    drum_patterns: tuple[str, ...]
    kit: str
    swing: Range
    swing_unit: int
    comp_patterns: tuple[str, ...]
    humanize_ms: float
    # tempo
    tempo: Range
    rubato: float
    # harmony
    progressions: tuple[Progression, ...]
    chromatic: float
    # instrument
    chord_instruments: tuple[str, ...]
    melody_instruments: tuple[str, ...]
    drive: Range
    # bass
    bass_patterns: tuple[str, ...]
    bass_instruments: tuple[str, ...]
    bass_register: tuple[int, int]
    # register (melodic range and activity)
    chord_register: tuple[int, int]
    melody_register: tuple[int, int]
    melody_density: float
    counter_melody: bool
    # production
    mix: Mix
    compression: float
    reverb_decay: Range
    reverb_wet: Range
    brightness: float
    dynamics: float  # depth of slow crescendi/decrescendi, 0..1
    extras: tuple[str, ...]
    peak: Range


ELEMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "rhythm": ("drum_patterns", "kit", "swing", "swing_unit", "comp_patterns", "humanize_ms"),
    "tempo": ("tempo", "rubato"),
    "harmony": ("progressions", "chromatic"),
    "instrument": ("chord_instruments", "melody_instruments", "drive"),
    "bass": ("bass_patterns", "bass_instruments", "bass_register"),
    "register": ("chord_register", "melody_register", "melody_density", "counter_melody"),
    "production": (
        "mix",
        "compression",
        "reverb_decay",
        "reverb_wet",
        "brightness",
        "dynamics",
        "extras",
        "peak",
    ),
}


def _progressions(*items: tuple[str, int, str]) -> tuple[Progression, ...]:
    return tuple(Progression(text, beats, scale) for text, beats, scale in items)


CLEAN: Range = (1.0, 1.0)
FULL_PEAK: Range = (0.85, 0.95)

SPECS: dict[str, GenreSpec] = {
    "blues": GenreSpec(
        drum_patterns=("shuffle", "shuffle_ride"),
        kit="acoustic",
        swing=(0.8, 1.0),
        swing_unit=8,
        comp_patterns=("shuffle_comp", "sustain_bar"),
        humanize_ms=8.0,
        tempo=(60.0, 120.0),
        rubato=0.0,
        progressions=_progressions(
            ("I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7", 4, "blues"),
            ("I7 IV7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 I7", 4, "blues"),
        ),
        chromatic=0.05,
        chord_instruments=("piano", "clean_guitar", "organ"),
        melody_instruments=("lead_guitar", "melodica"),
        drive=(1.0, 2.5),
        bass_patterns=("boogie", "root_quarters"),
        bass_instruments=("electric_bass", "upright_bass"),
        bass_register=(28, 45),
        chord_register=(52, 67),
        melody_register=(52, 76),
        melody_density=0.45,
        counter_melody=False,
        mix=Mix(drums=-8, bass=-8, chords=-5, melody=-4),
        compression=0.2,
        reverb_decay=(0.6, 1.2),
        reverb_wet=(0.1, 0.25),
        brightness=0.0,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
    "classical": GenreSpec(
        drum_patterns=("none",),
        kit="acoustic",
        swing=(0.0, 0.0),
        swing_unit=8,
        comp_patterns=("sustain_bar", "arp8", "half_notes"),
        humanize_ms=15.0,
        tempo=(50.0, 140.0),
        rubato=0.12,
        progressions=_progressions(
            ("I IV V I", 4, "major"),
            ("I vi ii V7", 4, "major"),
            ("i iv V7 i", 4, "harmonic_minor"),
            ("I ii V7 I vi IV V7 I", 2, "major"),
            ("i VI iv V", 4, "harmonic_minor"),
        ),
        chromatic=0.0,
        chord_instruments=("strings", "piano", "winds"),
        melody_instruments=("violin", "flute", "piano", "clarinet"),
        drive=CLEAN,
        bass_patterns=("half_roots", "whole_roots"),
        bass_instruments=("cello", "contrabass"),
        bass_register=(36, 55),
        chord_register=(55, 76),
        melody_register=(67, 91),
        melody_density=0.5,
        counter_melody=True,
        mix=Mix(drums=-10, bass=-7, chords=-5, melody=-3),
        compression=0.0,
        reverb_decay=(1.5, 2.5),
        reverb_wet=(0.3, 0.45),
        brightness=-0.3,
        dynamics=0.7,
        extras=(),
        peak=(0.35, 0.9),
    ),
    "country": GenreSpec(
        drum_patterns=("train", "country_backbeat"),
        kit="brush",
        swing=(0.0, 0.2),
        swing_unit=8,
        comp_patterns=("boom_chick", "strum8"),
        humanize_ms=6.0,
        tempo=(90.0, 130.0),
        rubato=0.0,
        progressions=_progressions(
            ("I IV V I", 4, "major_pent"),
            ("I I IV I V IV I I", 4, "major_pent"),
            ("I IV I V", 4, "major_pent"),
            ("I V IV I", 2, "major_pent"),
        ),
        chromatic=0.0,
        chord_instruments=("acoustic_guitar", "banjo", "clean_guitar"),
        melody_instruments=("fiddle", "steel_guitar"),
        drive=CLEAN,
        bass_patterns=("root_fifth",),
        bass_instruments=("electric_bass", "upright_bass"),
        bass_register=(33, 48),
        chord_register=(55, 72),
        melody_register=(62, 86),
        melody_density=0.45,
        counter_melody=False,
        mix=Mix(drums=-8, bass=-8, chords=-4, melody=-5),
        compression=0.3,
        reverb_decay=(0.4, 0.9),
        reverb_wet=(0.1, 0.2),
        brightness=0.3,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
    "disco": GenreSpec(
        drum_patterns=("four_floor", "four_floor_16"),
        kit="disco",
        swing=(0.0, 0.1),
        swing_unit=16,
        comp_patterns=("clav_16", "disco_stabs", "sustain_bar"),
        humanize_ms=3.0,
        tempo=(110.0, 130.0),
        rubato=0.0,
        progressions=_progressions(
            ("i7 iv7", 4, "dorian"),
            ("Imaj7 IVmaj7", 4, "major"),
            ("i7 bVImaj7 bVIImaj7 i7", 4, "minor"),
            ("Imaj7 iii7 vi7 IVmaj7", 4, "major"),
            ("i7 iv7 i7 v7", 4, "dorian"),
        ),
        chromatic=0.0,
        chord_instruments=("clavinet", "strings", "epiano"),
        melody_instruments=("strings", "synth_lead"),
        drive=CLEAN,
        bass_patterns=("octave8", "octave16"),
        bass_instruments=("synth_bass", "electric_bass"),
        bass_register=(31, 45),
        chord_register=(57, 74),
        melody_register=(72, 91),
        melody_density=0.35,
        counter_melody=False,
        mix=Mix(drums=-4, bass=-6, chords=-7, melody=-8),
        compression=0.7,
        reverb_decay=(0.5, 1.0),
        reverb_wet=(0.1, 0.2),
        brightness=0.4,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
    "hiphop": GenreSpec(
        drum_patterns=("boom_bap", "boom_bap2"),
        kit="boombap",
        swing=(0.3, 0.7),
        swing_unit=16,
        comp_patterns=("sustain_2bar", "lofi_stabs"),
        humanize_ms=4.0,
        tempo=(80.0, 100.0),
        rubato=0.0,
        progressions=_progressions(
            ("i9", 8, "minor_pent"),
            ("i7 bVImaj7", 8, "minor_pent"),
            ("i9 iv9", 8, "minor_pent"),
            ("vi9 vi9 IVmaj7 IVmaj7", 4, "minor_pent"),
        ),
        chromatic=0.0,
        chord_instruments=("epiano", "pad", "piano"),
        melody_instruments=("epiano",),
        drive=CLEAN,
        bass_patterns=("sub808", "sub808_b"),
        bass_instruments=("sub808",),
        bass_register=(24, 36),
        chord_register=(55, 70),
        melody_register=(60, 72),
        melody_density=0.0,
        counter_melody=False,
        mix=Mix(drums=-3, bass=-4, chords=-9, melody=-9, voice=-5),
        compression=0.6,
        reverb_decay=(0.3, 0.6),
        reverb_wet=(0.05, 0.12),
        brightness=-0.2,
        dynamics=0.0,
        extras=("voice", "crackle"),
        peak=FULL_PEAK,
    ),
    "jazz": GenreSpec(
        drum_patterns=("swing_ride", "swing_ride_brush"),
        kit="jazz",
        swing=(0.6, 1.0),
        swing_unit=8,
        comp_patterns=("charleston", "jazz_comp"),
        humanize_ms=10.0,
        tempo=(90.0, 220.0),
        rubato=0.02,
        progressions=_progressions(
            ("ii9 V13 Imaj9 Imaj9", 4, "bebop"),
            ("iii7 vi7 ii9 V13", 2, "bebop"),
            ("Imaj7 vi7 ii7 V7", 2, "bebop"),
            ("ii7 V7 Imaj7 VI7", 4, "bebop"),
        ),
        chromatic=0.25,
        chord_instruments=("piano", "epiano", "jazz_guitar"),
        melody_instruments=("sax", "vibes", "trumpet"),
        drive=CLEAN,
        bass_patterns=("walking",),
        bass_instruments=("upright_bass",),
        bass_register=(28, 50),
        chord_register=(50, 67),
        melody_register=(50, 79),
        melody_density=0.6,
        counter_melody=False,
        mix=Mix(drums=-10, bass=-6, chords=-7, melody=-4),
        compression=0.1,
        reverb_decay=(0.6, 1.2),
        reverb_wet=(0.15, 0.25),
        brightness=-0.1,
        dynamics=0.2,
        extras=(),
        peak=FULL_PEAK,
    ),
    "metal": GenreSpec(
        drum_patterns=("double_kick", "blast"),
        kit="metal",
        swing=(0.0, 0.0),
        swing_unit=16,
        comp_patterns=("chug16", "chug8"),
        humanize_ms=2.0,
        tempo=(100.0, 200.0),
        rubato=0.0,
        progressions=_progressions(
            ("i5 bII5 i5 bII5", 2, "phrygian"),
            ("i5 bVI5 bVII5 i5", 4, "minor"),
            ("i5 i5 bVII5 bVI5", 2, "minor"),
            ("i5 bv5 i5 bII5", 2, "phrygian"),
        ),
        chromatic=0.0,
        chord_instruments=("electric_guitar",),
        melody_instruments=("lead_guitar",),
        drive=(10.0, 30.0),
        bass_patterns=("follow16", "root8"),
        bass_instruments=("electric_bass",),
        bass_register=(23, 40),
        chord_register=(35, 55),
        melody_register=(55, 79),
        melody_density=0.35,
        counter_melody=False,
        mix=Mix(drums=-5, bass=-9, chords=-2, melody=-6),
        compression=0.6,
        reverb_decay=(0.3, 0.7),
        reverb_wet=(0.05, 0.15),
        brightness=0.3,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
    "pop": GenreSpec(
        drum_patterns=("pop8", "pop_syncop"),
        kit="pop",
        swing=(0.0, 0.1),
        swing_unit=16,
        comp_patterns=("sustain_bar", "pop8_piano", "pluck_syncop"),
        humanize_ms=2.0,
        tempo=(100.0, 130.0),
        rubato=0.0,
        progressions=_progressions(
            ("I V vi IV", 4, "major"),
            ("vi IV I V", 4, "major"),
            ("I vi IV V", 4, "major"),
            ("IV I V vi", 4, "major"),
        ),
        chromatic=0.0,
        chord_instruments=("pad", "piano", "synth_pluck"),
        melody_instruments=("synth_lead", "voice_lead"),
        drive=CLEAN,
        bass_patterns=("root8", "root_syncop"),
        bass_instruments=("synth_bass", "electric_bass"),
        bass_register=(28, 45),
        chord_register=(55, 74),
        melody_register=(60, 79),
        melody_density=0.5,
        counter_melody=False,
        mix=Mix(drums=-5, bass=-7, chords=-7, melody=-4),
        compression=0.9,
        reverb_decay=(0.6, 1.2),
        reverb_wet=(0.12, 0.22),
        brightness=0.4,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
    "reggae": GenreSpec(
        drum_patterns=("one_drop", "one_drop_hat16"),
        kit="reggae",
        swing=(0.1, 0.4),
        swing_unit=16,
        comp_patterns=("skank", "skank_bubble"),
        humanize_ms=6.0,
        tempo=(60.0, 90.0),
        rubato=0.0,
        progressions=_progressions(
            ("I IV", 4, "major"),
            ("i iv", 4, "minor"),
            ("I IV I V", 4, "major"),
            ("I ii", 4, "major"),
        ),
        chromatic=0.0,
        chord_instruments=("clean_guitar", "organ"),
        melody_instruments=("melodica",),
        drive=CLEAN,
        bass_patterns=("reggae_a", "reggae_b"),
        bass_instruments=("round_bass",),
        bass_register=(28, 45),
        chord_register=(60, 74),
        melody_register=(62, 84),
        melody_density=0.2,
        counter_melody=False,
        mix=Mix(drums=-6, bass=-2, chords=-7, melody=-8),
        compression=0.3,
        reverb_decay=(0.3, 0.6),
        reverb_wet=(0.03, 0.08),
        brightness=-0.1,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
    "rock": GenreSpec(
        drum_patterns=("backbeat", "backbeat_var"),
        kit="rock",
        swing=(0.0, 0.1),
        swing_unit=8,
        comp_patterns=("strum8", "chug8"),
        humanize_ms=5.0,
        tempo=(100.0, 160.0),
        rubato=0.0,
        progressions=_progressions(
            ("I IV V IV", 4, "major_pent"),
            ("I bVII IV I", 4, "mixolydian"),
            ("i bVI bVII i", 4, "minor_pent"),
            ("I V IV I", 4, "major_pent"),
        ),
        chromatic=0.0,
        chord_instruments=("electric_guitar",),
        melody_instruments=("lead_guitar",),
        drive=(3.0, 8.0),
        bass_patterns=("root8",),
        bass_instruments=("electric_bass",),
        bass_register=(28, 45),
        chord_register=(47, 64),
        melody_register=(59, 81),
        melody_density=0.35,
        counter_melody=False,
        mix=Mix(drums=-5, bass=-8, chords=-3, melody=-6),
        compression=0.5,
        reverb_decay=(0.5, 1.0),
        reverb_wet=(0.08, 0.18),
        brightness=0.2,
        dynamics=0.0,
        extras=(),
        peak=FULL_PEAK,
    ),
}
