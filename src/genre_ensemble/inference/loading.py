"""Load the trained members of the ensemble, its weights and its labels.

Every member is loaded by its kind (:mod:`genre_ensemble.members.predictors`); this module
names no member. Nothing heavy is imported with it: Keras and TensorFlow load only when a CNN
member is loaded, in safe mode (no code from a model file runs). The scikit-learn members'
``.joblib`` files are pickles written by the pipeline's stages and must be trusted like any
pipeline output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genre_ensemble.core.errors import ModelsUnavailableError
from genre_ensemble.core.labels import GTZAN_GENRES
from genre_ensemble.core.params import Member, Params
from genre_ensemble.core.paths import ENSEMBLE_METRICS, MODELS_DIR, model_path
from genre_ensemble.members.registry import kind_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedMembers:
    """The trained members of the ensemble, their weights and the labels they predict.

    Attributes
    ----------
    weights : dict
        ``member -> weight`` in ``ensemble.members`` order, summing to 1.
    members : dict
        ``member -> Member`` (its kind and settings, from params.yaml).
    models : dict
        ``member -> the trained model`` as its kind loaded it.
    labels : tuple of str
        The label set, in class-index order (``metrics/ensemble.json``; GTZAN's genres for a
        run that did not record them).
    root : Path
        The workspace the members were trained in (a kind may read files there).
    """

    weights: dict[str, float]
    members: dict[str, Member]
    models: dict[str, Any]
    labels: tuple[str, ...] = GTZAN_GENRES
    root: Path = Path(".")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)


def ensemble_record(path: str | Path, members: Sequence[str]
                    ) -> tuple[dict[str, float], tuple[str, ...]]:
    """The normalised weights the ``ensemble`` stage used, for ``members`` in that order, and
    the labels it recorded (GTZAN's genres when it recorded none: a run before labels were).

    Raises
    ------
    ModelsUnavailableError
        If the file is missing or was written for other members than ``members``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelsUnavailableError(
            f"no ensemble weights at {path}: run `dvc repro` (or `dvc pull`) first"
        )
    try:
        record = json.loads(path.read_text())
        weights = {str(name): float(value) for name, value in record["weights"].items()}
        labels = tuple(str(label) for label in record.get("labels", GTZAN_GENRES))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelsUnavailableError(
            f"{path} is not the ensemble stage's output ({error})"
        ) from error
    if set(weights) != set(members):
        raise ModelsUnavailableError(
            f"{path} holds weights for {sorted(weights)} but params.yaml's ensemble.members is "
            f"{list(members)}: run `dvc repro` to retrain the ensemble"
        )
    total = sum(weights[name] for name in members)
    if not total > 0:
        raise ModelsUnavailableError(f"{path}: the ensemble weights sum to {total}")
    return {name: weights[name] / total for name in members}, labels


def load_members(
    params: Params,
    models_dir: str | Path = MODELS_DIR,
    weights_path: str | Path = ENSEMBLE_METRICS,
    *,
    root: str | Path | None = None,
) -> LoadedMembers:
    """Load every member of ``params.ensemble.members``, the ensemble's weights and labels.

    Every file is checked before TensorFlow is imported, so a workspace that was never
    trained fails in a fraction of a second.

    Parameters
    ----------
    params : Params
        The settings the members were trained with.
    models_dir : str or Path
        Folder of the trained members (the pipeline's ``models/``).
    weights_path : str or Path
        The ``ensemble`` stage's ``metrics/ensemble.json``.
    root : str or Path, optional
        The workspace the members were trained in (default: the folder above ``models_dir``);
        a kind may read files there (the pretrained weights are looked for from it upwards).

    Raises
    ------
    ModelsUnavailableError
        With one sentence naming what is missing and how to get it.
    """
    from genre_ensemble.members.predictors import predictor_of

    root = Path(models_dir).parent if root is None else Path(root)
    members = {name: params.member(name) for name in params.ensemble.members}
    paths = {name: model_path(name, kind_of(member).model_suffix, models_dir=models_dir)
             for name, member in members.items()}
    missing = [path for path in paths.values() if not path.is_file()]
    if len(missing) == len(paths):
        raise ModelsUnavailableError(
            f"no trained models in {Path(models_dir)}/: run `dvc repro` (or `dvc pull`) first"
        )
    if missing:
        raise ModelsUnavailableError(
            f"{', '.join(map(str, missing))} missing (params.yaml's ensemble.members lists "
            f"{list(members)}): run `dvc repro` (or `dvc pull`) first"
        )
    weights, labels = ensemble_record(weights_path, list(members))
    models = {name: predictor_of(member).load(member, paths[name], params, root=root)
              for name, member in members.items()}
    return LoadedMembers(weights=weights, members=members, models=models, labels=labels,
                         root=root)
