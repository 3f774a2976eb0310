"""Clip probability tables: the hand-off between members, the ensemble and evaluation.

A table has one row per clip: the key columns ``track, genre, split`` (``genre`` holds the
clip's true label, whatever the corpus calls its classes), then one probability column per
label of the run's label set, in its order (:mod:`genre_ensemble.core.labels`). The label
columns are data: a table says which labels it covers by its header. No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genre_ensemble.core.fileio import write_csv
from genre_ensemble.core.labels import label_index

KEY_COLUMNS: tuple[str, ...] = ("track", "genre", "split")


def clip_probabilities(index: pd.DataFrame, window_probabilities: np.ndarray,
                       labels: Sequence[str]) -> pd.DataFrame:
    """Average window probability vectors into one vector per clip (the clip-level decision).

    Parameters
    ----------
    index : pd.DataFrame
        One row per window (or per clip) with columns track, genre, split.
    window_probabilities : np.ndarray, shape (n_rows, n_labels)
        Column ``j`` is the probability of ``labels[j]``.
    labels : sequence of str
        The run's label set.

    Returns
    -------
    pd.DataFrame
        One row per track, in order of first appearance, columns ``KEY_COLUMNS + labels``.
    """
    if len(index) != len(window_probabilities):
        raise ValueError(f"{len(index)} index rows but {len(window_probabilities)} predictions")
    labels = list(labels)
    if window_probabilities.shape[1] != len(labels):
        raise ValueError(f"{window_probabilities.shape[1]} probability columns for "
                         f"{len(labels)} labels")
    frame = pd.DataFrame(window_probabilities, columns=labels)
    frame[list(KEY_COLUMNS)] = index[list(KEY_COLUMNS)].to_numpy()
    grouped = frame.groupby(list(KEY_COLUMNS), sort=False)[labels].mean().reset_index()
    return grouped[[*KEY_COLUMNS, *labels]]


def empty_table(labels: Sequence[str] = ()) -> pd.DataFrame:
    """A table without rows: what an opt-in member left out of the ensemble writes."""
    return pd.DataFrame(columns=[*KEY_COLUMNS, *labels])


def label_columns(table: pd.DataFrame) -> tuple[str, ...]:
    """The labels a table holds probabilities for: every column after the key columns."""
    return tuple(str(column) for column in table.columns if column not in KEY_COLUMNS)


def probability_matrix(table: pd.DataFrame) -> np.ndarray:
    """The ``(n_clips, n_labels)`` probabilities of a table, in its label columns' order."""
    return table[list(label_columns(table))].to_numpy(dtype=np.float64)


def true_indices(table: pd.DataFrame) -> np.ndarray:
    """The true class index ``(n_clips,)`` of every clip, in the table's label order."""
    return table["genre"].map(label_index(label_columns(table))).to_numpy()


def predicted_labels(table: pd.DataFrame) -> list[str]:
    """Each clip's most probable label (the first one on ties)."""
    labels = label_columns(table)
    return [labels[i] for i in probability_matrix(table).argmax(axis=1)]


def write_predictions(path: str | Path, table: pd.DataFrame) -> None:
    """Write a table: the key columns first, then its label columns as they are ordered."""
    write_csv(path, table[[*KEY_COLUMNS, *label_columns(table)]])


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_predictions`, sorted by split then track."""
    table = pd.read_csv(path, keep_default_na=False)
    missing = [column for column in KEY_COLUMNS if column not in table]
    if missing:
        raise ValueError(f"{path}: not a predictions table (missing columns {missing})")
    return table.sort_values(["split", "track"]).reset_index(drop=True)
