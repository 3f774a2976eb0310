"""Clip-level probability tables: the hand-off between members, ensemble and evaluation.

A predictions table has one row per clip and columns ``track, genre, split`` followed by one
probability column per genre (in :data:`~genre_ensemble.genres.GENRES` order). No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genre_ensemble.fileio import write_csv
from genre_ensemble.genres import GENRES

KEY_COLUMNS: tuple[str, ...] = ("track", "genre", "split")


def clip_probabilities(index: pd.DataFrame, window_probabilities: np.ndarray) -> pd.DataFrame:
    """Average window softmax vectors into one vector per clip (track-level decision).

    Parameters
    ----------
    index : pd.DataFrame
        One row per window with columns track, genre, split.
    window_probabilities : np.ndarray, shape (n_windows, n_genres)

    Returns
    -------
    pd.DataFrame
        One row per track, in order of first appearance, columns ``KEY_COLUMNS + GENRES``.
    """
    if len(index) != len(window_probabilities):
        raise ValueError(f"{len(index)} index rows but {len(window_probabilities)} predictions")
    frame = pd.DataFrame(window_probabilities, columns=list(GENRES))
    frame[list(KEY_COLUMNS)] = index[list(KEY_COLUMNS)].to_numpy()
    grouped = frame.groupby(list(KEY_COLUMNS), sort=False)[list(GENRES)].mean().reset_index()
    return grouped[[*KEY_COLUMNS, *GENRES]]


def probability_matrix(table: pd.DataFrame) -> np.ndarray:
    """The ``(n_clips, n_genres)`` probabilities of a predictions table."""
    return table[list(GENRES)].to_numpy(dtype=np.float64)


def labels(table: pd.DataFrame) -> np.ndarray:
    """True class indices ``(n_clips,)`` of a predictions table."""
    return table["genre"].map({genre: i for i, genre in enumerate(GENRES)}).to_numpy()


def write_predictions(path: str | Path, table: pd.DataFrame) -> None:
    write_csv(path, table[[*KEY_COLUMNS, *GENRES]])


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_predictions`, sorted by split then track."""
    table = pd.read_csv(path, keep_default_na=False)
    missing = [column for column in (*KEY_COLUMNS, *GENRES) if column not in table]
    if missing:
        raise ValueError(f"{path}: not a predictions table (missing columns {missing})")
    return table.sort_values(["split", "track"]).reset_index(drop=True)
