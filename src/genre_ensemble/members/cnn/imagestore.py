"""The image store: one uint8 array file per clip and representation, holding all its windows.

A folder ``data/images/<representation>/`` holds ``<track>.npy`` files, each an array of shape
``(n_windows, height, width, channels)``, and an index
(:func:`genre_ensemble.core.paths.image_index`) with one row per window: file, track, genre, split,
window (the row of the window in its file).

One array file per clip costs one small write instead of one PNG per window (57 per 30 s clip
with 3 s windows), which was most of the image stage's time over the bare transforms and most
of DVC's time saving the stage's outputs. The pixels are the ones a PNG would hold; PNGs are
drawn on demand (:func:`window_png`) for the report.

Only numpy, pandas and Pillow here: training reads the store without the audio stack.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from genre_ensemble.core.paths import image_index

# How one clip's windows are named in its representation's folder (the index's ``file``).
ARRAY_SUFFIX = ".npy"


def array_file(track: str) -> str:
    """The file name of ``track``'s windows in a representation's folder."""
    return f"{track}{ARRAY_SUFFIX}"


def write_windows(path: str | Path, windows: np.ndarray) -> None:
    """Save one clip's window images.

    Parameters
    ----------
    path : str or Path
        Target file (written in place: callers write into a temporary folder that replaces
        the stage's output folder as a whole).
    windows : np.ndarray, shape (n_windows, height, width, channels), uint8
    """
    if windows.dtype != np.uint8 or windows.ndim != 4:
        raise ValueError(
            f"expected uint8 windows of shape (n, height, width, channels), not "
            f"{windows.dtype} {windows.shape}"
        )
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(windows), allow_pickle=False)


def read_windows(path: str | Path) -> np.ndarray:
    """Load one clip's window images written by :func:`write_windows`.

    Returns
    -------
    np.ndarray, shape (n_windows, height, width, channels), uint8
    """
    return np.load(path, allow_pickle=False)


def load_image_set(folder: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Load every window listed in the folder's index, in the index's order.

    Each clip's file is read once, straight into one preallocated array: no Python object per
    image.

    Returns
    -------
    images : np.ndarray, shape (n_images, height, width, channels), uint8
    index : pd.DataFrame, one row per image (file, track, genre, split, window)
    """
    folder = Path(folder)
    index = pd.read_csv(image_index(folder), keep_default_na=False)
    if index.empty:
        raise ValueError(f"{image_index(folder)} lists no images")
    windows = index["window"].to_numpy()
    images: np.ndarray | None = None
    for file, rows in index.groupby("file", sort=False).indices.items():
        clip = read_windows(folder / str(file))
        if images is None:
            images = np.empty((len(index), *clip.shape[1:]), dtype=np.uint8)
        images[rows] = clip[windows[rows]]
    assert images is not None
    return images, index


def window_png(folder: str | Path, file: str, window: int) -> bytes:
    """One stored window as PNG bytes (grey for one channel, RGB for three)."""
    pixels = read_windows(Path(folder) / file)[window]
    array = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
