"""The image stage's library code on clips the test writes: layout, damaged clips, backends."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.members.cnn.images import ImageJob, build_image_sets, signal_images
from genre_ensemble.members.cnn.imagestore import load_image_set
from genre_ensemble.members.registry import load_params

from .conftest import REPO, SR, tone, write_wav


@pytest.fixture(scope="module")
def job() -> ImageJob:
    params = load_params(REPO / "params.yaml")
    images = replace(params.images, height=24, width=24)
    windows = replace(params.windows, seconds=1.0, overlap=0.5)
    return ImageJob(sample_rate=SR, clip_seconds=2.0, images=images, windows=windows)


@pytest.fixture
def manifest(tmp_path) -> pd.DataFrame:
    rows = []
    for index, (genre, frequency) in enumerate(
        [("blues", 220.0), ("jazz", 440.0), ("rock", 880.0)]
    ):
        path = write_wav(tmp_path / "audio" / f"{genre}.0000{index}.wav", tone(frequency, 2.0))
        rows.append({"track": path.stem, "genre": genre, "path": str(path), "split": "train"})
    broken = tmp_path / "audio" / "pop.00009.wav"
    broken.write_bytes(b"not audio at all")
    rows.append({"track": "pop.00009", "genre": "pop", "path": str(broken), "split": "test"})
    rows.append({"track": "metal.00001", "genre": "metal", "path": "x", "split": ""})
    return pd.DataFrame(rows)


def test_every_usable_clip_becomes_one_array_file_per_representation(tmp_path, manifest, job):
    indexes = build_image_sets(manifest, tmp_path / "images", job, progress=False)
    assert set(indexes) == {"stft", "cqt", "chroma"}
    for name, index in indexes.items():
        # 2 s clips, 1 s windows, 50 % overlap: 3 windows; the broken and unsplit clips: none
        assert sorted(index["track"].unique()) == ["blues.00000", "jazz.00001", "rock.00002"]
        assert index.groupby("track").size().tolist() == [3, 3, 3]
        files = sorted(path.name for path in (tmp_path / "images" / name).iterdir())
        assert files == ["blues.00000.npy", "index.csv", "jazz.00001.npy", "rock.00002.npy"]
        images, loaded = load_image_set(tmp_path / "images" / name)
        assert images.shape == (9, 24, 24, 1) and images.dtype == np.uint8
        pd.testing.assert_frame_equal(loaded, index, check_dtype=False)
    assert not list((tmp_path / "images").glob(".partial.*"))  # no temporary folder left


def test_stage_images_equal_the_library_images(tmp_path, manifest, job):
    build_image_sets(manifest, tmp_path / "images", job, progress=False)
    decoded = load_clip(manifest.loc[1, "path"], sample_rate=SR, seconds=2.0)  # 16-bit jazz tone
    expected = signal_images(decoded, job)
    images, index = load_image_set(tmp_path / "images" / "cqt")
    rows = (index["track"] == "jazz.00001").to_numpy()
    np.testing.assert_array_equal(images[rows], np.stack(expected["cqt"]))


@pytest.mark.parametrize("backend", ["threading", "multiprocessing"])
def test_backends_give_identical_files(tmp_path, manifest, job, backend):
    build_image_sets(manifest, tmp_path / "loky", job, n_jobs=2, progress=False)
    build_image_sets(manifest, tmp_path / backend, job, n_jobs=2, backend=backend, progress=False)
    for name in ("stft", "cqt", "chroma"):
        first = sorted((tmp_path / "loky" / name).iterdir())
        second = sorted((tmp_path / backend / name).iterdir())
        assert [p.name for p in first] == [p.name for p in second]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))

