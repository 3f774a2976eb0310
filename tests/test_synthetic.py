"""Tests of the synthetic genre corpus: API contract, files on disk and musical content."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.corpus.synthetic import (
    SPECS,
    clip_seed,
    plan_clip,
    synthesize_clip,
    write_corpus,
)
from genre_ensemble.corpus.synthetic.drums import DRUM_PATTERNS, KITS
from genre_ensemble.corpus.synthetic.instruments import INSTRUMENTS
from genre_ensemble.corpus.synthetic.parts import BASS_PATTERNS, COMP_PATTERNS

SR = 22050
SEEDS = range(6)


# --- helpers for the musical checks (plain numpy, so they do not depend on librosa) ---


def _frames_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Power spectra of Hann-windowed frames, shape (n_frames, n_fft // 2 + 1)."""
    n_frames = 1 + (x.shape[0] - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.abs(np.fft.rfft(x[index] * np.hanning(n_fft), axis=1)) ** 2


def spectral_flatness(x: np.ndarray) -> float:
    """Mean over frames of geometric / arithmetic mean of the power spectrum (noise -> 1)."""
    power = _frames_power(x, 2048, 512) + 1e-12
    return float(np.mean(np.exp(np.log(power).mean(axis=1)) / power.mean(axis=1)))


def high_frequency_ratio(x: np.ndarray) -> float:
    """Fraction of the energy above 4 kHz."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / SR)
    return float(power[freqs > 4000].sum() / power.sum())


def dominant_seventh_score(x: np.ndarray) -> float:
    """How completely some dominant 7th chord (r, r+4, r+7, r+10) is present, per 0.37 s frame.

    For each frame: chroma (60 Hz..2 kHz, max-normalised), then the best root's weakest chord
    tone; averaged over frames. Key-invariant, so it works whatever key a clip was drawn in.
    """
    power = _frames_power(x, 8192, 4096)
    freqs = np.fft.rfftfreq(8192, 1.0 / SR)
    band = (freqs > 60) & (freqs < 2000)
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    chroma = np.stack([np.bincount(pitch_class, weights=p[band], minlength=12) for p in power])
    chroma /= chroma.max(axis=1, keepdims=True)
    template = np.array([0, 4, 7, 10])
    return float(
        np.mean([max(c[(root + template) % 12].min() for root in range(12)) for c in chroma])
    )


def onset_periodicity(x: np.ndarray) -> float:
    """Peak autocorrelation (lags 0.2-1.5 s) of the spectral-flux onset envelope (drum grooves)."""
    spectrum = np.log1p(np.sqrt(_frames_power(x, 1024, 256)))
    flux = np.maximum(np.diff(spectrum, axis=0), 0.0).sum(axis=1)
    flux -= flux.mean()
    autocorrelation = np.correlate(flux, flux, "full")[flux.shape[0] - 1 :]
    autocorrelation /= autocorrelation[0]
    return float(autocorrelation[int(0.2 * SR / 256) : int(1.5 * SR / 256)].max())


def mean_over_seeds(metric, genre: str, seconds: float = 3.0) -> float:
    return float(
        np.mean(
            [
                metric(
                    synthesize_clip(genre, seed, seconds=seconds, difficulty=0.0).astype(np.float64)
                )
                for seed in SEEDS
            ]
        )
    )


# --- API contract ---


def test_same_arguments_give_identical_audio() -> None:
    first = synthesize_clip("jazz", 7, seconds=1.5, difficulty=0.5)
    second = synthesize_clip("jazz", 7, seconds=1.5, difficulty=0.5)
    np.testing.assert_array_equal(first, second)


def test_different_seed_or_genre_changes_audio() -> None:
    base = synthesize_clip("rock", 1, seconds=1.0)
    assert not np.array_equal(base, synthesize_clip("rock", 2, seconds=1.0))
    assert not np.array_equal(base, synthesize_clip("pop", 1, seconds=1.0))


@pytest.mark.parametrize("genre", GENRES)
@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_shape_dtype_and_peak(genre: str, difficulty: float) -> None:
    audio = synthesize_clip(genre, 3, seconds=1.25, sr=16000, difficulty=difficulty)
    assert audio.shape == (20000,)
    assert audio.dtype == np.float32
    assert np.all(np.isfinite(audio))
    peak = float(np.max(np.abs(audio)))
    assert 0.3 <= peak <= 1.0


def test_thirty_second_clip_has_exact_length() -> None:
    audio = synthesize_clip("classical", 0, seconds=30.0)
    assert audio.shape == (30 * SR,)
    assert np.max(np.abs(audio)) <= 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"genre": "polka"},
        {"genre": "Blues"},
        {"difficulty": -0.01},
        {"difficulty": 1.01},
        {"difficulty": math.nan},
        {"seconds": 0.0},
        {"seconds": -2.0},
        {"seed": -1},
    ],
)
def test_invalid_arguments_raise_value_error(kwargs: dict) -> None:
    arguments = {"genre": "blues", "seed": 0, "seconds": 1.0, "difficulty": 0.5} | kwargs
    genre, seed = arguments.pop("genre"), arguments.pop("seed")
    with pytest.raises(ValueError):
        synthesize_clip(genre, seed, **arguments)


def test_clip_seed_is_stable_and_distinct() -> None:
    assert clip_seed(2026, "blues", 3) == clip_seed(2026, "blues", 3)
    seeds = {
        clip_seed(seed, genre, index) for seed in (0, 1) for genre in GENRES for index in range(5)
    }
    assert len(seeds) == 2 * len(GENRES) * 5
    assert all(isinstance(value, int) and value >= 0 for value in seeds)
    with pytest.raises(ValueError):
        clip_seed(0, "polka", 0)


def test_specs_only_reference_known_building_blocks() -> None:
    assert set(SPECS) == set(GENRES)
    for genre, spec in SPECS.items():
        assert set(spec.drum_patterns) <= set(DRUM_PATTERNS), genre
        assert spec.kit in KITS, genre
        assert set(spec.comp_patterns) <= set(COMP_PATTERNS), genre
        assert set(spec.bass_patterns) <= set(BASS_PATTERNS), genre
        assert set(spec.chord_instruments + spec.melody_instruments + spec.bass_instruments) <= set(
            INSTRUMENTS
        ), genre
        for progression in spec.progressions:
            assert progression.chords, genre  # parses without error


def test_difficulty_controls_borrowing() -> None:
    easy = [plan_clip(genre, seed, difficulty=0.0) for genre in GENRES for seed in range(10)]
    hard = [plan_clip(genre, seed, difficulty=1.0) for genre in GENRES for seed in range(10)]
    assert all(plan.borrowed == () for plan in easy)
    borrowed = [element for plan in hard for element, _ in plan.borrowed]
    # p = 0.5 per element: on average half of the 7 elements come from another genre.
    assert 2.5 < len(borrowed) / len(hard) < 4.5
    assert len(set(borrowed)) == 7  # every element gets borrowed somewhere
    assert all(donor != plan.genre for plan in hard for _, donor in plan.borrowed)


# --- corpus on disk ---


def test_write_corpus_layout_and_format(tmp_path) -> None:
    paths = write_corpus(
        tmp_path, clips_per_genre=2, seconds=1.0, sr=16000, seed=11, difficulty=0.5
    )
    expected = [
        tmp_path / genre / f"{genre}.{index:05d}.wav" for genre in GENRES for index in range(2)
    ]
    assert paths == expected
    for genre in GENRES:
        assert sorted(p.name for p in (tmp_path / genre).iterdir()) == [
            f"{genre}.00000.wav",
            f"{genre}.00001.wav",
        ]  # no temp files left behind
    info = sf.info(paths[0])
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (
        16000,
        1,
        16000,
        "PCM_16",
    )
    audio, sr = sf.read(paths[5], dtype="float32")
    genre, index = GENRES[2], 1
    reference = synthesize_clip(
        genre, clip_seed(11, genre, index), seconds=1.0, sr=16000, difficulty=0.5
    )
    assert sr == 16000
    np.testing.assert_allclose(audio, reference, atol=1.5 / 32768)


def test_parallel_and_clip_count_do_not_change_files(tmp_path) -> None:
    serial = write_corpus(
        tmp_path / "serial", clips_per_genre=2, seconds=1.0, sr=SR, seed=5, difficulty=0.5, n_jobs=1
    )
    parallel = write_corpus(
        tmp_path / "parallel",
        clips_per_genre=2,
        seconds=1.0,
        sr=SR,
        seed=5,
        difficulty=0.5,
        n_jobs=2,
    )
    single = write_corpus(
        tmp_path / "single", clips_per_genre=1, seconds=1.0, sr=SR, seed=5, difficulty=0.5
    )
    assert [p.relative_to(tmp_path / "serial") for p in serial] == [
        p.relative_to(tmp_path / "parallel") for p in parallel
    ]
    for a, b in zip(serial, parallel, strict=True):
        assert a.read_bytes() == b.read_bytes()
    for path in single:  # clip k is the same whatever clips_per_genre is
        assert (
            path.read_bytes()
            == (tmp_path / "serial" / path.relative_to(tmp_path / "single")).read_bytes()
        )


# --- musical content at difficulty 0 ---


def test_metal_is_noisier_and_brighter_than_classical() -> None:
    assert mean_over_seeds(spectral_flatness, "metal") > 4 * mean_over_seeds(
        spectral_flatness, "classical"
    )
    assert mean_over_seeds(high_frequency_ratio, "metal") > 4 * mean_over_seeds(
        high_frequency_ratio, "classical"
    )


def test_blues_harmony_is_built_on_dominant_sevenths() -> None:
    blues = mean_over_seeds(dominant_seventh_score, "blues", seconds=4.0)
    for triad_genre in ("pop", "country", "reggae"):
        assert blues > 2 * mean_over_seeds(dominant_seventh_score, triad_genre, seconds=4.0)


def test_classical_lacks_a_periodic_drum_groove() -> None:
    classical = mean_over_seeds(onset_periodicity, "classical")
    for drum_genre in ("disco", "pop", "rock"):
        assert mean_over_seeds(onset_periodicity, drum_genre) > classical + 0.1
