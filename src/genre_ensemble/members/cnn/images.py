"""Turn clips into window images of each representation, in parallel, into the image store
(:mod:`genre_ensemble.members.cnn.imagestore`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from genre_ensemble.core.errors import AudioError
from genre_ensemble.core.fileio import atomic_path, write_csv
from genre_ensemble.core.parallel import parallel_map
from genre_ensemble.core.params import Params, WindowParams
from genre_ensemble.core.paths import image_index
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.corpus.windows import frame_slices
from genre_ensemble.members.cnn.imagestore import array_file, write_windows
from genre_ensemble.members.cnn.kind import REPRESENTATIONS, ImageParams
from genre_ensemble.members.cnn.representations import compute_representations, render

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageJob:
    """Everything a worker needs to turn one clip into images (picklable, no global state)."""

    sample_rate: int
    clip_seconds: float
    images: ImageParams
    windows: WindowParams
    names: tuple[str, ...] = REPRESENTATIONS

    @classmethod
    def from_params(cls, params: Params, *, names: Iterable[str] = REPRESENTATIONS) -> ImageJob:
        """The images stage's job for ``params``: the pipeline's cutting and rendering of the
        representations ``names``."""
        return cls(
            sample_rate=params.data.sample_rate,
            clip_seconds=params.data.clip_seconds,
            images=params.images,
            windows=params.windows,
            names=tuple(names),
        )


def signal_images(signal: np.ndarray, job: ImageJob) -> dict[str, list[np.ndarray]]:
    """All window images of one decoded clip.

    Each representation is computed once over the whole clip and then cut into windows
    (column ranges), which costs one transform per clip instead of one per window.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio at ``job.sample_rate``.

    Returns
    -------
    dict
        ``name -> [image, ...]``, one ``(height, width, channels)`` uint8 array per window.
    """
    seconds = signal.shape[0] / job.sample_rate
    values = compute_representations(signal, job.sample_rate, job.images, job.names)
    images: dict[str, list[np.ndarray]] = {}
    for name, spectrogram in values.items():
        slices = frame_slices(
            spectrogram.shape[1],
            sr=job.sample_rate,
            hop_length=job.images.hop_length(name),
            clip_seconds=seconds,
            window_seconds=job.windows.seconds,
            overlap=job.windows.overlap,
        )
        images[name] = [
            render(spectrogram[:, columns], name, job.sample_rate, job.images) for columns in slices
        ]
    return images


def _clip_to_arrays(row: dict, job: ImageJob, out_dirs: dict[str, Path]) -> list[dict]:
    """Worker: decode one clip, write one array file of its windows per representation, return
    one index row per window."""
    try:
        signal = load_clip(row["path"], sample_rate=job.sample_rate, seconds=job.clip_seconds)
    except AudioError as error:
        return [{"track": row["track"], "error": str(error)}]
    rows = []
    file_name = array_file(row["track"])
    for name, images in signal_images(signal, job).items():
        if not images:  # a clip shorter than one window has none; the index simply omits it
            continue
        write_windows(out_dirs[name] / file_name, np.stack(images))
        rows.extend(
            {
                "representation": name,
                "file": file_name,
                "track": row["track"],
                "genre": row["genre"],
                "split": row["split"],
                "window": window,
            }
            for window in range(len(images))
        )
    return rows


def build_image_sets(
    manifest: pd.DataFrame,
    out_root: str | Path,
    job: ImageJob,
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Write ``<out_root>/<name>/<track>.npy`` (all windows of a clip) and each folder's index.

    Only clips with a split (usable clips) are rendered. Clips are processed in parallel by
    joblib workers that each decode one clip at a time and return only small index rows, so
    memory stays bounded by ``n_jobs`` clips whatever the corpus size. Each representation's
    folder is built under a temporary name and renamed into place at the end.

    Parameters
    ----------
    manifest : pd.DataFrame
        Columns track, genre, path, split (:mod:`genre_ensemble.corpus.splitting`).
    backend : str
        A joblib backend (:data:`genre_ensemble.core.parallel.BACKENDS`): ``loky`` for
        local processes, ``dask`` for a cluster.

    Returns
    -------
    dict
        ``name -> index`` with columns file, track, genre, split, window.
    """
    # absolute paths: cluster workers (backend dask) need not share this process's directory
    out_root = Path(out_root).absolute()
    clips = manifest[manifest["split"] != ""][["track", "genre", "path", "split"]]
    clips = clips.assign(path=[str(Path(path).absolute()) for path in clips["path"]])
    rows: list[dict] = []
    with _temporary_folders(out_root, job.names) as temp_dirs:
        worker = partial(_clip_to_arrays, job=job, out_dirs=temp_dirs)
        for clip_rows in parallel_map(
            worker, clips.to_dict("records"), n_jobs=n_jobs, backend=backend, desc="images",
            progress=progress,
        ):
            rows.extend(clip_rows)
        failed = [row for row in rows if "error" in row]
        for row in failed:
            logger.warning("no images for %s: %s", row["track"], row["error"])
        frame = pd.DataFrame([row for row in rows if "error" not in row])
        indexes = {}
        for name in job.names:
            index = frame[frame["representation"] == name].drop(columns="representation")
            index = index.reset_index(drop=True)
            write_csv(image_index(temp_dirs[name]), index)
            indexes[name] = index
    return indexes


@contextmanager
def _temporary_folders(root: Path, names: Iterable[str]) -> Iterator[dict[str, Path]]:
    """Yield one empty temporary folder per name; on success each replaces ``<root>/<name>``.

    The folders are :func:`genre_ensemble.core.fileio.atomic_path` temporaries, so an interrupted
    run leaves only ignored ``.partial.*`` folders, which the next stage run removes.
    """
    with ExitStack() as stack:
        temps = {name: stack.enter_context(atomic_path(root / name)) for name in names}
        for path in temps.values():
            path.mkdir()
        yield temps
