"""Classification metrics with confidence intervals. No TensorFlow here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from genre_ensemble.core.splits import TEST
from genre_ensemble.core.tables import label_columns, probability_matrix, true_indices


def wilson_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a proportion (95 % by default).

    Returns
    -------
    (low, high) : floats in [0, 1]
    """
    if total == 0:
        return 0.0, 0.0
    p = correct / total
    denominator = 1 + z**2 / total
    centre = (p + z**2 / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    correct: np.ndarray, *, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of accuracy from per-clip hits (0/1)."""
    if resamples == 0 or len(correct) == 0:
        return wilson_interval(int(np.sum(correct)), len(correct))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(correct), size=(resamples, len(correct)))
    means = correct[draws].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def classification_metrics(
    targets: np.ndarray, predicted: np.ndarray, *, n_labels: int, bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy, macro precision / recall / F1 and 95 % intervals of accuracy.

    Parameters
    ----------
    targets, predicted : np.ndarray, shape (n_clips,), int class indices
    n_labels : int
        The size of the label set (macro averages are over all of its labels).

    Returns
    -------
    dict
        accuracy, accuracy_ci_low/high (bootstrap), accuracy_wilson_low/high, precision,
        recall, f1 (macro over the labels, zero where a label is never predicted), n.
    """
    precision, recall, f1, _ = precision_recall_fscore_support(
        targets, predicted, labels=list(range(n_labels)), average="macro", zero_division=0
    )
    correct = (targets == predicted).astype(np.float64)
    low, high = bootstrap_interval(correct, resamples=bootstrap, seed=seed)
    wilson_low, wilson_high = wilson_interval(int(correct.sum()), len(correct))
    return {
        "accuracy": float(accuracy_score(targets, predicted)),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "accuracy_wilson_low": wilson_low,
        "accuracy_wilson_high": wilson_high,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "n": len(targets),
    }


def per_genre_report(targets: np.ndarray, predicted: np.ndarray, labels: Sequence[str]
                     ) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every label."""
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=list(range(len(labels))), zero_division=0
    )
    return {
        genre: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, genre in enumerate(labels)
    }


def genre_confusion(targets: np.ndarray, predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion counts ``(n_labels, n_labels)``: rows true label, columns predicted."""
    return confusion_matrix(targets, predicted, labels=list(range(n_labels)))


@dataclass(frozen=True)
class TestScores:
    """One model's scores on the test clips of its predictions table."""

    metrics: dict[str, float]  # :func:`classification_metrics`
    per_genre: dict[str, dict[str, float]]  # :func:`per_genre_report`
    targets: np.ndarray  # (n_test_clips,) true class indices
    predicted: np.ndarray  # (n_test_clips,) predicted class indices (argmax)
    labels: tuple[str, ...]  # the label of each class index


def score_test_clips(table: pd.DataFrame, *, bootstrap: int, seed: int) -> TestScores:
    """Score the test rows of a predictions table (:mod:`genre_ensemble.core.tables`).

    Parameters
    ----------
    table : pd.DataFrame
        One row per clip: track, genre, split and one probability column per genre.
    bootstrap, seed : int
        Resamples and seed of the accuracy interval (:func:`bootstrap_interval`).
    """
    test = table[table["split"] == TEST]
    labels = label_columns(test)
    targets = true_indices(test)
    predicted = probability_matrix(test).argmax(axis=1)
    return TestScores(
        metrics=classification_metrics(targets, predicted, n_labels=len(labels),
                                       bootstrap=bootstrap, seed=seed),
        per_genre=per_genre_report(targets, predicted, labels),
        targets=targets,
        predicted=predicted,
        labels=labels,
    )


def score_models(
    tables: Mapping[str, pd.DataFrame], *, bootstrap: int, seed: int
) -> dict[str, TestScores]:
    """:func:`score_test_clips` of every model's table, in the order given."""
    return {
        name: score_test_clips(table, bootstrap=bootstrap, seed=seed)
        for name, table in tables.items()
    }


PER_GENRE_FIELDS: tuple[str, ...] = ("precision", "recall", "f1", "support")


def per_genre_records(scores: Mapping[str, TestScores]) -> list[dict[str, Any]]:
    """Every model's scores per label as records, one per (model, label): the
    ``metrics/per_genre.json`` plot's data (``model``, ``genre``, precision, recall, f1,
    support), models in ``scores`` order, labels in each model's order."""
    return [{"model": name, "genre": label, **values}
            for name, score in scores.items() for label, values in score.per_genre.items()]


def per_genre_by_model(records: Any) -> dict[str, dict[str, dict[str, float]]]:
    """``model -> label -> scores`` from :func:`per_genre_records`' records (or that mapping
    itself, the file's layout before the records)."""
    if isinstance(records, Mapping):
        return {str(model): dict(labels) for model, labels in records.items()}
    nested: dict[str, dict[str, dict[str, float]]] = {}
    for record in records:
        values = {key: record[key] for key in PER_GENRE_FIELDS if key in record}
        nested.setdefault(str(record["model"]), {})[str(record["genre"])] = values
    return nested


def metrics_record(
    ensemble: TestScores,
    members: Mapping[str, TestScores],
    *,
    members_in_ensemble: list[str],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``metrics/metrics.json`` record: the ensemble's metrics, every member's, the members
    combined, and the test and skipped clip counts of ``data`` (``metrics/data.json``)."""
    return {
        "ensemble": ensemble.metrics,
        "members": {name: scores.metrics for name, scores in members.items()},
        "members_in_ensemble": list(members_in_ensemble),
        "n_test": int(data["test"]),
        "n_skipped": int(data["skipped"]),
    }
