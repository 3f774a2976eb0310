"""DVC's save and checkout of the image stage's outputs at GTZAN's size: one array file per clip
and representation (the store) against one PNG per window (the store before it).

Renders the window images of ``--distinct`` synthetic clips with the stage's own code
(:func:`genre_ensemble.members.cnn.images.signal_images`, params.yaml's images and windows,
``--seconds`` clips), then lays out ``--clips`` clips (GTZAN: 1000) in each layout under
``data/images/{stft,cqt,chroma}`` of a fresh git + DVC repository. Clips beyond the distinct
ones reuse their pixels with one clip-specific pixel changed, so every file has its own
content (DVC stores identical files once). Times, per layout, the wall seconds of:

- writing the files (PNG encoding vs ``np.save``),
- ``dvc add`` of the three folders (hashing and copying into the cache: what DVC does when a
  stage's outputs are saved),
- ``dvc checkout`` of the three folders after deleting them from the workspace.

Example::

    python -m bench.image_store_dvc --clips 1000
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import REPO, bench_env, program, table, write_results
from bench.workspace import run_checked
from genre_ensemble.core.paths import IMAGES_DIR, PARAMS_FILE
from genre_ensemble.corpus.synthetic import synthesize_clip
from genre_ensemble.members.cnn.images import ImageJob, signal_images
from genre_ensemble.members.cnn.imagestore import array_file, write_windows
from genre_ensemble.members.registry import load_params

logger = logging.getLogger("bench.image_store_dvc")


def distinct_windows(job: ImageJob, count: int, seconds: float) -> list[dict[str, np.ndarray]]:
    """The stage's window images of ``count`` synthetic clips: ``name -> (n, h, w, c)``."""
    genres = ("blues", "classical", "jazz", "metal", "reggae")
    clips = []
    for number in range(count):
        signal = synthesize_clip(genres[number % len(genres)], number, seconds=seconds,
                                 sr=job.sample_rate)
        images = signal_images(signal, job)
        clips.append({name: np.stack(windows) for name, windows in images.items()})
    return clips


def unique_copy(windows: np.ndarray, number: int) -> np.ndarray:
    """``windows`` with one pixel set from ``number``, so that each clip's file is unique."""
    copy = windows.copy()
    flat = copy.reshape(-1)
    flat[: 2] = np.frombuffer(int(number).to_bytes(2, "little"), dtype=np.uint8)
    return copy


def write_png_layout(folder: Path, name: str, track: str, windows: np.ndarray) -> None:
    """The former layout: ``<track>.wNN.png`` per window."""
    from PIL import Image

    for window, pixels in enumerate(windows):
        array = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        Image.fromarray(array).save(folder / name / f"{track}.w{window:02d}.png", format="PNG")


def write_array_layout(folder: Path, name: str, track: str, windows: np.ndarray) -> None:
    """The store: ``<track>.npy`` holding every window."""
    write_windows(folder / name / array_file(track), windows)


LAYOUTS = {"png per window": write_png_layout, "array per clip": write_array_layout}


def measure(layout: str, clips: list[dict[str, np.ndarray]], total: int, root: Path) -> dict:
    """Write ``total`` clips in ``layout`` into a fresh repository; time writing, add, checkout."""
    env = bench_env(root)
    root.mkdir(parents=True)
    run_checked(["git", "init", "-q"], root, env)
    run_checked(["dvc", "init", "-q"], root, env)
    images = root / IMAGES_DIR
    names = list(clips[0])
    for name in names:
        (images / name).mkdir(parents=True)
    started = time.perf_counter()
    for number in range(total):
        track = f"clip.{number:05d}"
        for name in names:
            windows = unique_copy(clips[number % len(clips)][name], number)
            LAYOUTS[layout](images, name, track, windows)
    written = time.perf_counter() - started
    files = sum(1 for path in images.rglob("*") if path.is_file())
    size = sum(path.stat().st_size for path in images.rglob("*") if path.is_file())
    folders = [str(IMAGES_DIR / name) for name in names]
    started = time.perf_counter()
    run_checked(["dvc", "add", "-q", *folders], root, env)
    added = time.perf_counter() - started
    for name in names:
        shutil.rmtree(images / name)
    started = time.perf_counter()
    run_checked(["dvc", "checkout", "-q", *folders], root, env)
    checked_out = time.perf_counter() - started
    logger.info("%s: %d files, %.0f MB: write %.1f s, dvc add %.1f s, dvc checkout %.1f s",
                layout, files, size / 1e6, written, added, checked_out)
    return {"files": files, "megabytes": round(size / 1e6, 1), "write_s": round(written, 2),
            "dvc_add_s": round(added, 2), "dvc_checkout_s": round(checked_out, 2)}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000, help="clips in the store (GTZAN: 1000)")
    parser.add_argument("--distinct", type=int, default=10, help="clips actually rendered")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    args = parser.parse_args()
    params = load_params(REPO / PARAMS_FILE)
    job = replace(ImageJob.from_params(params), clip_seconds=args.seconds)
    clips = distinct_windows(job, args.distinct, args.seconds)
    windows = {name: int(array.shape[0]) for name, array in clips[0].items()}
    (REPO / ".cache" / "bench").mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory(dir=REPO / ".cache" / "bench", prefix="store-") as tmp:
        for layout in args.layouts:
            folder = Path(tmp) / layout.replace(" ", "-")
            results[layout] = measure(layout, clips, args.clips, folder)
    rows = [(layout, r["files"], r["megabytes"], r["write_s"], r["dvc_add_s"], r["dvc_checkout_s"])
            for layout, r in results.items()]
    print(table(rows, ["layout", "files", "MB", "write s", "dvc add s", "dvc checkout s"]))
    path = write_results("image_store_dvc", {
        "settings": {**vars(args), "windows_per_clip": windows,
                     "image_size": [params.images.height, params.images.width]},
        "results": results,
    })
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
