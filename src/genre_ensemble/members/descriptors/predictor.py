"""The descriptors kind's implementation as generic code calls it
(:class:`~genre_ensemble.members.base.Predictor`): window descriptors of a clip, the fitted
classifier's probabilities on them.

``models/features.joblib`` is a pickle written by the pipeline's ``fit_features`` stage, to be
trusted like any pipeline output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genre_ensemble.core.errors import ModelsUnavailableError
from genre_ensemble.core.params import Member, Params


def load_classifier(path: Path) -> Any:
    """A fitted scikit-learn pipeline written by a fit stage; a placeholder is refused.

    Raises
    ------
    ModelsUnavailableError
        The file does not load, or is an opt-in member's placeholder (holding ``None``).
    """
    import joblib

    try:
        model = joblib.load(path)
    except Exception as error:
        raise ModelsUnavailableError(f"cannot load {path}: {error}") from error
    if model is None:  # an opt-in member's placeholder
        raise ModelsUnavailableError(
            f"{path} is a placeholder (the member was not in ensemble.members when it was "
            "trained): run `dvc repro`"
        )
    return model


def classifier_probabilities(member: Member, model: Any, rows: np.ndarray, n_labels: int
                             ) -> np.ndarray:
    """``(n_rows, n_labels)`` probabilities of a fitted classifier, as its stage computed them.

    Raises
    ------
    ModelsUnavailableError
        When the rows have another size than the model was fitted on (code changed since).
    """
    from genre_ensemble.members.classifier import predict_rows

    try:
        return predict_rows(model, np.atleast_2d(np.asarray(rows, dtype=np.float64)), n_labels)
    except ValueError as error:
        raise ModelsUnavailableError(
            f"the {member.name} model does not fit this code's inputs ({error}): run "
            "`dvc repro` to refit it") from error


class DescriptorsPredictor:
    """See the module docstring."""

    def check(self, params: Params, *, root: Path) -> None:
        from genre_ensemble.members.classifier import CLASSIFIERS

        CLASSIFIERS.pick(params.features.classifier)

    def load(self, member: Member, path: Path, params: Params, *, root: Path) -> Any:
        return load_classifier(path)

    def prepare(self, clips: Sequence[np.ndarray], members: Sequence[Member], params: Params,
                *, root: Path) -> dict[str, list[np.ndarray]]:
        from genre_ensemble.core.parallel import call_with_thread_limit
        from genre_ensemble.members.descriptors.descriptors import window_features

        def rows_of(clip: np.ndarray) -> np.ndarray:
            descriptors = window_features(clip, params.data.sample_rate, windows=params.windows,
                                          descriptors=params.features.descriptors)
            return np.asarray([list(row.values()) for row in descriptors], dtype=np.float64)

        # as the features stage runs each clip (parallel_map): with one BLAS thread. The
        # descriptors' float sums depend on the thread count (with two some differ from the
        # stage's in the last bit), and on these small matrices a second thread costs more
        # than it saves (preparing a real 30 s file: 0.56 s wall with two, 0.47 s with one).
        rows = [call_with_thread_limit(rows_of, clip) for clip in clips]
        return {member.name: rows for member in members}

    def probabilities(self, member: Member, model: Any, rows: np.ndarray, n_labels: int
                      ) -> np.ndarray:
        return classifier_probabilities(member, model, rows, n_labels)


PREDICTOR = DescriptorsPredictor()
