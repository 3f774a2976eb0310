"""Soft-vote ensembles of member probability tables, and the methods that choose the members'
weights (params ``ensemble.method``, the table :data:`METHODS`). No TensorFlow here.

Every method is a weighted sum of the members' softmax vectors, so predict and the service
apply any of them from ``metrics/ensemble.json``'s weights alone. ``selected`` chooses the
combination on held-out clips only (:func:`held_out_rows`: every clip that is not a test clip
and that each member predicted without having trained on it), by cross-validation over them
(:func:`select_combination`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from genre_ensemble.core.params import Choices, EnsembleParams, Params, ParamsError
from genre_ensemble.core.splits import CALIBRATION, PREDICTED, TEST
from genre_ensemble.core.tables import (
    KEY_COLUMNS,
    label_columns,
    probability_matrix,
    true_indices,
)

logger = logging.getLogger(__name__)


def align_members(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Put member tables in the same clip order and check they cover the same clips.

    Only the val, calib and test rows (:data:`~genre_ensemble.core.splits.PREDICTED`) are
    kept: a cross-fitted member's out-of-fold train rows are for :func:`held_out_rows`.

    Raises
    ------
    ValueError
        If two members predicted different sets of clips (e.g. stale outputs).
    """
    aligned = {}
    reference = None
    for name, table in tables.items():
        table = table[table["split"].isin(PREDICTED)]
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


def held_out_rows(tables: Mapping[str, pd.DataFrame]) -> tuple[list[np.ndarray], np.ndarray]:
    """The clips every member predicted without training on them, test clips excluded.

    Those are the val and calib rows of every member, and the train rows a cross-fitted
    member predicted out of fold (params ``cross_fit``), when every member has them. A CNN
    member's val rows chose its early-stopping epoch (one of ``train.epochs``), the one way
    they are not out of sample: it can favour the CNN members a little. The real-music preset
    has none, so every clip it chooses on is out of sample (``docs/real-music.md``).

    Returns
    -------
    probabilities : list of np.ndarray, each shape (n_clips, n_labels)
        One per member, in ``tables`` order, rows in the same clip order.
    targets : np.ndarray, shape (n_clips,), int
    """
    common: set[str] | None = None
    for table in tables.values():
        tracks = set(table.loc[table["split"] != TEST, "track"])
        common = tracks if common is None else common & tracks
    chosen = sorted(common or ())
    probabilities, targets = [], None
    for table in tables.values():
        rows = table[table["split"] != TEST].set_index("track").loc[chosen].reset_index()
        probabilities.append(probability_matrix(rows))
        if targets is None:
            targets = true_indices(rows)
    return probabilities, np.asarray(targets if targets is not None else [], dtype=np.int64)


# The candidates `selected` chooses among, simplest first (ties go to the simpler one).
CANDIDATES: tuple[str, ...] = ("equal", "best", "weights")


def _candidate_weights(candidate: str, probabilities: Sequence[np.ndarray],
                       targets: np.ndarray) -> np.ndarray:
    count = len(probabilities)
    if candidate == "equal":
        return np.full(count, 1.0 / count)
    if candidate == "best":
        losses = [log_loss(p, targets) for p in probabilities]
        return np.eye(count)[int(np.argmin(losses))]
    return fit_ensemble_weights(probabilities, targets)


@dataclass(frozen=True)
class Selection:
    """What :func:`select_combination` chose, and the evidence.

    Attributes
    ----------
    chosen : str
        One of :data:`CANDIDATES`.
    weights : np.ndarray, shape (n_members,)
        The chosen candidate refitted on every held-out clip; sums to 1.
    scores : dict
        ``candidate -> {"log_loss", "accuracy"}``: the cross-validated scores (on clips the
        candidate was not fitted on), the choice's evidence.
    clips : int
        Held-out clips the choice was made on.
    """

    chosen: str
    weights: np.ndarray
    scores: dict[str, dict[str, float]]
    clips: int


def select_combination(probabilities: Sequence[np.ndarray], targets: np.ndarray, *,
                       folds: int, seed: int = 0) -> Selection:
    """Choose equal weights, the best member alone, or log-loss weights, by cross-validation.

    Each candidate of :data:`CANDIDATES` is fitted on ``folds - 1`` folds of the held-out
    clips (the best member: lowest log-loss there; the weights: :func:`fit_ensemble_weights`)
    and scored on the fold it did not see; the candidate of lowest mean log-loss wins and is
    refitted on every clip. So the ensemble is the best member alone unless combining beats it
    on clips no fit saw, and equal weights stay unless fitting them pays.

    Parameters
    ----------
    probabilities : sequence of np.ndarray, each shape (n_clips, n_labels)
        Every member's predictions of the held-out clips (:func:`held_out_rows`).
    targets : np.ndarray, shape (n_clips,), int
    folds : int
        Stratified folds (fewer when a label has fewer clips; at least 2).
    seed : int
        Shuffles the folds.

    Raises
    ------
    ValueError
        With fewer than two clips of some label (no fold would keep one of them out).
    """
    from sklearn.model_selection import StratifiedKFold

    targets = np.asarray(targets)
    counts = np.bincount(targets)
    smallest = int(counts[counts > 0].min()) if len(targets) else 0
    if smallest < 2:
        raise ValueError(
            f"choosing the combination needs two or more held-out clips of every label, and "
            f"one label has {smallest}"
        )
    splitter = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
    held = {candidate: np.zeros_like(probabilities[0], dtype=np.float64)
            for candidate in CANDIDATES}
    for fit, score in splitter.split(probabilities[0], targets):
        fitted = [p[fit] for p in probabilities]
        for candidate in CANDIDATES:
            weights = _candidate_weights(candidate, fitted, targets[fit])
            held[candidate][score] = weighted_sum([p[score] for p in probabilities], weights)
    scores = {
        candidate: {
            "log_loss": log_loss(combined, targets),
            "accuracy": float(np.mean(combined.argmax(axis=1) == targets)),
        }
        for candidate, combined in held.items()
    }
    chosen = min(CANDIDATES, key=lambda c: (round(scores[c]["log_loss"], 12),
                                            CANDIDATES.index(c)))
    weights = _candidate_weights(chosen, probabilities, targets)
    return Selection(chosen=chosen, weights=weights / weights.sum(), scores=scores,
                     clips=len(targets))


@dataclass(frozen=True)
class Weights:
    """A method's result: one weight per member (not normalised) and what to record of how
    they were chosen (merged into ``metrics/ensemble.json``)."""

    values: list[float]
    record: dict[str, object]


@dataclass(frozen=True)
class Method:
    """How the members' weights are chosen (an entry of :data:`METHODS`)."""

    # (member tables, ensemble settings) -> one weight per member, in the tables' order
    weights: Callable[[Mapping[str, pd.DataFrame], EnsembleParams], Weights]
    fixed: bool  # the weights are ensemble.weights (else the method fits them: weights null)
    calibration: bool  # fitted on calibration clips (params split.calibration > 0)


def _given(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams) -> Weights:
    return Weights(list(settings.fixed_weights()), {})


def _learned(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams) -> Weights:
    return Weights([float(w) for w in learn_weights(tables)], {})


def _selected(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams) -> Weights:
    probabilities, targets = held_out_rows(tables)
    try:
        selection = select_combination(probabilities, targets, folds=settings.folds,
                                       seed=settings.seed)
    except ValueError as error:
        # a corpus too small to choose on (a few clips per label) still gets an ensemble:
        # the paper's equal sum, with the reason logged and recorded
        logger.warning("ensemble.method selected: %s; using equal weights", error)
        return Weights([1.0] * len(probabilities),
                       {"selection": {"chosen": "equal", "clips": len(targets),
                                      "reason": str(error)}})
    record = {"chosen": selection.chosen, "clips": selection.clips,
              **{f"{c}_{name}": value for c, scores in selection.scores.items()
                 for name, value in scores.items()}}
    return Weights([float(w) for w in selection.weights], {"selection": record})


# params ensemble.method
METHODS: Choices[Method] = Choices("ensemble.method", {
    # weighted sum of softmax vectors (the paper: equal weights)
    "sum": Method(_given, fixed=True, calibration=False),
    # weights minimising log-loss on held-out calibration clips
    "learned": Method(_learned, fixed=False, calibration=True),
    # equal weights, the best member alone or log-loss weights: whichever cross-validation
    # over the held-out clips scores best
    "selected": Method(_selected, fixed=False, calibration=False),
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


def ensemble_weights(tables: Mapping[str, pd.DataFrame], settings: EnsembleParams) -> Weights:
    """The members' weights by ``settings.method``, in ``tables`` order (not normalised), and
    what the method records of its choice."""
    return METHODS.pick(settings.method).weights(tables, settings)
