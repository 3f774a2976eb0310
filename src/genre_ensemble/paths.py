"""Where the workspace keeps things: every path the pipeline reads or writes, relative to the
repository root. The same paths are declared in dvc.yaml; nothing else spells them out.

Ground floor: imports only :mod:`pathlib` and the member names.
"""

from __future__ import annotations

from pathlib import Path

from genre_ensemble.members import CLASSIFIER_MEMBERS

PARAMS_FILE = Path("params.yaml")
LOCK_FILE = Path("dvc.lock")
# Folders that hold every stage output (swept for interrupted writes when a stage starts).
OUTPUT_ROOTS = (Path("data"), Path("models"), Path("metrics"), Path("plots"))

# the pretrained musicnn checkpoints: the musicnn wheel file, fetched by `make musicnn`
MUSICNN_WEIGHTS_DIR = Path(".cache/musicnn")

# stage `validate`: constant bytes that every other stage depends on
PARAMS_CHECKED = Path("data/params.checked")

# stage `corpus` / `prepare`
SYNTHETIC_DIR = Path("data/synthetic")
SPLIT_LISTS = Path("data/splits")
MANIFEST = Path("data/prepared/manifest.csv")
DATA_METRICS = Path("metrics/data.json")
SKIPPED_REPORT = Path("metrics/skipped_clips.csv")
DUPLICATES_REPORT = Path("metrics/duplicates.csv")

# stage `images`: <IMAGES_DIR>/<representation>/<track>.npy (all windows of a clip, see
# genre_ensemble.imagestore) and an index per folder
IMAGES_DIR = Path("data/images")
IMAGE_INDEX = "index.csv"

# stages `train@<rep>`, `features`, `fit_features`
MODELS_DIR = Path("models")
NETWORK_SUFFIX = ".keras"
FEATURES_MODEL_SUFFIX = ".joblib"
PREDICTIONS_DIR = Path("data/predictions")
FEATURES_TABLE = Path("data/features/features.csv")
TRAINING_LOGS = Path("plots/train")  # dvclive's folder per CNN member

# stages `musicnn_embeddings`, `fit_musicnn`: one pooled embedding per usable clip
MUSICNN_EMBEDDINGS = Path("data/musicnn/embeddings.npz")

# stages `ensemble` / `evaluate`
ENSEMBLE_PREDICTIONS = Path("data/ensemble/predictions.csv")
ENSEMBLE_METRICS = Path("metrics/ensemble.json")
METRICS = Path("metrics/metrics.json")
PER_GENRE = Path("metrics/per_genre.json")
CONFUSION_TABLE = Path("plots/confusion.csv")
CONFUSION_FIGURE = Path("plots/confusion.png")
TEST_CLIPS = Path("metrics/test_clips.csv")  # per-clip outcomes: `compare` pairs runs by clip


def model_path(member: str, *, models_dir: str | Path = MODELS_DIR) -> Path:
    """The trained ``member``: ``<models_dir>/<rep>.keras`` or ``<models_dir>/<member>.joblib``
    (features, musicnn)."""
    suffix = FEATURES_MODEL_SUFFIX if member in CLASSIFIER_MEMBERS else NETWORK_SUFFIX
    return Path(models_dir) / f"{member}{suffix}"


def predictions_path(member: str) -> Path:
    """The clip-level val/test predictions table of ``member``."""
    return PREDICTIONS_DIR / f"{member}.csv"


def image_folder(representation: str, *, images_dir: str | Path = IMAGES_DIR) -> Path:
    """The folder of one representation's window images and their index."""
    return Path(images_dir) / representation


def image_index(folder: str | Path) -> Path:
    """The index table (file, track, genre, split, window) of an image folder."""
    return Path(folder) / IMAGE_INDEX


def training_log_dir(member: str) -> Path:
    """dvclive's folder of one CNN member."""
    return TRAINING_LOGS / member


def machine_path(member: str) -> Path:
    """The record of the machine and runtime that trained a CNN member."""
    return training_log_dir(member) / "machine.json"


def curve_path(member: str, split: str, metric: str) -> Path:
    """dvclive's per-epoch table for one member, split (train/eval) and metric."""
    return training_log_dir(member) / "plots" / "metrics" / split / f"{metric}.tsv"
