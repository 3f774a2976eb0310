"""Soft-vote ensembles of member probability tables. No TensorFlow here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from genre_ensemble.genres import GENRES
from genre_ensemble.predictions import KEY_COLUMNS, labels, probability_matrix
from genre_ensemble.splits import CALIBRATION


def align_members(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Put member tables in the same clip order and check they cover the same clips.

    Raises
    ------
    ValueError
        If two members predicted different sets of clips (e.g. stale outputs).
    """
    aligned = {}
    reference = None
    for name, table in tables.items():
        table = table.sort_values(["split", "track"]).reset_index(drop=True)
        keys = table[list(KEY_COLUMNS)]
        if reference is None:
            reference = keys
        elif not keys.equals(reference):
            raise ValueError(f"member {name!r} predicted other clips than the first member")
        aligned[name] = table
    return aligned


def weighted_sum(probabilities: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted sum of softmax vectors, renormalised to probabilities.

    With equal weights this is the paper's rule (sum, then argmax): dividing by the total
    weight changes no argmax.

    Parameters
    ----------
    probabilities : sequence of np.ndarray, each shape (n_clips, n_classes)
    weights : sequence of float >= 0, one per member, not all zero

    Returns
    -------
    np.ndarray, shape (n_clips, n_classes)
    """
    weights = np.asarray(weights, dtype=np.float64)
    if len(weights) != len(probabilities):
        raise ValueError(f"{len(weights)} weights for {len(probabilities)} members")
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"weights must be >= 0 and not all zero, got {weights.tolist()}")
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    return np.tensordot(weights, stacked, axes=1) / weights.sum()


def log_loss(probabilities: np.ndarray, targets: np.ndarray, eps: float = 1e-7) -> float:
    """Mean negative log-likelihood of the true classes."""
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.mean(np.log(np.clip(picked, eps, 1.0))))


def fit_ensemble_weights(probabilities: Sequence[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """Non-negative member weights that minimise log-loss of the weighted soft vote.

    Fit on calibration clips only; the test split must never be passed here.

    Parameters
    ----------
    probabilities : sequence of np.ndarray, each shape (n_clips, n_classes)
    targets : np.ndarray, shape (n_clips,), int class indices

    Returns
    -------
    np.ndarray, shape (n_members,)
        Weights >= 0 summing to 1 (the scale of weights does not matter for the vote).
    """
    count = len(probabilities)
    start = np.full(count, 1.0 / count)

    def objective(weights: np.ndarray) -> float:
        return log_loss(weighted_sum(probabilities, np.maximum(weights, 1e-12)), targets)

    result = minimize(
        objective,
        start,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * count,
        constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0}],
        options={"ftol": 1e-10, "maxiter": 500},
    )
    weights = np.clip(result.x, 0.0, None)
    weights[weights < 1e-6] = 0.0
    return weights / weights.sum()


def combine(tables: Mapping[str, pd.DataFrame], weights: Sequence[float]) -> pd.DataFrame:
    """The ensemble's predictions table from aligned member tables and their weights."""
    aligned = align_members(tables)
    first = next(iter(aligned.values()))
    combined = weighted_sum([probability_matrix(t) for t in aligned.values()], weights)
    result = first[list(KEY_COLUMNS)].copy()
    result[list(GENRES)] = combined
    return result


def learn_weights(tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """Fit :func:`fit_ensemble_weights` on the calibration rows of aligned member tables.

    Calibration clips (params ``split.calibration``) played no part in training or selecting
    any member: validation clips did (the CNNs early-stop on them), so weights fitted there
    would favour the CNNs over members that never saw validation.
    """
    aligned = align_members(tables)
    first = next(iter(aligned.values()))
    held_out = (first["split"] == CALIBRATION).to_numpy()
    if not held_out.any():
        raise ValueError(
            "learned weights need calibration clips (params split.calibration > 0), and there "
            "are none"
        )
    return fit_ensemble_weights(
        [probability_matrix(t)[held_out] for t in aligned.values()], labels(first)[held_out]
    )
