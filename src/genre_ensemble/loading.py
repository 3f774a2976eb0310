"""Load the trained members of the ensemble and the weights the ``ensemble`` stage used.

Nothing heavy is imported with this module: Keras and TensorFlow load only when a CNN member is
loaded. Keras models load in safe mode (no code from a model file runs);
``models/features.joblib`` and ``models/musicnn.joblib`` are pickles written by the pipeline's
``fit_features`` and ``fit_musicnn`` stages and must be trusted like any pipeline output.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genre_ensemble.members import FEATURE_MEMBER, MUSICNN_MEMBER, REPRESENTATIONS
from genre_ensemble.params import Params
from genre_ensemble.paths import ENSEMBLE_METRICS, MODELS_DIR, MUSICNN_WEIGHTS_DIR, model_path
from genre_ensemble.quiet import native_stderr_to_log

logger = logging.getLogger(__name__)


class ModelsUnavailableError(Exception):
    """The trained members or ensemble weights are missing or do not fit params.yaml."""


@dataclass(frozen=True)
class LoadedMembers:
    """The trained members of the ensemble and their weights.

    Attributes
    ----------
    weights : dict
        ``member -> weight`` in ``ensemble.members`` order, summing to 1.
    networks : dict
        ``representation -> keras.Model`` for the CNN members.
    features : sklearn Pipeline or None
        The feature-based member, when it is in the ensemble.
    musicnn : sklearn Pipeline or None
        The musicnn member's classifier, when it is in the ensemble.
    musicnn_dir : Path
        The folder of the musicnn wheel its embeddings are computed with.
    """

    weights: dict[str, float]
    networks: dict[str, Any]
    features: Any | None = None
    musicnn: Any | None = None
    musicnn_dir: Path = MUSICNN_WEIGHTS_DIR

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)


def ensemble_weights(path: str | Path, members: Sequence[str]) -> dict[str, float]:
    """The normalised weights the ``ensemble`` stage used, for ``members`` in that order.

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
        recorded = json.loads(path.read_text())["weights"]
        weights = {str(name): float(value) for name, value in recorded.items()}
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
    return {name: weights[name] / total for name in members}


def _expected_image_shape(params: Params) -> tuple[int, int, int]:
    from genre_ensemble.representations import image_channels  # imports librosa

    return params.images.height, params.images.width, image_channels(params.images.style)


def _load_network(path: Path, params: Params) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:  # a fresh process: the kernels and threads of training
        from genre_ensemble.runtime import pin_cpu_kernels, set_threads

        pin_cpu_kernels(params.train.cpu_kernels)
        set_threads(params.train.threads)
    with native_stderr_to_log(logger):  # TensorFlow's start-up banner, which no setting silences
        from genre_ensemble.training import load_model  # imports Keras and TensorFlow

    try:
        model = load_model(path)
    except Exception as error:  # corrupt file, or a layer safe mode refuses to deserialise
        raise ModelsUnavailableError(f"cannot load {path}: {error}") from error
    expected = _expected_image_shape(params)
    shape = tuple(model.input_shape[1:])
    if shape != expected:
        raise ModelsUnavailableError(
            f"{path} takes {shape} images but params.yaml's images settings give {expected}: "
            "run `dvc repro` to retrain it"
        )
    return model


def _load_features_model(path: Path) -> Any:
    import joblib

    try:
        model = joblib.load(path)
    except Exception as error:
        raise ModelsUnavailableError(f"cannot load {path}: {error}") from error
    if model is None:  # an opt-in member's placeholder (see genre_ensemble.musicnn_member)
        raise ModelsUnavailableError(
            f"{path} is a placeholder (the member was not in ensemble.members when it was "
            "trained): run `dvc repro`"
        )
    return model


def _load_musicnn_model(path: Path, musicnn_dir: Path) -> Any:
    from genre_ensemble.musicnn_weights import MissingWeightsError, check_wheel

    model = _load_features_model(path)
    try:
        check_wheel(musicnn_dir)  # its embeddings need the network
    except MissingWeightsError as error:
        raise ModelsUnavailableError(str(error)) from error
    return model


def load_members(
    params: Params,
    models_dir: str | Path = MODELS_DIR,
    weights_path: str | Path = ENSEMBLE_METRICS,
    *,
    musicnn_dir: str | Path = MUSICNN_WEIGHTS_DIR,
) -> LoadedMembers:
    """Load every member of ``params.ensemble.members`` and the ensemble's weights.

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
    musicnn_dir : str or Path
        The folder of the musicnn wheel (checked only with a musicnn member).

    Raises
    ------
    ModelsUnavailableError
        With one sentence naming what is missing and how to get it.
    """
    members = params.ensemble.members
    paths = {member: model_path(member, models_dir=models_dir) for member in members}
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
    weights = ensemble_weights(weights_path, members)
    networks = {m: _load_network(paths[m], params) for m in members if m in REPRESENTATIONS}
    features = _load_features_model(paths[FEATURE_MEMBER]) if FEATURE_MEMBER in paths else None
    musicnn = (_load_musicnn_model(paths[MUSICNN_MEMBER], Path(musicnn_dir))
               if MUSICNN_MEMBER in paths else None)
    return LoadedMembers(weights=weights, networks=networks, features=features, musicnn=musicnn,
                         musicnn_dir=Path(musicnn_dir))
