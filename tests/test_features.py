from __future__ import annotations

from dataclasses import replace

import numpy as np

from genre_ensemble.features import window_features
from genre_ensemble.params import load_params

from .conftest import REPO

SR = 22050


def test_descriptor_settings_set_the_mfcc_count_and_frames():
    params = load_params(REPO / "params.yaml")
    segments = replace(params.segments, seconds=1.0, overlap=0.5)
    signal = np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR).astype(np.float32)
    descriptors = replace(params.features.descriptors, n_mfcc=13, n_fft=1024, hop_length=256)
    rows = window_features(signal, SR, segments=segments, descriptors=descriptors)
    assert len(rows) == 3  # 1 s windows, 0.5 s apart, in 2 s
    assert "mfcc12_mean" in rows[0] and "mfcc13_mean" not in rows[0]
    default = window_features(
        signal, SR, segments=segments, descriptors=params.features.descriptors
    )
    assert f"mfcc{params.features.descriptors.n_mfcc - 1}_std" in default[0]
