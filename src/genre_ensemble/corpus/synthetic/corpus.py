"""Per-clip seeds and writing a GTZAN-shaped corpus of synthetic WAV files."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from joblib import Parallel, delayed
from tqdm import tqdm

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.labels import label_index

from .render import synthesize_clip, validate

GENRE_INDEX = label_index(GENRES)

logger = logging.getLogger(__name__)


def clip_seed(seed: int, genre: str, index: int) -> int:
    """Seed of clip ``index`` of ``genre`` in a corpus generated with ``seed``.

    Derived with :class:`numpy.random.SeedSequence` from (seed, genre index, clip index) only,
    so clip k of a genre is the same whatever ``clips_per_genre`` is.

    Raises
    ------
    ValueError
        For an unknown genre or a negative ``seed`` / ``index``.
    """
    if genre not in GENRE_INDEX:
        raise ValueError(f"unknown genre {genre!r}")
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got {seed}, {index}")
    sequence = np.random.SeedSequence([seed, GENRE_INDEX[genre], index])
    return int(sequence.generate_state(1, dtype=np.uint64)[0])


def clip_path(root: Path, genre: str, index: int) -> Path:
    """GTZAN-style location of a clip: ``<root>/<genre>/<genre>.<index:05d>.wav``."""
    return Path(root) / genre / f"{genre}.{index:05d}.wav"


def _write_atomic(path: Path, audio: np.ndarray, sr: int) -> None:
    """Write 16-bit PCM WAV via a temp file in the same folder, so readers never see half a file."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sf.write(tmp_name, audio, sr, subtype="PCM_16", format="WAV")
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _make_clip(
    path: Path, genre: str, seed: int, seconds: float, sr: int, difficulty: float
) -> Path:
    """Synthesise one clip and write it to ``path`` (the unit of parallel work)."""
    audio = synthesize_clip(genre, seed, seconds=seconds, sr=sr, difficulty=difficulty)
    _write_atomic(path, audio, sr)
    return path


def write_corpus(
    root: Path,
    *,
    clips_per_genre: int,
    seconds: float,
    sr: int,
    seed: int,
    difficulty: float,
    n_jobs: int = 1,
) -> list[Path]:
    """Write a synthetic GTZAN-like corpus of mono 16-bit WAV files.

    Parameters
    ----------
    root : Path
        Output folder; ``<root>/<genre>/<genre>.000NN.wav`` files are (over)written.
    clips_per_genre : int
        Number of clips per genre.
    seconds : float
        Length of each clip in seconds.
    sr : int
        Sample rate in Hz.
    seed : int
        Corpus seed; clip k of a genre uses ``clip_seed(seed, genre, k)``.
    difficulty : float
        Genre overlap in [0, 1], see :func:`synthesize_clip`.
    n_jobs : int
        Worker processes (joblib); the files are identical for any value.

    Returns
    -------
    list[Path]
        Written paths in genre order, then clip index.
    """
    validate(GENRES[0], seconds, sr, difficulty)
    if clips_per_genre < 0:
        raise ValueError(f"clips_per_genre must be >= 0, got {clips_per_genre}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    root = Path(root)
    tasks = []
    for genre in GENRES:
        (root / genre).mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_genre):
            tasks.append((clip_path(root, genre, index), genre, clip_seed(seed, genre, index)))
    started = time.perf_counter()
    jobs = (
        delayed(_make_clip)(path, genre, clip, seconds, sr, difficulty)
        for path, genre, clip in tasks
    )
    # The generator keeps submission order, so the returned list is stable for any n_jobs.
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    paths = list(tqdm(results, total=len(tasks), desc="synthetic corpus", unit="clip"))
    elapsed = time.perf_counter() - started
    logger.info(
        "wrote %d synthetic clips (%d genres x %d, %.1f s each, %d Hz, difficulty %.2f, "
        "seed %d) to %s in %.1f s",
        len(paths),
        len(GENRES),
        clips_per_genre,
        seconds,
        sr,
        difficulty,
        seed,
        root,
        elapsed,
    )
    return paths
