from __future__ import annotations

import librosa
import librosa.core.constantq
import numpy as np
import pytest

from genre_ensemble.members.cnn.cqt_filters import (
    _FILTER_FFT_NAME,
    TESTED_LIBROSA,
    remember_cqt_filters,
)
from genre_ensemble.members.cnn.representations import (
    chroma_from_cqt,
    compute_representations,
    cqt_db,
    cqt_magnitude,
    render,
)
from genre_ensemble.members.registry import load_params

from .conftest import REPO, SR, tone

A4 = 440.0


@pytest.fixture(scope="module")
def settings():
    return load_params(REPO / "params.yaml").images


@pytest.fixture(scope="module")
def a4_representations(settings):
    return compute_representations(tone(A4, seconds=2.0), SR, settings)


def test_a4_lights_the_a_chroma_row(a4_representations):
    chroma = a4_representations["chroma"]
    assert chroma.shape[0] == 12
    row_energy = chroma.mean(axis=1)
    assert int(np.argmax(row_energy)) == 9  # C C# D D# E F F# G G# A A# B
    # a 12-bin-per-octave CQT leaks about half the amplitude into the neighbouring semitones
    assert row_energy[9] > 1.5 * np.delete(row_energy, 9).max()
    assert np.delete(row_energy, [8, 9, 10]).max() < 0.1 * row_energy[9]


def test_a4_lights_the_right_cqt_bin(a4_representations):
    cqt = a4_representations["cqt"]
    assert cqt.shape[0] == 96  # C1 .. B8
    # A4 is MIDI 69, C1 is MIDI 24: 45 semitones up
    assert int(np.argmax(cqt.mean(axis=1))) == 45


def test_stft_peak_at_440_hz(a4_representations, settings):
    stft = a4_representations["stft"]
    assert stft.shape[0] == settings.stft.n_fft // 2 + 1
    peak_hz = np.argmax(stft.mean(axis=1)) * SR / settings.stft.n_fft
    assert abs(peak_hz - A4) < SR / settings.stft.n_fft


def test_db_range_is_clipped_to_top_db(a4_representations, settings):
    for name in ("stft", "cqt"):
        values = a4_representations[name]
        assert values.max() == pytest.approx(0.0)
        assert values.min() >= -settings.top_db - 1e-3


def test_shared_cqt_gives_the_same_chroma_as_its_own(settings):
    signal = tone(261.63, seconds=1.0) + tone(329.63, seconds=1.0)  # C4 + E4
    magnitude = cqt_magnitude(
        signal, sr=SR, hop_length=512, fmin="C1", n_bins=96, bins_per_octave=12
    )
    alone = chroma_from_cqt(magnitude, fmin="C1", n_chroma=12, bins_per_octave=12)
    shared = compute_representations(signal, SR, settings, names=("cqt", "chroma"))
    np.testing.assert_allclose(shared["chroma"], alone)
    np.testing.assert_allclose(shared["cqt"], cqt_db(magnitude, top_db=settings.top_db))
    top_two = set(np.argsort(alone.mean(axis=1))[-2:])
    assert top_two == {0, 4}  # C and E


def test_clean_image_has_fixed_size_full_range_and_low_pitch_at_bottom(
    a4_representations, settings
):
    image = render(a4_representations["cqt"], "cqt", SR, settings)
    assert image.shape == (settings.height, settings.width, 1)
    assert image.dtype == np.uint8
    assert image.min() == 0 and image.max() == 255
    brightest_row = int(np.argmax(image[..., 0].mean(axis=1)))
    # bin 45 of 96, counted from the bottom of the image
    expected = settings.height - 1 - int(45.5 / 96 * settings.height)
    assert abs(brightest_row - expected) <= 1


def _margin_fraction(image: np.ndarray) -> float:
    """Share of the border pixels (outermost 3 px) that are white."""
    border = np.concatenate(
        [
            image[:3].reshape(-1, image.shape[-1]),
            image[-3:].reshape(-1, image.shape[-1]),
            image[:, :3].reshape(-1, image.shape[-1]),
            image[:, -3:].reshape(-1, image.shape[-1]),
        ]
    )
    return float(np.mean(np.all(border >= 250, axis=1)))


def test_figure_style_keeps_white_margins_and_clean_style_has_none(a4_representations, settings):
    from dataclasses import replace

    figure_settings = replace(settings, style="figure")
    figure = render(a4_representations["stft"], "stft", SR, figure_settings)
    clean = render(a4_representations["stft"], "stft", SR, settings)
    assert figure.shape == (settings.height, settings.width, 3)
    assert _margin_fraction(figure) > 0.8
    assert _margin_fraction(clean) < 0.2


def test_remembered_cqt_filters_give_librosas_cqt_bit_for_bit(monkeypatch):
    """The kept filter banks change no bit, call after call (librosa scales the bank it is
    given in place, so a shared one would drift), at two sample rates and two signal lengths."""
    assert remember_cqt_filters()  # the pinned librosa has the hook
    module = librosa.core.constantq
    remembered = getattr(module, _FILTER_FFT_NAME)
    settings = dict(hop_length=512, fmin="C1", n_bins=96, bins_per_octave=12)
    rng = np.random.default_rng(3)
    signals = [(rng.standard_normal(n).astype(np.float32) * 0.1, sr)
               for n, sr in ((SR * 3, SR), (SR * 2, SR), (32000 * 2, 32000))]
    cached = [cqt_magnitude(y, sr=sr, **settings) for y, sr in signals * 2]
    monkeypatch.setattr(module, _FILTER_FFT_NAME, remembered.remembers)  # librosa's own
    plain = [np.abs(librosa.cqt(y, sr=sr, hop_length=512, fmin=librosa.note_to_hz("C1"),
                                n_bins=96, bins_per_octave=12)).astype(np.float32)
             for y, sr in signals * 2]
    for ours, theirs in zip(cached, plain, strict=True):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_the_librosa_internals_hooked_are_those_of_the_tested_librosa():
    """remember_cqt_filters replaces librosa's private filter builder; another librosa must be
    checked (the same-bits test above) before the pin in cqt_filters.py moves."""
    assert librosa.__version__ == TESTED_LIBROSA, (
        f"librosa {librosa.__version__} is installed; genre_ensemble/members/cnn/cqt_filters.py "
        f"replaces librosa {TESTED_LIBROSA}'s private {_FILTER_FFT_NAME}: check that the CQT "
        "tests here pass (the same bits as librosa's own), then set TESTED_LIBROSA")
    assert callable(getattr(librosa.core.constantq, _FILTER_FFT_NAME, None))
