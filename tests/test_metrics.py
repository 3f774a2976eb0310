from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.evaluation.metrics import (
    bootstrap_interval,
    classification_metrics,
    genre_confusion,
    per_genre_report,
    wilson_interval,
)


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 10, 150)
    predicted = np.where(rng.random(150) < 0.6, targets, rng.integers(0, 10, 150))
    return targets, predicted


def test_metrics_agree_with_scikit_learn(labels):
    targets, predicted = labels
    metrics = classification_metrics(targets, predicted, n_labels=10, bootstrap=200, seed=0)
    kwargs = {"labels": list(range(10)), "average": "macro", "zero_division": 0}
    assert metrics["accuracy"] == pytest.approx(accuracy_score(targets, predicted))
    assert metrics["precision"] == pytest.approx(precision_score(targets, predicted, **kwargs))
    assert metrics["recall"] == pytest.approx(recall_score(targets, predicted, **kwargs))
    assert metrics["f1"] == pytest.approx(f1_score(targets, predicted, **kwargs))
    assert metrics["n"] == 150
    assert metrics["accuracy_ci_low"] < metrics["accuracy"] < metrics["accuracy_ci_high"]
    np.testing.assert_array_equal(
        genre_confusion(targets, predicted, 10),
        confusion_matrix(targets, predicted, labels=range(10)),
    )
    report = per_genre_report(targets, predicted, GENRES)
    assert sum(row["support"] for row in report.values()) == 150


def test_wilson_interval_known_value():
    # 82 of 150 correct (54.67 %, the paper's ensemble): the interval is about +-8 points
    low, high = wilson_interval(82, 150)
    assert low == pytest.approx(0.4672, abs=1e-3)
    assert high == pytest.approx(0.6240, abs=1e-3)


def test_bootstrap_interval_is_seeded_and_close_to_wilson():
    hits = np.array([1] * 82 + [0] * 68, dtype=float)
    first = bootstrap_interval(hits, resamples=2000, seed=1)
    assert first == bootstrap_interval(hits, resamples=2000, seed=1)
    wilson = wilson_interval(82, 150)
    assert abs(first[0] - wilson[0]) < 0.02 and abs(first[1] - wilson[1]) < 0.02


def test_score_test_clips_scores_only_the_test_rows_and_records_round_trip():
    import pandas as pd

    from genre_ensemble.evaluation.metrics import (
        per_genre_by_model,
        per_genre_records,
        score_test_clips,
    )

    rng = np.random.default_rng(3)
    genres = [GENRES[i % len(GENRES)] for i in range(30)]
    probabilities = rng.dirichlet(np.ones(len(GENRES)), size=30)
    table = pd.DataFrame({"track": [f"t{i}" for i in range(30)], "genre": genres,
                          "split": ["val"] * 10 + ["test"] * 20})
    table[list(GENRES)] = probabilities
    scores = score_test_clips(table, bootstrap=0, seed=0)
    truth = np.array([GENRES.index(g) for g in genres[10:]])
    predicted = probabilities[10:].argmax(axis=1)
    assert scores.metrics["n"] == 20
    assert scores.metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert scores.per_genre == per_genre_report(truth, predicted, GENRES)
    records = per_genre_records({"a": scores, "b": scores})
    assert len(records) == 2 * len(GENRES)
    assert [(r["model"], r["genre"]) for r in records[:2]] == [("a", GENRES[0]), ("a", GENRES[1])]
    nested = {"a": scores.per_genre, "b": scores.per_genre}
    assert per_genre_by_model(records) == nested
    assert per_genre_by_model(nested) == nested  # the file's layout before the records
