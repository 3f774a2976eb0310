"""The image store: array files per clip, loading in index order, PNGs drawn on demand."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genre_ensemble.core.fileio import write_csv
from genre_ensemble.core.paths import image_index
from genre_ensemble.members.cnn.imagestore import (
    array_file,
    load_image_set,
    read_windows,
    window_png,
    write_windows,
)


def _store(folder, clips: dict[str, np.ndarray]) -> pd.DataFrame:
    """Write ``clips`` (track -> windows) and an index listing every window."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for track, windows in clips.items():
        write_windows(folder / array_file(track), windows)
        rows += [[array_file(track), track, "jazz", "train", w] for w in range(len(windows))]
    index = pd.DataFrame(rows, columns=["file", "track", "genre", "split", "window"])
    write_csv(image_index(folder), index)
    return index


def _windows(seed: int, count: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 8, 6, channels), dtype=np.uint8)


def test_windows_round_trip_exactly(tmp_path):
    windows = _windows(0, 5, channels=3)
    write_windows(tmp_path / "a.npy", windows)
    loaded = read_windows(tmp_path / "a.npy")
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, windows)


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 6, 1), np.float32), np.zeros((8, 6), np.uint8)])
def test_only_uint8_window_stacks_are_stored(tmp_path, bad):
    with pytest.raises(ValueError, match="uint8 windows"):
        write_windows(tmp_path / "a.npy", bad)


def test_images_follow_the_index_order_whatever_it_is(tmp_path):
    clips = {"jazz.00000": _windows(1, 3), "jazz.00001": _windows(2, 4)}
    index = _store(tmp_path, clips)
    # a reordered subset: the loader must follow the index, not the files
    subset = index.iloc[[5, 0, 2, 3]].reset_index(drop=True)
    write_csv(image_index(tmp_path), subset)
    images, loaded = load_image_set(tmp_path)
    pairs = zip(subset["track"], subset["window"], strict=True)
    expected = np.stack([clips[track][window] for track, window in pairs])
    np.testing.assert_array_equal(images, expected)
    pd.testing.assert_frame_equal(loaded, subset)


def test_an_empty_index_is_an_error(tmp_path):
    _store(tmp_path, {})
    with pytest.raises(ValueError, match="lists no images"):
        load_image_set(tmp_path)


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_a_window_png_holds_the_stored_pixels(tmp_path, channels, mode):
    clips = {"rock.00003": _windows(3, 4, channels=channels)}
    _store(tmp_path, clips)
    png = window_png(tmp_path, array_file("rock.00003"), 2)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.mode == mode
        pixels = np.asarray(image)
    np.testing.assert_array_equal(pixels.reshape(8, 6, channels), clips["rock.00003"][2])
