"""Image stage throughput (clips/s) against the paper's way and the bare transform cost.

Every method turns the same synthetic clips (WAV files, 30 s by default) into the same number
of images (one per window and representation, windows from params.yaml's ``windows``):

- ``stage``: :func:`genre_ensemble.members.cnn.images.build_image_sets` (decode, shared
  transforms, clean rendering, one array file per clip and representation, index) in one
  process, then with ``--jobs`` workers of each joblib backend in ``--backends``
  (``parallel.backend``);
- ``bare``: :func:`genre_ensemble.members.cnn.representations.compute_representations` on
  signals decoded beforehand: STFT + one CQT (folded into chroma), no rendering, no image I/O.
  The floor;
- ``bare, separate transforms``: librosa's STFT, CQT and ``chroma_cqt`` from the signal (a
  second CQT), as code that does not share the CQT pays;
- ``paper``: the paper's way: ``librosa.load``, the three transforms once per clip, then per
  image a pyplot figure with ``librosa.display.specshow``, colour bar and title, ``savefig``.

Numerical libraries are pinned to one thread, so single-process rates are per core. Each rate
is the median of ``--repeats`` timed runs after an untimed warm-up run; the runs are
interleaved (each round runs every method once) and the two ratios are medians of per-round
ratios, so that the load of a shared machine weighs on both sides of a ratio alike. A
step-by-step run of the stage's worker (decode, transforms, rendering, storing) shows where
the time over the bare transforms goes.

Example::

    python -m bench.image_stage --clips 16 --repeats 5
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import (
    REPO,
    manifest_for,
    median,
    program,
    single_thread,
    table,
    write_clips,
    write_results,
)
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import PARAMS_FILE
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.corpus.windows import frame_slices
from genre_ensemble.members.cnn.images import ImageJob, build_image_sets
from genre_ensemble.members.cnn.kind import ImageParams
from genre_ensemble.members.cnn.representations import FIGURE_AXES, compute_representations
from genre_ensemble.members.registry import load_params

logger = logging.getLogger("bench.image_stage")


def stage(paths: list[Path], job: ImageJob, out: Path, n_jobs: int, backend: str = "loky") -> None:
    shutil.rmtree(out, ignore_errors=True)
    build_image_sets(manifest_for(paths), out, job, n_jobs=n_jobs, backend=backend,
                     progress=False)


def bare(signals: list[np.ndarray], sr: int, settings: ImageParams) -> None:
    for signal in signals:
        compute_representations(signal, sr, settings)


def bare_separate(signals: list[np.ndarray], sr: int, settings: ImageParams) -> None:
    import librosa

    cqt = settings.cqt
    for signal in signals:
        stft = np.abs(librosa.stft(signal, n_fft=settings.stft.n_fft,
                                   hop_length=settings.stft.hop_length)) ** 2
        librosa.power_to_db(stft, ref=np.max, top_db=settings.top_db)
        magnitude = np.abs(librosa.cqt(signal, sr=sr, hop_length=cqt.hop_length,
                                       fmin=librosa.note_to_hz(cqt.fmin), n_bins=cqt.n_bins,
                                       bins_per_octave=cqt.bins_per_octave))
        librosa.amplitude_to_db(magnitude, ref=np.max, top_db=settings.top_db)
        librosa.feature.chroma_cqt(y=signal, sr=sr, hop_length=settings.chroma.hop_length,
                                   fmin=librosa.note_to_hz(cqt.fmin),
                                   n_chroma=settings.chroma.n_chroma,
                                   bins_per_octave=cqt.bins_per_octave)


def paper(paths: list[Path], sr: int, seconds: float, params: Params, out: Path) -> None:
    """The paper's way: one matplotlib figure per image, saved with savefig."""
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings, cqt = params.images, params.images.cqt
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    fmin = librosa.note_to_hz(cqt.fmin)
    for path in paths:
        signal, _ = librosa.load(str(path), sr=sr, duration=seconds)
        signal = librosa.util.fix_length(signal, size=int(round(seconds * sr)))
        values = {
            "stft": librosa.amplitude_to_db(np.abs(librosa.stft(
                signal, n_fft=settings.stft.n_fft, hop_length=settings.stft.hop_length)),
                ref=np.max),
            "cqt": librosa.amplitude_to_db(np.abs(librosa.cqt(
                signal, sr=sr, hop_length=cqt.hop_length, fmin=fmin, n_bins=cqt.n_bins,
                bins_per_octave=cqt.bins_per_octave)), ref=np.max),
            "chroma": librosa.feature.chroma_cqt(y=signal, sr=sr,
                                                 hop_length=settings.chroma.hop_length),
        }
        for name, spectrogram in values.items():
            hop = settings.stft.hop_length if name == "stft" else cqt.hop_length
            slices = frame_slices(spectrogram.shape[1], sr=sr, hop_length=hop,
                                  clip_seconds=seconds, window_seconds=params.windows.seconds,
                                  overlap=params.windows.overlap)
            for window, columns in enumerate(slices):
                figure = plt.figure(figsize=(4.32, 2.88))
                extra = {"fmin": fmin} if name == "cqt" else {}
                librosa.display.specshow(spectrogram[:, columns], sr=sr, hop_length=hop,
                                         x_axis="time", y_axis=FIGURE_AXES[name], **extra)
                plt.colorbar(format="%+2.0f dB" if name != "chroma" else "%.1f")
                plt.title(name)
                plt.savefig(out / f"{path.stem}.{name}.w{window:02d}.png")
                plt.close(figure)


def breakdown(paths: list[Path], job: ImageJob, out: Path) -> dict[str, float]:
    """Seconds per clip of each step of the stage's worker, run step by step on one core
    (the steps of :func:`genre_ensemble.members.cnn.images.signal_images`, timed one by one)."""
    from genre_ensemble.members.cnn.imagestore import array_file, write_windows
    from genre_ensemble.members.cnn.representations import render

    totals = dict.fromkeys(("decode", "transforms", "render", "store"), 0.0)
    out.mkdir(parents=True, exist_ok=True)
    sr = job.sample_rate
    for path in paths:
        started = time.perf_counter()
        signal = load_clip(path, sample_rate=sr, seconds=job.clip_seconds)
        decoded = time.perf_counter()
        values = compute_representations(signal, sr, job.images, job.names)
        transformed = time.perf_counter()
        images = {}
        for name, spectrogram in values.items():
            slices = frame_slices(spectrogram.shape[1], sr=sr,
                                  hop_length=job.images.hop_length(name),
                                  clip_seconds=signal.shape[0] / sr,
                                  window_seconds=job.windows.seconds,
                                  overlap=job.windows.overlap)
            images[name] = [render(spectrogram[:, c], name, sr, job.images) for c in slices]
        rendered = time.perf_counter()
        for name, windows in images.items():
            (out / name).mkdir(exist_ok=True)
            write_windows(out / name / array_file(path.stem), np.stack(windows))
        written = time.perf_counter()
        totals["decode"] += decoded - started
        totals["transforms"] += transformed - decoded
        totals["render"] += rendered - transformed
        totals["store"] += written - rendered
    return {step: seconds / len(paths) for step, seconds in totals.items()}


def warm_up(methods: dict[str, tuple[int, Callable[[], None]]]) -> dict[str, str]:
    """Run every method once, untimed; return the backends the stage cannot use, with why."""
    failures = {}
    for name, (_, function) in methods.items():
        try:
            function()
        except Exception as error:  # a joblib backend the stage cannot use: record why
            backend = name.split(", ")[-1]
            failures[backend] = f"{type(error).__name__}: {error}".splitlines()[0]
            logger.warning("%s failed: %s", name, failures[backend])
    return failures


def interleaved(functions: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each function over ``repeats`` rounds that run every function once, so
    that a change in the machine's load hits all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=16, help="clips per timed run")
    parser.add_argument("--paper-clips", type=int, default=2,
                        help="clips per timed run of the (slow) paper's way")
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="workers for the parallel stage run")
    parser.add_argument("--backends", nargs="+", default=["loky", "threading", "multiprocessing"],
                        help="joblib backends for the parallel runs (parallel.backend)")
    parser.add_argument("--params", type=Path, default=REPO / PARAMS_FILE)
    return parser.parse_args()


def main() -> None:
    single_thread()  # single-process rates are per core
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args()
    params = load_params(args.params)
    sr = params.data.sample_rate
    job = replace(ImageJob.from_params(params), clip_seconds=args.seconds)
    (REPO / ".cache" / "bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=REPO / ".cache" / "bench", prefix="images-") as tmp:
        root = Path(tmp)
        logger.info("writing %d synthetic %g s clips", args.clips, args.seconds)
        paths = write_clips(root / "audio", args.clips, seconds=args.seconds, sr=sr)
        signals = [load_clip(p, sample_rate=sr, seconds=args.seconds) for p in paths]
        paper_paths = paths[: args.paper_clips]
        methods: dict[str, tuple[int, Callable[[], None]]] = {
            "stage, 1 process": (args.clips, lambda: stage(paths, job, root / "out", 1)),
            **{f"stage, {args.jobs} workers, {backend}": (
                args.clips,
                lambda backend=backend: stage(paths, job, root / "out", args.jobs, backend))
               for backend in args.backends},
            "bare transforms (shared CQT)": (args.clips,
                                             lambda: bare(signals, sr, params.images)),
            "bare, separate transforms": (args.clips,
                                          lambda: bare_separate(signals, sr, params.images)),
            "paper (specshow + savefig)": (args.paper_clips, lambda: paper(
                paper_paths, sr, args.seconds, params, root / "paper")),
        }
        failures = warm_up(methods)
        methods = {name: value for name, value in methods.items()
                   if name.split(", ")[-1] not in failures}
        logger.info("%d interleaved rounds of %s", args.repeats, ", ".join(methods))
        timings = interleaved({name: function for name, (_, function) in methods.items()},
                              args.repeats)
        runs = {name: (count, timings[name]) for name, (count, _) in methods.items()}
        images_per_clip = sum(1 for _ in (root / "paper").iterdir()) // args.paper_clips
        breakdown(paths, job, root / "steps")  # warm-up
        steps = [breakdown(paths, job, root / "steps") for _ in range(args.repeats)]
    steps_median = {step: median(s[step] for s in steps) for step in steps[0]}
    rates = {name: count / median(seconds) for name, (count, seconds) in runs.items()}
    stage_rate = rates["stage, 1 process"]
    # ratios per round (same load), then their median
    per_clip = {name: [t / count for t in seconds] for name, (count, seconds) in runs.items()}
    over_bare = [a / b for a, b in zip(per_clip["stage, 1 process"],
                                       per_clip["bare transforms (shared CQT)"], strict=True)]
    over_separate = [a / b for a, b in zip(per_clip["stage, 1 process"],
                                           per_clip["bare, separate transforms"], strict=True)]
    speedup = [b / a for a, b in zip(per_clip["stage, 1 process"],
                                     per_clip["paper (specshow + savefig)"], strict=True)]
    summary = {
        "speedup_vs_paper_per_core": median(speedup),
        "stage_time_over_bare_time_per_core": median(over_bare),
        "stage_time_over_bare_time_per_round": [round(r, 3) for r in over_bare],
        "stage_time_over_separate_transforms_per_core": median(over_separate),
        "stage_clips_per_second_1_process": stage_rate,
        "targets": {"speedup_vs_paper_per_core": ">= 10",
                    "stage_time_over_bare_time_per_core": "<= 1.1"},
    }
    rows = [(name, count, median(seconds), rate, rate * images_per_clip)
            for (name, (count, seconds)), rate in zip(runs.items(), rates.values(), strict=True)]
    print(f"\nimage stage, {args.seconds:g} s clips, {images_per_clip} images per clip, "
          f"median of {args.repeats} runs")
    print(table(rows, ["method", "clips", "seconds", "clips/s", "images/s"]))
    print("\nstage worker, step by step (ms per clip, 1 core): " + ", ".join(
        f"{step} {1000 * seconds:.0f}" for step, seconds in steps_median.items()))
    print(f"\nstage vs paper, per core: {summary['speedup_vs_paper_per_core']:.1f}x faster "
          "(target >= 10x)")
    print(f"stage vs bare transforms, per core: "
          f"{summary['stage_time_over_bare_time_per_core']:.2f}x the time (target <= 1.1x); "
          f"{summary['stage_time_over_separate_transforms_per_core']:.2f}x the time of the "
          "separate transforms")
    path = write_results("image_stage", {
        "settings": {"clips": args.clips, "paper_clips": args.paper_clips,
                     "seconds": args.seconds, "repeats": args.repeats, "jobs": args.jobs,
                     "images_per_clip": images_per_clip, "windows": vars(params.windows),
                     "image_size": [params.images.height, params.images.width]},
        "methods": {name: {"clips": count, "seconds": [round(s, 4) for s in seconds],
                           "median_seconds": round(median(seconds), 4),
                           "clips_per_second": round(rates[name], 3)}
                    for name, (count, seconds) in runs.items()},
        "failed_backends": failures,
        "steps_ms_per_clip": {k: round(1000 * v, 1) for k, v in steps_median.items()},
        "summary": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in summary.items()},
    })
    for backend, reason in failures.items():
        print(f"parallel.backend {backend}: fails in the stage ({reason})")
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
