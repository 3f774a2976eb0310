"""Where the pretrained musicnn checkpoints come from, and reading them.

The weights are the MSD- and MTT-trained checkpoints that ship inside the ``musicnn`` 0.1.0 wheel
on PyPI (Jordi Pons, Music Technology Group, Universitat Pompeu Fabra; ISC license). The package
itself is never installed: it pins ``numpy<1.17`` and ``tensorflow>=1.14``'s legacy layers, which
would break ``pip check``. Instead the wheel *file* is downloaded once at setup (``make musicnn``,
i.e. ``python -m genre_ensemble.members.pretrained.weights``: ``pip download`` with its sha256
checked) into a cache folder, and the checkpoint is read from the zip on demand. Nothing here
touches the network except :func:`fetch`, which only setup calls.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from genre_ensemble.core.fileio import atomic_path
from genre_ensemble.core.paths import PRETRAINED_WEIGHTS_DIR

logger = logging.getLogger(__name__)

PACKAGE = "musicnn"
VERSION = "0.1.0"
WHEEL_NAME = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
# Relative to the working directory (the repository root for make, dvc and pytest).
DEFAULT_DIR = PRETRAINED_WEIGHTS_DIR
FETCH_COMMAND = "make musicnn"
# Names a folder holding the wheel elsewhere (a shared cache, a read-only checkout).
DIR_VARIABLE = "GENRE_ENSEMBLE_MUSICNN_DIR"
# The wheel's checkpoints: the musicnn and the VGG architecture, trained on the Million Song
# Dataset (MSD) or MagnaTagATune (MTT); genre_ensemble.members.pretrained.networks builds them.
CHECKPOINTS: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
# The checkpoints' files are named by an empty prefix: "<model>/.index", "<model>/.data-...".
_CHECKPOINT_SUFFIXES = (".index", ".data-00000-of-00001")


class MissingWeightsError(FileNotFoundError):
    """The musicnn wheel is not in the cache folder; the message says how to get it."""


def wheel_path(folder: str | Path = DEFAULT_DIR) -> Path:
    """The cached wheel's path, or a one-line :class:`MissingWeightsError` with the fix.

    Parameters
    ----------
    folder : str or Path
        The cache folder that :func:`fetch` fills.
    """
    path = Path(folder) / WHEEL_NAME
    if not path.is_file():
        raise MissingWeightsError(
            f"musicnn weights not found ({path}): run `{_fetch_command(folder)}` to download the "
            f"{PACKAGE}=={VERSION} wheel from PyPI (29 MB, ISC license)")
    return path


def weights_dir(start: str | Path = ".", *, environ: Mapping[str, str] | None = None) -> Path:
    """The folder the stages and ``predict`` read the wheel from.

    ``$GENRE_ENSEMBLE_MUSICNN_DIR`` when set; else the first :data:`DEFAULT_DIR` that holds
    the wheel in ``start`` or a folder above it; else ``start / DEFAULT_DIR`` (where ``make
    musicnn`` puts it, and which :func:`check_wheel` then reports as missing). Looking upwards
    is what lets ``dvc exp run --temp`` and queued experiments use the repository's wheel:
    DVC runs them in a copy under ``.dvc/tmp/exps/`` that lacks the git-ignored ``.cache/``.
    The wheel's sha256 is checked wherever it is found.

    Parameters
    ----------
    start : str or Path
        The working tree to start from (a stage's working directory, predict's workspace).
    environ : mapping, optional
        The environment to read :data:`DIR_VARIABLE` from; ``os.environ`` by default.
    """
    environ = os.environ if environ is None else environ
    if environ.get(DIR_VARIABLE):
        return Path(environ[DIR_VARIABLE])
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / DEFAULT_DIR / WHEEL_NAME).is_file():
            return folder / DEFAULT_DIR
    return start / DEFAULT_DIR


def _fetch_command(folder: str | Path) -> str:
    if Path(folder).resolve() == DEFAULT_DIR.resolve():
        return FETCH_COMMAND
    return f"python -m genre_ensemble.members.pretrained.weights --dir {folder}"


def check_wheel(folder: str | Path = DEFAULT_DIR) -> Path:
    """The cached wheel, present and with the pinned sha256 (reads 29 MB, about 0.1 s).

    The pin in this module is what identifies the weights: a stage that uses them depends on
    this file, so a different wheel can only come with a changed pin, which reruns it.

    Parameters
    ----------
    folder : str or Path
        The cache folder that :func:`fetch` fills.

    Raises
    ------
    MissingWeightsError
        One line saying how to get the right wheel, when it is absent or differs.
    """
    path = wheel_path(folder)
    digest = sha256(path)
    if digest != WHEEL_SHA256:
        raise MissingWeightsError(
            f"musicnn weights {path} have sha256 {digest[:12]}..., not the pinned "
            f"{WHEEL_SHA256[:12]}...: delete the file and run `{_fetch_command(folder)}`")
    return path


def read_checkpoint(model: str = "MSD_musicnn", *, folder: str | Path = DEFAULT_DIR
                    ) -> dict[str, np.ndarray]:
    """The trained variables of one musicnn checkpoint, read from the cached wheel.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"}
    folder : str or Path
        The cache folder holding the wheel.

    Returns
    -------
    dict
        Variable name (e.g. ``"conv2d/kernel"``, ``"batch_normalization_3/moving_mean"``) to a
        float32 array; the optimiser's slots (Adam moments, beta powers) are left out.
    """
    if model not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {model!r}; choose one of {', '.join(CHECKPOINTS)}")
    wheel = wheel_path(folder)
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="musicnn-") as temp, zipfile.ZipFile(wheel) as zf:
        # tf.train.load_checkpoint needs files on disk behind a non-empty prefix
        prefix = Path(temp) / "model"
        for suffix in _CHECKPOINT_SUFFIXES:
            Path(f"{prefix}{suffix}").write_bytes(zf.read(f"{PACKAGE}/{model}/{suffix}"))
        reader = tf.train.load_checkpoint(str(prefix))
        names = reader.get_variable_to_shape_map()
        return {name: reader.get_tensor(name) for name in sorted(names)
                if "Adam" not in name and not name.startswith("beta")}


def assign_checkpoint(model, weights: Mapping[str, np.ndarray]) -> None:
    """Set each named layer's variables of a Keras ``model`` from a checkpoint's ``weights``
    (:func:`read_checkpoint`): the layers carry the checkpoint's variable scopes as names.

    Raises
    ------
    ValueError
        When a checkpoint variable is left without a layer (the port would be incomplete).
    """
    order = {"Conv2D": ("kernel", "bias"), "Dense": ("kernel", "bias"),
             "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance")}
    used = set()
    for layer in model.layers:
        names = order.get(type(layer).__name__)
        if names is None:
            continue
        keys = [f"{layer.name}/{n}" for n in names]
        layer.set_weights([weights[k] for k in keys])
        used.update(keys)
    unused = sorted(set(weights) - used)
    if unused:
        raise ValueError(f"checkpoint variables without a layer: {unused}")


def sha256(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(folder: str | Path = DEFAULT_DIR) -> Path:
    """Download the pinned wheel into ``folder`` unless it is there already (setup only).

    ``pip download --no-deps --require-hashes`` checks the sha256; the package is not
    installed. Idempotent and offline when the wheel is present with the right hash.

    Returns
    -------
    Path
        The wheel.
    """
    target = Path(folder) / WHEEL_NAME
    if target.is_file() and sha256(target) == WHEEL_SHA256:
        logger.info("musicnn weights present: %s", target)
        return target
    with tempfile.TemporaryDirectory(prefix="musicnn-fetch-") as temp:
        requirements = Path(temp) / "requirements.txt"
        requirements.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--require-hashes", "-r", str(requirements),
                        "-d", temp], check=True)
        downloaded = Path(temp) / WHEEL_NAME
        if sha256(downloaded) != WHEEL_SHA256:  # pip checked; this guards a changed pip
            raise RuntimeError(f"{WHEEL_NAME}: sha256 mismatch")
        with atomic_path(target) as partial:
            partial.write_bytes(downloaded.read_bytes())
    logger.info("musicnn weights downloaded: %s", target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"Download the {WHEEL_NAME} weights (setup).")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="cache folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fetch(args.dir)


if __name__ == "__main__":
    main()
