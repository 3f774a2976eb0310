"""Classify audio with the trained ensemble: member inputs -> probabilities -> soft vote.

Each member averages its probabilities over all rows (windows, or clips) of all clips of a
file (the pipeline's track-level decision, see :mod:`genre_ensemble.inference.inputs` for the
cutting); the ensemble is the weighted sum of the members' vectors with the weights recorded in
``metrics/ensemble.json`` (normalised, learned ones included). The same computation per clip
gives the file's timeline: each clip's member vectors (the mean of its rows) and their
weighted sum. Every member is run through its kind (:mod:`genre_ensemble.members.predictors`);
this module names no member.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genre_ensemble.core.params import Params
from genre_ensemble.inference.inputs import MemberInputs, file_inputs, signal_inputs
from genre_ensemble.inference.loading import LoadedMembers

if TYPE_CHECKING:  # pandas is imported only when a timeline is asked for
    import pandas as pd

# What a file that no installed decoder reads is called, instead of both decoders' messages.
NOT_AUDIO = "not an audio file (no installed decoder recognises its format)"
# Files whose rows go through each member together: the per-file cost of a model call
# (Python, TensorFlow dispatch, padding) is shared by this many files.
BATCH_FILES = 16


class FileNotClassifiedError(Exception):
    """One file cannot be classified; the message is the one-line reason (the others go on)."""


@dataclass(frozen=True)
class Prediction:
    """One file's label probabilities, per member and for the ensemble, as a whole and per clip.

    Attributes
    ----------
    ensemble : np.ndarray, shape (n_labels,)
        The weighted sum of the members' vectors.
    members : dict
        ``member -> (n_labels,)``: the mean of the member's probabilities over every row of
        every clip of the file.
    weights : dict
        ``member -> weight`` (normalised).
    labels : tuple of str
        The label of each column.
    seconds : float
        The decoded audio's length.
    windows : int
        The most rows any member classified.
    spans : tuple of (float, float)
        Each clip's start and end in the file, seconds.
    clip_ensemble : np.ndarray, shape (n_clips, n_labels)
        Each clip's ensemble vector: the weighted sum of its member vectors.
    clip_members : dict
        ``member -> (n_clips, n_labels)``: the mean of the member's rows of each clip.
    """

    ensemble: np.ndarray
    members: dict[str, np.ndarray]
    weights: dict[str, float]
    labels: tuple[str, ...]
    seconds: float
    windows: int
    spans: tuple[tuple[float, float], ...]
    clip_ensemble: np.ndarray
    clip_members: dict[str, np.ndarray]

    @property
    def clips(self) -> int:
        """Clips of ``data.clip_seconds`` the file was cut into."""
        return len(self.spans)

    def top(self, count: int, member: str | None = None) -> list[tuple[str, float]]:
        """The ``count`` most probable labels of the ensemble (or of ``member``), best first."""
        probabilities = self.ensemble if member is None else self.members[member]
        order = np.argsort(-probabilities, kind="stable")[:count]
        return [(self.labels[i], float(probabilities[i])) for i in order]

    def to_dict(self, count: int) -> dict[str, Any]:
        """JSON-ready summary: top labels and every probability, per member and ensemble."""

        def describe(member: str | None) -> dict[str, Any]:
            probabilities = self.ensemble if member is None else self.members[member]
            top = self.top(count, member)
            return {
                "top": [{"genre": genre, "probability": round(p, 6)} for genre, p in top],
                "probabilities": {
                    genre: round(float(p), 6)
                    for genre, p in zip(self.labels, probabilities, strict=True)
                },
            }

        return {
            "seconds": round(self.seconds, 3),
            "clips": self.clips,
            "windows": self.windows,
            "ensemble": describe(None),
            "members": {
                name: {"weight": round(self.weights[name], 6), **describe(name)}
                for name in self.members
            },
        }

    def timeline(self) -> pd.DataFrame:
        """The per-clip table: one row per clip, start and end (s), the ensemble's top label
        and its probability, every label's ensemble probability and each member's top label
        (see :func:`genre_ensemble.inference.timeline.timeline_table`)."""
        from genre_ensemble.inference.timeline import timeline_table

        return timeline_table(self)


def predict_batch(batch: Sequence[MemberInputs], members: LoadedMembers) -> list[Prediction]:
    """Every file's member probabilities and soft vote, each member run once over all rows.

    The same computation as the pipeline: each member's row probabilities, their mean over a
    file's rows (:func:`genre_ensemble.core.tables.clip_probabilities`), then
    :func:`genre_ensemble.evaluation.combine.weighted_sum` with the recorded weights. Only the
    batching differs, which changes no row's probabilities beyond float rounding.

    Parameters
    ----------
    batch : sequence of MemberInputs
        From :mod:`genre_ensemble.inference.inputs`, one per file.

    Returns
    -------
    list of Prediction, in ``batch`` order
    """
    from genre_ensemble.evaluation.combine import weighted_sum
    from genre_ensemble.members.predictors import predictor_of

    if not batch:
        return []
    n_labels = len(members.labels)
    weights = list(members.weights.values())
    per_file: list[dict[str, np.ndarray]] = [{} for _ in batch]
    per_clip: list[dict[str, np.ndarray]] = [{} for _ in batch]
    for name in members.names:
        member = members.members[name]
        rows = np.concatenate([np.concatenate(inputs.rows[name]) for inputs in batch])
        probabilities = np.asarray(
            predictor_of(member).probabilities(member, members.models[name], rows, n_labels),
            dtype=np.float64)
        ends = np.cumsum([inputs.row_count(name) for inputs in batch])[:-1]
        for index, (inputs, part) in enumerate(zip(batch, np.split(probabilities, ends),
                                                   strict=True)):
            per_file[index][name] = part.mean(axis=0)
            clip_ends = np.cumsum(inputs.clip_rows(name))[:-1]
            per_clip[index][name] = np.stack([rows.mean(axis=0)
                                              for rows in np.split(part, clip_ends)])
    return [
        Prediction(
            ensemble=weighted_sum(list(vectors.values()), weights),
            members=vectors,
            weights=dict(members.weights),
            labels=members.labels,
            seconds=inputs.seconds,
            windows=inputs.windows,
            spans=inputs.spans,
            clip_ensemble=weighted_sum(list(clips.values()), weights),
            clip_members=clips,
        )
        for inputs, vectors, clips in zip(batch, per_file, per_clip, strict=True)
    ]


def predict_inputs(inputs: MemberInputs, members: LoadedMembers) -> Prediction:
    """One file's member probabilities and soft vote (:func:`predict_batch` of one)."""
    return predict_batch([inputs], members)[0]


def _members(members: LoadedMembers) -> list:
    return [members.members[name] for name in members.names]


def classify_signal(
    signal: np.ndarray, sr: int, members: LoadedMembers, params: Params
) -> Prediction:
    """Classify a mono signal at any sample rate (see :mod:`genre_ensemble.inference.inputs`
    for the cutting).

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Its sample rate in Hz; it is resampled to ``data.sample_rate`` when different.
    members : LoadedMembers
        From :func:`genre_ensemble.inference.loading.load_members`.
    params : Params
        The settings the members were trained with.

    Returns
    -------
    Prediction
        Probability vectors of shape (n_labels,), ``members.labels`` order.
    """
    return predict_inputs(
        signal_inputs(signal, sr, params, _members(members), root=members.root), members
    )


def classify_file(path: str | Path, members: LoadedMembers, params: Params) -> Prediction:
    """Classify one audio file (any format :func:`genre_ensemble.corpus.audio.decode` reads)."""
    return predict_inputs(
        file_inputs(path, params, _members(members), root=members.root), members
    )


def prepare_file(path: str, params: Params, members: Sequence, root: Path
                 ) -> MemberInputs | FileNotClassifiedError:
    """The inputs of one file, or the error saying why it cannot be classified (returned, not
    raised, so that a worker goes on with the next file)."""
    from genre_ensemble.core.errors import AudioError, UndecodableError

    if not Path(path).is_file():
        return FileNotClassifiedError("no such file")
    try:
        return file_inputs(path, params, members, root=root)
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
    """Classify files in order: ``n_jobs`` worker processes decode them and prepare their
    inputs while the members classify ``batch_files`` files at a time.

    Parameters
    ----------
    paths : sequence of str or Path
    members : LoadedMembers
    params : Params
    n_jobs : int
        Worker processes for the audio work (joblib's convention: -1 all cores).
    batch_files : int
        Files whose rows each member classifies in one go (results come out in groups).

    Yields
    ------
    (path, Prediction or FileNotClassifiedError)
        In ``paths`` order; the error of a file that could not be classified (its message is
        the reason), the other files go on.
    """
    from joblib import Parallel, delayed

    names = [str(path) for path in paths]
    n_jobs = 1 if len(names) < 2 else n_jobs
    specs = _members(members)
    tasks = (delayed(prepare_file)(name, params, specs, members.root) for name in names)
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
