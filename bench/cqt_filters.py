"""What keeping librosa's CQT filter banks in memory saves (``remember_cqt_filters``).

    python -m bench.cqt_filters --clips ../shared/gtzan-sample/full --repeats 5

CPU seconds (this process, numerical libraries on one thread) per 30 s clip, with the banks
kept and with librosa's own builder (rebuilt on every call), in interleaved rounds so a shared
machine's load weighs on both alike:

- ``cqt``: :func:`genre_ensemble.members.cnn.representations.cqt_magnitude` of the whole clip
  (the image stage's one CQT of a 30 s GTZAN clip);
- ``images``: :func:`genre_ensemble.members.cnn.images.signal_images` of the whole clip with
  the default image and window params (the stage's transforms and rendering of a 30 s GTZAN
  clip);
- ``predict inputs``: :func:`genre_ensemble.inference.inputs.file_inputs` of the file for the
  default members (decoding, cutting into ``data.clip_seconds`` clips, images and descriptors:
  what ``predict`` prepares per file before the networks run).

The hook is :func:`genre_ensemble.members.cnn.cqt_filters.remember_cqt_filters`.

Both variants give the same arrays (checked on every clip). Without ``--clips``, synthetic
30 s clips are used. Writes ``bench/results/cqt_filters.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import librosa.core.constantq
import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import REPO, median, program, table, write_clips, write_results
from genre_ensemble.core.paths import PARAMS_FILE
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.inference.inputs import file_inputs
from genre_ensemble.members.cnn import cqt_filters
from genre_ensemble.members.cnn.images import ImageJob, signal_images
from genre_ensemble.members.cnn.representations import cqt_magnitude
from genre_ensemble.members.registry import load_params

logger = logging.getLogger("bench.cqt_filters")
MODULE = librosa.core.constantq
NAME = cqt_filters._FILTER_FFT_NAME


def cpu_seconds(function: Callable[[], object]) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=None, help="folder of 30 s clips")
    parser.add_argument("--files", type=int, default=5, help="clips to use (default: 5)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default: 5)")
    args = parser.parse_args()
    params = load_params(REPO / PARAMS_FILE)
    members = [params.member(name) for name in params.ensemble.members]
    sr = params.data.sample_rate
    with tempfile.TemporaryDirectory() as temp:
        if args.clips is None:
            paths = write_clips(Path(temp), args.files, seconds=30.0)
        else:
            paths = sorted(args.clips.rglob("*.wav"))[: args.files]
        signals = [load_clip(p, sample_rate=sr, seconds=None) for p in paths]
        cqt = params.images.cqt
        job = ImageJob.from_params(params)
        tasks: dict[str, Callable[[Path, np.ndarray], object]] = {
            "cqt": lambda p, y: cqt_magnitude(
                y, sr=sr, hop_length=cqt.hop_length, fmin=cqt.fmin, n_bins=cqt.n_bins,
                bins_per_octave=cqt.bins_per_octave),
            "images": lambda p, y: signal_images(y, job),
            "predict inputs": lambda p, y: file_inputs(p, params, members, root=REPO),
        }
        cqt_filters.remember_cqt_filters()
        kept = getattr(MODULE, NAME)

        def rebuilt_each_call(*args, **kwargs):  # librosa's builder, marked as installed so
            return kept.remembers(*args, **kwargs)  # cqt_magnitude does not wrap it again

        rebuilt_each_call.remembers = kept.remembers
        variants = {"kept": kept, "rebuilt": rebuilt_each_call}
        seconds: dict[tuple[str, str], list[float]] = {}
        with threadpool_limits(1):
            for builder in variants.values():  # warm-up
                setattr(MODULE, NAME, builder)
                for path, signal in zip(paths, signals, strict=True):
                    tasks["cqt"](path, signal)
            setattr(MODULE, NAME, variants["rebuilt"])
            rebuilt = [tasks["cqt"](p, y) for p, y in zip(paths, signals, strict=True)]
            setattr(MODULE, NAME, variants["kept"])
            same = all(np.array_equal(a, tasks["cqt"](p, y)) for a, p, y in
                       zip(rebuilt, paths, signals, strict=True))
            for round_number in range(args.repeats):
                for task, function in tasks.items():
                    for variant, builder in variants.items():
                        setattr(MODULE, NAME, builder)
                        total = sum(cpu_seconds(lambda f=function, p=p, y=y: f(p, y))
                                    for p, y in zip(paths, signals, strict=True))
                        seconds.setdefault((task, variant), []).append(total / len(paths))
                logger.info("round %d of %d", round_number + 1, args.repeats)
            setattr(MODULE, NAME, kept)
    rows, results = [], {}
    for task in tasks:
        kept_s, rebuilt_s = median(seconds[(task, "kept")]), median(seconds[(task, "rebuilt")])
        rows.append([task, round(rebuilt_s, 4), round(kept_s, 4), round(rebuilt_s / kept_s, 2)])
        results[task] = {"rebuilt_cpu_seconds_per_clip": seconds[(task, "rebuilt")],
                         "kept_cpu_seconds_per_clip": seconds[(task, "kept")],
                         "rebuilt_median": rebuilt_s, "kept_median": kept_s}
    print(table(rows, ["per 30 s clip", "rebuilt (s CPU)", "kept (s CPU)", "speed-up"]))
    print(f"identical CQTs: {same}")
    write_results("cqt_filters", {"clips": [str(p) for p in paths] if args.clips else
                                  f"{len(paths)} synthetic 30 s clips",
                                  "identical": same, "repeats": args.repeats, "tasks": results})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
