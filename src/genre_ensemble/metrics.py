"""Classification metrics with confidence intervals. No TensorFlow here."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from genre_ensemble.genres import GENRES


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
    targets: np.ndarray, predicted: np.ndarray, *, bootstrap: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Accuracy, macro precision / recall / F1 and 95 % intervals of accuracy.

    Parameters
    ----------
    targets, predicted : np.ndarray, shape (n_clips,), int class indices

    Returns
    -------
    dict
        accuracy, accuracy_ci_low/high (bootstrap), accuracy_wilson_low/high, precision,
        recall, f1 (macro over the ten genres, zero where a genre is never predicted), n.
    """
    labels = list(range(len(GENRES)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        targets, predicted, labels=labels, average="macro", zero_division=0
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


def per_genre_report(targets: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every genre."""
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=list(range(len(GENRES))), zero_division=0
    )
    return {
        genre: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, genre in enumerate(GENRES)
    }


def genre_confusion(targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Confusion counts ``(10, 10)``: rows true genre, columns predicted, GENRES order."""
    return confusion_matrix(targets, predicted, labels=list(range(len(GENRES))))
