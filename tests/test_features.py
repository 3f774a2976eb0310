from __future__ import annotations

from dataclasses import replace

import numpy as np

from genre_ensemble.members.descriptors.descriptors import window_features
from genre_ensemble.members.registry import load_params

from .conftest import REPO

SR = 22050


def test_descriptor_settings_set_the_mfcc_count_and_frames():
    params = load_params(REPO / "params.yaml")
    windows = replace(params.windows, seconds=1.0, overlap=0.5)
    signal = np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR).astype(np.float32)
    descriptors = replace(params.features.descriptors, n_mfcc=13, n_fft=1024, hop_length=256)
    rows = window_features(signal, SR, windows=windows, descriptors=descriptors)
    assert len(rows) == 3  # 1 s windows, 0.5 s apart, in 2 s
    assert "mfcc12_mean" in rows[0] and "mfcc13_mean" not in rows[0]
    default = window_features(
        signal, SR, windows=windows, descriptors=params.features.descriptors
    )
    assert f"mfcc{params.features.descriptors.n_mfcc - 1}_std" in default[0]


def test_scrambled_test_rows_change_neither_the_features_member_nor_its_validation_output():
    import pandas as pd

    from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
    from genre_ensemble.members.classifier import fit_predict

    rng = np.random.default_rng(4)
    rows = []
    for i in range(120):
        genre = GENRES[i % len(GENRES)]
        split = ("train", "train", "val", "test")[i % 4]
        rows.append({"track": f"{genre}.{i:05d}", "genre": genre, "split": split, "window": 0,
                     **{f"x{k}": rng.normal(GENRES.index(genre) * (k == 0), 1.0)
                        for k in range(5)}})
    table = pd.DataFrame(rows)
    model, probabilities = fit_predict(table, "logistic", 42, GENRES)
    scrambled = table.copy()
    is_test = (scrambled["split"] == "test").to_numpy()
    scrambled.loc[is_test, [f"x{k}" for k in range(5)]] = rng.normal(0, 50, (is_test.sum(), 5))
    model_b, probabilities_b = fit_predict(scrambled, "logistic", 42, GENRES)
    np.testing.assert_array_equal(model[-1].coef_, model_b[-1].coef_)
    np.testing.assert_array_equal(probabilities[~is_test], probabilities_b[~is_test])
    assert not np.allclose(probabilities[is_test], probabilities_b[is_test])


def test_window_statistics_are_each_rows_own_mean_and_std_to_the_last_bit():
    """One reduction over all rows gives what a row-by-row mean / std gives, bit for bit, in
    any memory layout: librosa's chroma comes column-major, where numpy would otherwise add up
    frame by frame instead of summing each row on its own."""
    from genre_ensemble.members.descriptors.descriptors import _statistics

    frames = np.random.default_rng(0).gamma(0.5, size=(12, 431))
    for values in (frames[:, 20:150], np.asfortranarray(frames)[:, 20:150], frames[0]):
        stats = _statistics("chroma", values)
        expected = {}
        for row, series in enumerate(np.atleast_2d(values)):
            expected[f"chroma{row}_mean"] = float(series.mean())
            expected[f"chroma{row}_std"] = float(series.std())
        assert list(stats) == list(expected)  # the columns' order
        assert [stats[key] for key in expected] == list(expected.values())
