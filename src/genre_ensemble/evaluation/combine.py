"""Soft-vote ensembles of member probability tables, and the methods that choose the members'
weights (params ``ensemble.method``, the table :data:`METHODS`). No TensorFlow here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from genre_ensemble.core.params import Choices, EnsembleParams, Params, ParamsError
from genre_ensemble.core.splits import CALIBRATION
from genre_ensemble.core.tables import (
    KEY_COLUMNS,
    label_columns,
    probability_matrix,
    true_indices,
)


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
            reference, labels = keys, label_columns(table)
        elif not keys.equals(reference):
            raise ValueError(f"member {name!r} predicted other clips than the first member")
        elif label_columns(table) != labels:
            raise ValueError(f"member {name!r} predicted other labels than the first member")
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
    result[list(label_columns(first))] = combined
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
        [probability_matrix(t)[held_out] for t in aligned.values()], true_indices(first)[held_out]
    )


@dataclass(frozen=True)
class Method:
    """How the members' weights are chosen (an entry of :data:`METHODS`)."""

    # (member tables, ensemble settings) -> one weight per member, in the tables' order
    weights: Callable[[Mapping[str, pd.DataFrame], EnsembleParams], Sequence[float]]
    fixed: bool  # the weights are ensemble.weights (else the method fits them: weights null)
    calibration: bool  # fitted on calibration clips (params split.calibration > 0)


def _given(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams) -> list[float]:
    return list(settings.fixed_weights())


def _learned(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams) -> list[float]:
    return [float(w) for w in learn_weights(tables)]


# params ensemble.method
METHODS: Choices[Method] = Choices("ensemble.method", {
    # weighted sum of softmax vectors (the paper: equal weights)
    "sum": Method(_given, fixed=True, calibration=False),
    # weights minimising log-loss on held-out calibration clips
    "learned": Method(_learned, fixed=False, calibration=True),
})


def check_method(params: Params) -> None:
    """``ensemble.method`` is one of :data:`METHODS` and the other settings suit it.

    Raises
    ------
    ParamsError
        Naming the key to change.
    """
    settings = params.ensemble
    method = METHODS.pick(settings.method)
    if not method.fixed and settings.weights is not None:
        raise ParamsError(
            "ensemble.weights",
            f"is {list(settings.weights)!r} but ensemble.method is {settings.method!r}, which "
            "fits its own weights",
            "set it to null, or set ensemble.method to sum to use fixed weights",
        )
    if method.calibration and params.split.calibration == 0:
        raise ParamsError(
            "split.calibration",
            f"is 0 but ensemble.method is {settings.method!r}, which fits its weights on "
            "calibration clips",
            "hold some validation clips out, e.g. split.calibration: 0.5",
        )


def ensemble_weights(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams
                     ) -> list[float]:
    """The members' weights by ``settings.method``, in ``tables`` order (not normalised)."""
    return list(METHODS.pick(settings.method).weights(tables, settings))
