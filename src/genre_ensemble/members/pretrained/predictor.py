"""The pretrained kind's implementation as generic code calls it
(:class:`~genre_ensemble.members.base.Predictor`): one embedding per clip, the member's
fitted classifier on it.

A clip is embedded exactly as stage ``embed@<member>`` embeds one (the network's own
threads, as that stage runs it). ``models/<member>.joblib`` is a pickle written by the
pipeline's ``fit_embeddings@<member>`` stage, to be trusted like any pipeline output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genre_ensemble.core.errors import ModelsUnavailableError, StageError
from genre_ensemble.core.params import Member, Params
from genre_ensemble.members.descriptors.predictor import classifier_probabilities, load_classifier


def _wheel(root: Path) -> Path:
    """The folder holding the musicnn wheel for the workspace at ``root``, checked."""
    from genre_ensemble.members.pretrained.weights import (
        MissingWeightsError,
        check_wheel,
        weights_dir,
    )

    folder = weights_dir(root)
    try:
        check_wheel(folder)
    except MissingWeightsError as error:
        raise ModelsUnavailableError(str(error)) from error
    return folder


class PretrainedPredictor:
    """See the module docstring."""

    def check(self, params: Params, *, root: Path) -> None:
        from genre_ensemble.members.classifier import CLASSIFIERS
        from genre_ensemble.members.pretrained.networks import check_layers

        for member in params.of_kind("pretrained"):
            key = f"pretrained.{member.name}"
            check_layers(member.settings.model, member.settings.layers, key=f"{key}.layers")
            CLASSIFIERS.pick(member.settings.classifier, key=f"{key}.classifier")
            if member.name in params.ensemble.members:
                try:
                    _wheel(root)
                except ModelsUnavailableError as error:
                    raise StageError(str(error)) from error

    def load(self, member: Member, path: Path, params: Params, *, root: Path) -> Any:
        model = load_classifier(path)
        _wheel(root)  # its embeddings need the network
        return model

    def prepare(self, clips: Sequence[np.ndarray], members: Sequence[Member], params: Params,
                *, root: Path) -> dict[str, list[np.ndarray]]:
        from genre_ensemble.members.pretrained.embeddings import embed_clip
        from genre_ensemble.members.pretrained.weights import weights_dir

        folder = weights_dir(root)  # checked when the members were loaded
        return {
            member.name: [
                embed_clip(clip, sample_rate=params.data.sample_rate, settings=member.settings,
                           weights_dir=folder)[np.newaxis]
                for clip in clips
            ]
            for member in members
        }

    def probabilities(self, member: Member, model: Any, rows: np.ndarray, n_labels: int
                      ) -> np.ndarray:
        from genre_ensemble.members.pretrained.embeddings import embedding_matrix

        return classifier_probabilities(member, model, embedding_matrix(rows), n_labels)


PREDICTOR = PretrainedPredictor()
