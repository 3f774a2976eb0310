"""What every stage entry point shares: logging, params loading, one-line failures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from genre_ensemble.audio import AudioError
from genre_ensemble.dataset import DatasetError
from genre_ensemble.params import Params, ParamsError, load_params

logger = logging.getLogger("genre_ensemble")

# Where each stage writes; the same paths are declared in dvc.yaml.
SYNTHETIC_DIR = Path("data/synthetic")
MANIFEST = Path("data/prepared/manifest.csv")
DATA_METRICS = Path("metrics/data.json")
SKIPPED_REPORT = Path("metrics/skipped_clips.csv")
DUPLICATES_REPORT = Path("metrics/duplicates.csv")
IMAGES_DIR = Path("data/images")
FEATURES_TABLE = Path("data/features/features.csv")
PREDICTIONS_DIR = Path("data/predictions")
MODELS_DIR = Path("models")
ENSEMBLE_PREDICTIONS = Path("data/ensemble/predictions.csv")
ENSEMBLE_METRICS = Path("metrics/ensemble.json")
METRICS = Path("metrics/metrics.json")
PER_GENRE = Path("metrics/per_genre.json")
CONFUSION_TABLE = Path("plots/confusion.csv")
CONFUSION_FIGURE = Path("plots/confusion.png")
TRAINING_LOGS = Path("plots/train")
SPLIT_LISTS = Path("data/splits")


class StageError(Exception):
    """A stage cannot go on; the message says what is wrong and how to fix it."""


def predictions_path(member: str) -> Path:
    return PREDICTIONS_DIR / f"{member}.csv"


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def run_stage(stage: Callable[[Params], None], params_path: str | Path = "params.yaml") -> None:
    """Validate params.yaml, run ``stage`` with it, and turn known failures into one line.

    A wrong parameter or unusable input exits with status 2 and one sentence on stderr, no
    traceback, before the stage writes anything.
    """
    setup_logging()
    try:
        params = load_params(params_path)
        stage(params)
    except (ParamsError, DatasetError, AudioError, StageError) as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(2)
