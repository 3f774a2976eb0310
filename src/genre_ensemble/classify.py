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
from genre_ensemble.members import FEATURE_MEMBER, MUSICNN_MEMBER
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


# Files whose windows go through each CNN together: the per-file cost of a network call
# (Python, TensorFlow dispatch, padding) is shared by this many files.
BATCH_FILES = 16
# Smallest padded batch: each CNN sees only batches of SMALLEST_BATCH * 2**k windows (up to
# training.PREDICT_BATCH_SIZE), so it traces a handful of shapes, not one per input length.
SMALLEST_BATCH = 16


def _features_probabilities(model: Any, features: np.ndarray, *, member: str = FEATURE_MEMBER
                            ) -> np.ndarray:
    expected = getattr(model, "n_features_in_", features.shape[1])
    if features.shape[1] != expected:
        raise ModelsUnavailableError(
            f"the {member} model takes {expected} values but this code computes "
            f"{features.shape[1]}: run `dvc repro` to refit it"
        )
    probabilities = np.zeros((len(features), N_CLASSES))
    probabilities[:, model.classes_] = model.predict_proba(features)  # as features.fit_predict
    return probabilities


def padded_batch_size(windows: int, *, largest: int) -> int:
    """The batch a CNN is given for ``windows`` windows: the next power-of-two multiple of
    :data:`SMALLEST_BATCH`, at most ``largest``."""
    size = SMALLEST_BATCH
    while size < min(windows, largest):
        size *= 2
    return min(size, largest)


def _network_probabilities(model: Any, images: np.ndarray) -> np.ndarray:
    """Softmax of every window, ``(n_windows, 10)``, in batches of a few fixed sizes.

    ``model.predict`` sets up a new predict function per call and traces one per input
    length, which costs more than the network on a few files; ``predict_on_batch`` on batches
    zero-padded to :func:`padded_batch_size` traces each size once. A window's output does not
    depend on the other windows of its batch (inference: no batch statistics).
    """
    from genre_ensemble.training import PREDICT_BATCH_SIZE  # Keras is loaded with the model

    parts = []
    for start in range(0, len(images), PREDICT_BATCH_SIZE):
        batch = images[start : start + PREDICT_BATCH_SIZE]
        size = padded_batch_size(len(batch), largest=PREDICT_BATCH_SIZE)
        padded = np.zeros((size, *batch.shape[1:]), dtype=batch.dtype)
        padded[: len(batch)] = batch
        parts.append(np.asarray(model.predict_on_batch(padded))[: len(batch)])
    return np.concatenate(parts)


def _member_windows(name: str, batch: Sequence[MemberInputs], members: LoadedMembers
                    ) -> np.ndarray:
    """One member's window probabilities for every window of every file of ``batch`` (the
    musicnn member: one per chunk)."""
    if name == MUSICNN_MEMBER:
        from genre_ensemble.musicnn_member import embedding_matrix

        return _features_probabilities(
            members.musicnn,
            embedding_matrix(np.concatenate([inputs.musicnn for inputs in batch])),
            member=MUSICNN_MEMBER,
        )
    if name == FEATURE_MEMBER:
        return _features_probabilities(
            members.features, np.concatenate([inputs.features for inputs in batch])
        )
    images = np.concatenate([inputs.images[name] for inputs in batch])
    return _network_probabilities(members.networks[name], images)


def predict_batch(batch: Sequence[MemberInputs], members: LoadedMembers) -> list[Prediction]:
    """Every file's member probabilities and soft vote, each member run once over all windows.

    The same computation as the pipeline: each member's window probabilities, their mean over
    a file's windows (:func:`genre_ensemble.predictions.clip_probabilities`), then
    :func:`genre_ensemble.ensemble.weighted_sum` with the recorded weights. Only the batching
    differs, which changes no window's probabilities beyond float rounding.

    Parameters
    ----------
    batch : sequence of MemberInputs
        From :mod:`genre_ensemble.inputs`, one per file.

    Returns
    -------
    list of Prediction, in ``batch`` order
    """
    from genre_ensemble.ensemble import weighted_sum

    if not batch:
        return []
    per_file: list[dict[str, np.ndarray]] = [{} for _ in batch]
    for name in members.names:
        ends = np.cumsum([inputs.rows(name) for inputs in batch])[:-1]
        windows = np.asarray(_member_windows(name, batch, members), dtype=np.float64)
        for vectors, part in zip(per_file, np.split(windows, ends), strict=True):
            vectors[name] = part.mean(axis=0)
    return [
        Prediction(
            ensemble=weighted_sum(list(vectors.values()), list(members.weights.values())),
            members=vectors,
            weights=dict(members.weights),
            seconds=inputs.seconds,
            chunks=inputs.chunks,
            windows=inputs.windows,
        )
        for inputs, vectors in zip(batch, per_file, strict=True)
    ]


def predict_inputs(inputs: MemberInputs, members: LoadedMembers) -> Prediction:
    """One file's member probabilities and soft vote (:func:`predict_batch` of one)."""
    return predict_batch([inputs], members)[0]


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
    return predict_inputs(
        signal_inputs(signal, sr, params, members.names, musicnn_dir=members.musicnn_dir), members
    )


def classify_file(path: str | Path, members: LoadedMembers, params: Params) -> Prediction:
    """Classify one audio file (any format :func:`genre_ensemble.audio.decode` reads)."""
    return predict_inputs(
        file_inputs(path, params, members.names, musicnn_dir=members.musicnn_dir), members
    )


def _prepare(
    path: str, params: Params, members: tuple[str, ...], musicnn_dir: Path
) -> MemberInputs | FileNotClassifiedError:
    """Worker: the inputs of one file, or the error saying why it cannot be classified
    (returned, not raised, so that the worker goes on with the next file)."""
    from genre_ensemble.audio import AudioError, UndecodableError

    if not Path(path).is_file():
        return FileNotClassifiedError("no such file")
    try:
        return file_inputs(path, params, members, musicnn_dir=musicnn_dir)
    except UndecodableError:  # both decoders refused it: say so plainly
        return FileNotClassifiedError(NOT_AUDIO)
    except AudioError as error:
        return FileNotClassifiedError(str(error))


def classify_files(
    paths: Sequence[str | Path],
    members: LoadedMembers,
    params: Params,
    *,
    n_jobs: int = 1,
    batch_files: int = BATCH_FILES,
) -> Iterator[tuple[str, Prediction | FileNotClassifiedError]]:
    """Classify files in order: ``n_jobs`` worker processes decode them and make their images
    and descriptors while the members classify ``batch_files`` files at a time.

    Parameters
    ----------
    paths : sequence of str or Path
    members : LoadedMembers
    params : Params
    n_jobs : int
        Worker processes for the audio work (joblib's convention: -1 all cores).
    batch_files : int
        Files whose windows each member classifies in one go (results come out in groups).

    Yields
    ------
    (path, Prediction or FileNotClassifiedError)
        In ``paths`` order; the error of a file that could not be classified (its message is
        the reason), the other files go on.
    """
    from joblib import Parallel, delayed

    names = [str(path) for path in paths]
    n_jobs = 1 if len(names) < 2 else n_jobs
    tasks = (delayed(_prepare)(name, params, members.names, members.musicnn_dir)
             for name in names)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)  # keeps the order
    group: list[tuple[str, MemberInputs | FileNotClassifiedError]] = []
    for item in zip(names, results, strict=True):
        group.append(item)
        if len(group) >= batch_files:
            yield from _classify_group(group, members)
            group = []
    yield from _classify_group(group, members)


def _classify_group(
    group: list[tuple[str, MemberInputs | FileNotClassifiedError]], members: LoadedMembers
) -> Iterator[tuple[str, Prediction | FileNotClassifiedError]]:
    """The group's files in order: prepared ones classified together, errors passed on."""
    ready = [inputs for _, inputs in group if isinstance(inputs, MemberInputs)]
    predictions = iter(predict_batch(ready, members))
    for name, inputs in group:
        yield name, next(predictions) if isinstance(inputs, MemberInputs) else inputs
