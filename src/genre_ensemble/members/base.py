"""The member interface: what every member of the ensemble does, whatever its kind.

A **member** is an instance: a name, a kind and that kind's settings
(:class:`genre_ensemble.core.params.Member`), declared in params.yaml. Two members may share a
kind (two pretrained checkpoints side by side). A **kind** is one subpackage of
:mod:`genre_ensemble.members` and has two sides, kept in separate modules so that a DVC stage
depends only on what it runs:

- :class:`MemberKind` (the kind's ``kind.py``, light): which params sections configure it and
  which members they declare, its model files, whether it is opt-in, what it needs on disk,
  what the report can show of it. The registry (:mod:`genre_ensemble.members.registry`) keys
  kinds by name; ``validate``, ``ensemble``, ``evaluate`` and the report work through it.
- :class:`Predictor` (the kind's ``predictor.py``): how a trained member is loaded, what it
  needs from a clip (window images of some representation, window descriptors, clip
  embeddings, ...) and how it turns that into probabilities; and stage ``validate``'s full
  check of the kind's choices and inputs. :mod:`genre_ensemble.inference` and ``validate``
  work through it (:mod:`genre_ensemble.members.predictors`).

How a member is fitted is its kind's own DVC stages (``dvc.yaml``), thin entry points into the
kind's package; every member's stages write the same two things: its model
(``models/<member><model_suffix>``) and its clip probabilities on the clips it did not train
on (``data/predictions/<member>.csv``, :mod:`genre_ensemble.core.tables`). Those tables are
the hand-off to the generic stages, which never import a kind's implementation.

Adding a member of an existing kind is an entry in params.yaml; adding a kind is one
subpackage with these two modules, its params sections, its stages in dvc.yaml, and a line in
the registry and in the predictors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genre_ensemble.core.params import Member, Params, Section


class MemberKind(Protocol):
    """The params and bookkeeping side of a kind of member."""

    name: str  # the kind's name, e.g. "cnn"
    sections: tuple[str, ...]  # top-level params.yaml sections it owns
    model_suffix: str  # of its model files: ".keras", ".joblib"
    # opt-in kinds need something the default run does not have (pretrained weights): their
    # stages write an empty placeholder unless the member is in ensemble.members
    opt_in: bool
    curves: bool  # its stages log per-epoch training curves (plots/train/<member>/)
    images: bool  # its stages store window images (data/images/<member>/) the report can show

    def parse(self, sections: Mapping[str, Section]) -> tuple[dict[str, Any], list[Member]]:
        """The kind's sections as settings objects (``params.<section>``), and its members."""

    def check(self, params: Params) -> None:
        """Checks of its settings against the core sections; raise ``ParamsError``."""


class Predictor(Protocol):
    """The implementation side of a kind as generic code calls it: stage ``validate``'s full
    check, and inference from audio clips to a trained member's probabilities."""

    def check(self, params: Params, *, root: Path) -> None:
        """Stage ``validate``: every choice of the kind's settings is one its tables know, and
        what the stages of its members in ``ensemble.members`` will read exists (pretrained
        weights, say).

        Raises ``ParamsError``, or ``StageError`` whose message is one sentence saying how to
        get what is missing.
        """

    def load(self, member: Member, path: Path, params: Params, *, root: Path) -> Any:
        """The trained member stored at ``path`` (its stage's model file).

        Raises ``ModelsUnavailableError`` (:mod:`genre_ensemble.core.errors`) with one sentence
        when the file is missing, a placeholder, or does not fit params.yaml.
        """

    def prepare(self, clips: Sequence[np.ndarray], members: Sequence[Member], params: Params,
                *, root: Path) -> dict[str, list[np.ndarray]]:
        """What each of ``members`` (all of this kind) needs from each clip.

        Parameters
        ----------
        clips : sequence of np.ndarray, each shape (n_samples,)
            Pipeline-length clips at ``data.sample_rate``, cut as the pipeline cuts its clips.
        members : sequence of Member
            The members of this kind to prepare for; a kind shares work between them (the
            CNN members share one STFT and one CQT per clip).

        Returns
        -------
        dict
            ``member name -> [rows of clip 0, rows of clip 1, ...]``, each an array whose first
            axis is the rows the member classifies (windows, or one row per clip), computed
            exactly as the member's pipeline stages compute them for a clip.
        """

    def probabilities(self, member: Member, model: Any, rows: np.ndarray, n_labels: int
                      ) -> np.ndarray:
        """``(n_rows, n_labels)`` probabilities of the rows :meth:`prepare` made."""
