"""Where the workspace keeps things: every path the pipeline reads or writes, relative to the
repository root. The same paths are declared in dvc.yaml; nothing else spells them out.

Ground floor: imports only :mod:`pathlib`.
"""

from __future__ import annotations

from pathlib import Path

PARAMS_FILE = Path("params.yaml")
LOCK_FILE = Path("dvc.lock")
# Folders that hold every stage output (swept for interrupted writes when a stage starts).
OUTPUT_ROOTS = (Path("data"), Path("models"), Path("metrics"), Path("plots"))

# the pretrained checkpoints: the musicnn wheel file, fetched by `make musicnn`
PRETRAINED_WEIGHTS_DIR = Path(".cache/musicnn")

# stage `validate`: constant bytes that every other stage depends on
PARAMS_CHECKED = Path("data/params.checked")

# stage `corpus` / `prepare`
SYNTHETIC_DIR = Path("data/synthetic")
SPLIT_LISTS = Path("data/splits")
MANIFEST = Path("data/prepared/manifest.csv")
# the usable clips without their split: what a stage reads that must not rerun per split
CLIPS = Path("data/prepared/clips.csv")
DATA_METRICS = Path("metrics/data.json")
SKIPPED_REPORT = Path("metrics/skipped_clips.csv")
DUPLICATES_REPORT = Path("metrics/duplicates.csv")

# stage `images`: <IMAGES_DIR>/<representation>/<track>.npy (all windows of a clip, see
# genre_ensemble.members.cnn.imagestore) and an index per folder
IMAGES_DIR = Path("data/images")
IMAGE_INDEX = "index.csv"

# every member's stages: its model (models/<member><suffix of its kind>) and its clip
# probabilities on the val / calib / test clips
MODELS_DIR = Path("models")
PREDICTIONS_DIR = Path("data/predictions")
# stage `features`: the descriptors of every window
FEATURES_TABLE = Path("data/features/features.csv")
# stages `train@<member>`: dvclive's folder per CNN member
TRAINING_LOGS = Path("plots/train")
# stages `embed@<member>`: one pooled embedding per usable clip, per pretrained member
EMBEDDINGS_DIR = Path("data/embeddings")

# stages `ensemble` / `evaluate`
ENSEMBLE_PREDICTIONS = Path("data/ensemble/predictions.csv")
ENSEMBLE_METRICS = Path("metrics/ensemble.json")
METRICS = Path("metrics/metrics.json")
PER_GENRE = Path("metrics/per_genre.json")
CONFUSION_FIGURE = Path("plots/confusion.png")
TEST_CLIPS = Path("metrics/test_clips.csv")  # per-clip outcomes: `compare` pairs runs by clip


def model_path(member: str, suffix: str, *, models_dir: str | Path = MODELS_DIR) -> Path:
    """The trained ``member``: ``<models_dir>/<member><suffix>``, the suffix of its kind's
    model files (``.keras``, ``.joblib``)."""
    return Path(models_dir) / f"{member}{suffix}"


def predictions_path(member: str) -> Path:
    """The clip-level val/test predictions table of ``member``."""
    return PREDICTIONS_DIR / f"{member}.csv"


def embeddings_path(member: str) -> Path:
    """The clip embeddings of one pretrained member."""
    return EMBEDDINGS_DIR / f"{member}.npz"


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
