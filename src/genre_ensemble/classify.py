"""Classify audio with the trained ensemble: member inputs -> probabilities -> soft vote.

Each member averages its softmax over all windows of all chunks of a file (the pipeline's
track-level decision, see :mod:`genre_ensemble.inputs` for the cutting); the ensemble is the
weighted sum of the members' vectors with the weights recorded in ``metrics/ensemble.json``
(normalised, learned ones included).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genre_ensemble.genres import GENRES, N_CLASSES
from genre_ensemble.inputs import MemberInputs, file_inputs, signal_inputs
from genre_ensemble.loading import LoadedMembers, ModelsUnavailableError
from genre_ensemble.members import FEATURE_MEMBER
from genre_ensemble.params import Params

# What a file that no installed decoder reads is called, instead of both decoders' messages.
NOT_AUDIO = "not an audio file (no installed decoder recognises its format)"


class FileNotClassifiedError(Exception):
    """One file cannot be classified; the message is the one-line reason (the others go on)."""


@dataclass(frozen=True)
class Prediction:
    """One file's genre probabilities, per member and for the ensemble (GENRES order)."""

    ensemble: np.ndarray
    members: dict[str, np.ndarray]
    weights: dict[str, float]
    seconds: float
    chunks: int
    windows: int

    def top(self, count: int, member: str | None = None) -> list[tuple[str, float]]:
        """The ``count`` most probable genres of the ensemble (or of ``member``), best first."""
        probabilities = self.ensemble if member is None else self.members[member]
        order = np.argsort(-probabilities, kind="stable")[:count]
        return [(GENRES[i], float(probabilities[i])) for i in order]

    def to_dict(self, count: int) -> dict[str, Any]:
        """JSON-ready summary: top genres and every probability, per member and ensemble."""

        def describe(member: str | None) -> dict[str, Any]:
            probabilities = self.ensemble if member is None else self.members[member]
            top = self.top(count, member)
            return {
                "top": [{"genre": genre, "probability": round(p, 6)} for genre, p in top],
                "probabilities": {
                    genre: round(float(p), 6)
                    for genre, p in zip(GENRES, probabilities, strict=True)
                },
            }

        return {
            "seconds": round(self.seconds, 3),
            "chunks": self.chunks,
            "windows": self.windows,
            "ensemble": describe(None),
            "members": {
                name: {"weight": round(self.weights[name], 6), **describe(name)}
                for name in self.members
            },
        }


def _features_probabilities(model: Any, features: np.ndarray) -> np.ndarray:
    expected = getattr(model, "n_features_in_", features.shape[1])
    if features.shape[1] != expected:
        raise ModelsUnavailableError(
            f"the features model takes {expected} descriptors but this code computes "
            f"{features.shape[1]}: run `dvc repro` to refit it"
        )
    probabilities = np.zeros((len(features), N_CLASSES))
    probabilities[:, model.classes_] = model.predict_proba(features)  # as features.fit_predict
    return probabilities


def _network_probabilities(model: Any, images: np.ndarray) -> np.ndarray:
    """Softmax of every window, in batches like ``model.predict`` but without its per-call
    set-up (tracing a new predict function per input length costs more than the network)."""
    from genre_ensemble.training import PREDICT_BATCH_SIZE  # Keras is loaded with the model

    return np.concatenate([
        np.asarray(model.predict_on_batch(images[start : start + PREDICT_BATCH_SIZE]))
        for start in range(0, len(images), PREDICT_BATCH_SIZE)
    ])


def predict_inputs(inputs: MemberInputs, members: LoadedMembers) -> Prediction:
    """Every member's window-averaged probabilities and their weighted soft vote.

    The same computation as the pipeline: ``model.predict`` on the windows, the mean over a
    clip's windows (:func:`genre_ensemble.predictions.clip_probabilities`), then
    :func:`genre_ensemble.ensemble.weighted_sum` with the recorded weights.
    """
    from genre_ensemble.ensemble import weighted_sum

    per_member: dict[str, np.ndarray] = {}
    for name in members.names:
        if name == FEATURE_MEMBER:
            windows = _features_probabilities(members.features, inputs.features)
        else:
            windows = _network_probabilities(members.networks[name], inputs.images[name])
        per_member[name] = np.asarray(windows, dtype=np.float64).mean(axis=0)
    combined = weighted_sum(list(per_member.values()), list(members.weights.values()))
    return Prediction(
        ensemble=combined,
        members=per_member,
        weights=dict(members.weights),
        seconds=inputs.seconds,
        chunks=inputs.chunks,
        windows=inputs.windows,
    )


def classify_signal(
    signal: np.ndarray, sr: int, members: LoadedMembers, params: Params
) -> Prediction:
    """Classify a mono signal at any sample rate (see :mod:`genre_ensemble.inputs` for the
    cutting).

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Its sample rate in Hz; it is resampled to ``data.sample_rate`` when different.
    members : LoadedMembers
        From :func:`genre_ensemble.loading.load_members`.
    params : Params
        The settings the members were trained with.

    Returns
    -------
    Prediction
        Probability vectors of shape (10,), GENRES order.
    """
    return predict_inputs(signal_inputs(signal, sr, params, members.names), members)


def classify_file(path: str | Path, members: LoadedMembers, params: Params) -> Prediction:
    """Classify one audio file (any format :func:`genre_ensemble.audio.decode` reads)."""
    return predict_inputs(file_inputs(path, params, members.names), members)


def _prepare(
    path: str, params: Params, members: tuple[str, ...]
) -> MemberInputs | FileNotClassifiedError:
    """Worker: the inputs of one file, or the error saying why it cannot be classified
    (returned, not raised, so that the worker goes on with the next file)."""
    from genre_ensemble.audio import AudioError, UndecodableError

    if not Path(path).is_file():
        return FileNotClassifiedError("no such file")
    try:
        return file_inputs(path, params, members)
    except UndecodableError:  # both decoders refused it: say so plainly
        return FileNotClassifiedError(NOT_AUDIO)
    except AudioError as error:
        return FileNotClassifiedError(str(error))


def classify_files(
    paths: Sequence[str | Path], members: LoadedMembers, params: Params, *, n_jobs: int = 1
) -> Iterator[tuple[str, Prediction | FileNotClassifiedError]]:
    """Classify files in order; decoding and images run in ``n_jobs`` worker processes.

    Yields
    ------
    (path, Prediction or FileNotClassifiedError)
        The error of a file that could not be classified (its message is the reason); the
        other files go on.
    """
    from joblib import Parallel, delayed

    names = [str(path) for path in paths]
    n_jobs = 1 if len(names) < 2 else n_jobs
    tasks = (delayed(_prepare)(name, params, members.names) for name in names)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)  # keeps the order
    for name, inputs in zip(names, results, strict=True):
        if isinstance(inputs, FileNotClassifiedError):
            yield name, inputs
        else:
            yield name, predict_inputs(inputs, members)
