"""The scikit-learn head shared by the members that classify vectors (descriptors, pretrained
embeddings): a probability-producing classifier on standardised features."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from genre_ensemble.core.labels import label_index
from genre_ensemble.core.params import Choices
from genre_ensemble.core.splits import CROSS_FITTED, TRAIN
from genre_ensemble.core.tables import KEY_COLUMNS


def _logistic(seed: int) -> ClassifierMixin:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.5, max_iter=2000)


def _random_forest(seed: int) -> ClassifierMixin:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)


def _gradient_boosting(seed: int) -> ClassifierMixin:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed, max_iter=200)


# params features.classifier and pretrained.<member>.classifier: name -> (seed -> estimator)
CLASSIFIERS: Choices[Callable[[int], ClassifierMixin]] = Choices("features.classifier", {
    "logistic": _logistic,
    "random_forest": _random_forest,
    "gradient_boosting": _gradient_boosting,
})


def make_classifier(kind: str, seed: int, *, key: str | None = None) -> Pipeline:
    """The classifier ``kind`` (:data:`CLASSIFIERS`) on standardised features.

    ``key`` names the params key in the error for an unknown ``kind``.
    """
    return make_pipeline(StandardScaler(), CLASSIFIERS.pick(kind, key=key)(seed))


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The numeric feature columns of a features table (everything but the keys)."""
    return [c for c in table.columns if c not in (*KEY_COLUMNS, "window")]


def fit_predict(table: pd.DataFrame, kind: str, seed: int, labels: Sequence[str], *,
                cross_fit: int = 0, key: str | None = None) -> tuple[Pipeline, np.ndarray]:
    """Fit on the training rows of a table of feature vectors; predict every row.

    Parameters
    ----------
    table : pd.DataFrame
        One row per window (or clip): track, genre, split, [window,] then the features.
    kind, seed
        The classifier (:data:`CLASSIFIERS`) and its seed.
    labels : sequence of str
        The run's label set: column ``j`` of the probabilities is ``labels[j]``.
    cross_fit : int
        0: fit on the train rows. ``k >= 2``: fit on the train and val rows together, and
        predict those rows out of fold, each by one of ``k`` models fitted without its fold
        (folds stratified by label, a clip's windows in one fold). With little data the
        member learns from all non-test clips, and its val predictions stay out of sample.
        Calib and test rows are predicted by the model fitted on every train and val row.

    Returns
    -------
    model : Pipeline
    probabilities : np.ndarray, shape (n_rows, n_labels)
        A label absent from the training rows keeps probability 0.
    """
    columns = feature_columns(table)
    rows = table[columns].to_numpy()
    targets = table["genre"].map(label_index(labels)).to_numpy()
    fitted = table["split"].isin(CROSS_FITTED if cross_fit else (TRAIN,)).to_numpy()
    model = make_classifier(kind, seed, key=key)
    model.fit(rows[fitted], targets[fitted])
    probabilities = predict_rows(model, rows, len(labels))
    if cross_fit:
        probabilities[fitted] = out_of_fold(rows[fitted], targets[fitted],
                                            table.loc[fitted, "track"].to_numpy(), kind=kind,
                                            seed=seed, folds=cross_fit, n_labels=len(labels),
                                            key=key)
    return model, probabilities


def out_of_fold(rows: np.ndarray, targets: np.ndarray, groups: np.ndarray, *, kind: str,
                seed: int, folds: int, n_labels: int, key: str | None = None) -> np.ndarray:
    """``(n_rows, n_labels)`` probabilities of every row by a model fitted without its fold.

    Folds are stratified by label and keep each group (a clip's windows) together
    (``StratifiedGroupKFold``, shuffled by ``seed``); fewer folds when a label has fewer
    clips than ``folds``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    clip_labels = pd.Series(targets).groupby(groups).first()
    splits = max(2, min(folds, int(clip_labels.value_counts().min())))
    splitter = StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
    probabilities = np.zeros((len(rows), n_labels))
    for fit, held in splitter.split(rows, targets, groups):
        fold_model = make_classifier(kind, seed, key=key).fit(rows[fit], targets[fit])
        probabilities[held] = predict_rows(fold_model, rows[held], n_labels)
    return probabilities


def predict_rows(model: Pipeline, rows: np.ndarray, n_labels: int) -> np.ndarray:
    """``(n_rows, n_labels)`` probabilities of a fitted :func:`fit_predict` model.

    Raises
    ------
    ValueError
        When ``rows`` have another number of features than the model was fitted on.
    """
    expected = getattr(model, "n_features_in_", rows.shape[1])
    if rows.shape[1] != expected:
        raise ValueError(f"the model takes {expected} values per row, not {rows.shape[1]}")
    probabilities = np.zeros((len(rows), n_labels))
    probabilities[:, model.classes_] = model.predict_proba(rows)
    return probabilities
