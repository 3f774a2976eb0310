"""Latency of ``genre-ensemble predict`` for 30 s clips: cold (a new process) and warm.

Uses the trained members of a completed pipeline run (see :mod:`bench.exp_weights`: the
repository's run, or one the bench makes in ``.cache/bench/pipeline``) and synthetic 30 s
WAV clips:

- cold: the console script on one clip, process start to exit (imports, model loading,
  decoding, images, features, prediction); the OS file cache is warm (one untimed run first);
- the same, broken down inside one process: import, ``load_members``, first and second clip;
- warm, batch: the console script on 50 clips in one call (``parallel.n_jobs`` workers
  prepare the files while the models predict), total and per file;
- warm, one by one: :func:`genre_ensemble.inference.classify.classify_file` in a process that
  already has the models loaded, one clip after another (one core for audio work), median per
  clip.

Example::

    python -m bench.predict_latency --files 50 --repeats 3

With ``--workspace DIR`` (a folder holding params.yaml, models/ and metrics/ensemble.json of a
finished run) and ``--clips DIR`` (real audio, e.g. 30 s GTZAN clips), it measures instead the
batch tool after the models are loaded, in one process: one clip warm (median wall and CPU
seconds, one core for audio) and where its time goes (decoding, images, descriptors, the
members), a folder of ``--files`` clips (the real ones repeated) with ``--jobs`` workers, and
the per-clip cost for several ``--batch`` sizes::

    python -m bench.predict_latency --workspace ../scratch --clips gtzan-sample/full --files 100
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    BIN,
    REPO,
    median,
    pipeline_workspace,
    program,
    table,
    workspace_settings,
    write_clips,
    write_results,
)
from genre_ensemble.core.paths import PARAMS_FILE

logger = logging.getLogger("bench.predict_latency")

BREAKDOWN = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from genre_ensemble.core.paths import ENSEMBLE_METRICS, MODELS_DIR, PARAMS_FILE
from genre_ensemble.inference.classify import classify_file
from genre_ensemble.inference.loading import load_members
from genre_ensemble.members.registry import load_params
imported = time.perf_counter()
root = Path(sys.argv[1])
params = load_params(root / PARAMS_FILE)
members = load_members(params, root / MODELS_DIR, root / ENSEMBLE_METRICS, root=root)
loaded = time.perf_counter()
classify_file(sys.argv[2], members, params)
first = time.perf_counter()
classify_file(sys.argv[3], members, params)
second = time.perf_counter()
print(json.dumps({"import": imported - started, "load_members": loaded - imported,
                  "first_clip": first - loaded, "second_clip": second - first}))
"""


def env() -> dict[str, str]:
    """The current code (editable install), quiet TensorFlow."""
    variables = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    variables.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return variables


def cli_seconds(workspace: Path, files: list[Path]) -> float:
    command = [str(BIN / "genre-ensemble"), "predict", *map(str, files),
               "--params", str(workspace / PARAMS_FILE)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=1800)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"predict failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds


def breakdown(workspace: Path, files: list[Path]) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", BREAKDOWN, str(workspace), str(files[0]),
                             str(files[1])], capture_output=True, text=True, env=env(),
                            timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def warm_one_by_one(workspace: Path, files: list[Path]) -> list[float]:
    from genre_ensemble.core.paths import ENSEMBLE_METRICS, MODELS_DIR
    from genre_ensemble.inference.classify import classify_file
    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    params = load_params(workspace / PARAMS_FILE)
    members = load_members(params, workspace / MODELS_DIR, workspace / ENSEMBLE_METRICS,
                           root=workspace)
    classify_file(files[0], members, params)  # warm-up: first call traces the networks
    seconds = []
    for path in files:
        started = time.perf_counter()
        classify_file(path, members, params)
        seconds.append(time.perf_counter() - started)
    return seconds


def timed(function, *args, **kwargs) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu


def batch_tool(workspace: Path, clips: list[Path], *, files: int, jobs: int,
               batches: list[int], repeats: int) -> dict:
    """One clip warm, a folder of ``files`` clips, per-clip cost per batch size (models loaded
    once; each measure after an untimed warm-up)."""
    from genre_ensemble.core.paths import ENSEMBLE_METRICS, MODELS_DIR
    from genre_ensemble.inference.classify import classify_files
    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    params = load_params(workspace / PARAMS_FILE)
    members = load_members(params, workspace / MODELS_DIR, workspace / ENSEMBLE_METRICS,
                           root=workspace)

    def run(paths, n_jobs, batch_files):
        for _, result in classify_files(paths, members, params, n_jobs=n_jobs,
                                        batch_files=batch_files):
            if not hasattr(result, "ensemble"):
                raise RuntimeError(f"not classified: {result}")

    folder = [clips[i % len(clips)] for i in range(files)]
    run(clips, 1, max(batches))  # warm-up: traces every batch shape, fills the caches
    one = [timed(run, [clips[i % len(clips)]], 1, 1) for i in range(max(repeats, 5))]
    out = {"load_average": os.getloadavg(),
           "one_clip_wall_seconds": [round(w, 3) for w, _ in one],
           "one_clip_cpu_seconds": [round(c, 3) for _, c in one],
           "one_clip_wall_median": round(median(w for w, _ in one), 3),
           "one_clip_cpu_median": round(median(c for _, c in one), 3)}
    out["one_clip_steps_ms"] = one_clip_steps(clips, members, params)
    folder_runs = [timed(run, folder, jobs, max(batches)) for _ in range(repeats)]
    out.update({"folder_files": files, "jobs": jobs,
                "folder_wall_seconds": [round(w, 2) for w, _ in folder_runs],
                "folder_wall_median": round(median(w for w, _ in folder_runs), 2),
                "folder_main_process_cpu_seconds": [round(c, 2) for _, c in folder_runs]})
    per_batch = {}
    sample = folder[: max(batches)]
    for batch_files in batches:  # one process (jobs 1): CPU time is the whole cost
        runs = [timed(run, sample, 1, batch_files) for _ in range(repeats)]
        per_batch[batch_files] = {
            "wall_per_clip": round(median(w for w, _ in runs) / len(sample), 4),
            "cpu_per_clip": round(median(c for _, c in runs) / len(sample), 4)}
    out["per_clip_by_batch_files_jobs1"] = per_batch
    out["load_average_after"] = os.getloadavg()
    return out


def one_clip_steps(clips: list[Path], members, params) -> dict[str, float]:
    """Where one file's time goes, step by step, median ms over ``clips``: decoding and cutting
    (:func:`genre_ensemble.inference.inputs.cut_clips`), the CNN members' window images, the
    descriptors member's descriptors (each through
    :func:`genre_ensemble.inference.inputs.clip_inputs`, as predict prepares a file), and the
    members' predictions."""
    from genre_ensemble.corpus.audio import load_clip
    from genre_ensemble.inference.classify import predict_inputs
    from genre_ensemble.inference.inputs import clip_inputs, cut_clips
    from genre_ensemble.members.cnn.kind import NAME as CNN
    from genre_ensemble.members.descriptors.kind import NAME as DESCRIPTORS

    sr = params.data.sample_rate
    used = [members.members[name] for name in members.names]
    networks = [member for member in used if member.kind == CNN]
    descriptors = [member for member in used if member.kind == DESCRIPTORS]
    steps: dict[str, list[float]] = {"decode": [], "images": [], "descriptors": [],
                                     "members": []}
    for path in clips:
        started = time.perf_counter()
        signal = load_clip(path, sample_rate=sr, seconds=None)
        cut = cut_clips(signal, sr, params.data.clip_seconds)
        decoded = time.perf_counter()
        clip_inputs(cut, params, networks, seconds=0.0, root=members.root)
        imaged = time.perf_counter()
        clip_inputs(cut, params, descriptors, seconds=0.0, root=members.root)
        described = time.perf_counter()
        inputs = clip_inputs(cut, params, used, seconds=0.0, root=members.root)
        prepared = time.perf_counter()
        predict_inputs(inputs, members)
        predicted = time.perf_counter()
        for step, seconds in (("decode", decoded - started), ("images", imaged - decoded),
                              ("descriptors", described - imaged),
                              ("members", predicted - prepared)):
            steps[step].append(seconds)
    return {step: round(1000 * median(values), 1) for step, values in steps.items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50, help="clips in the warm batch")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh", action="store_true",
                        help="redo the pipeline run in .cache/bench/pipeline")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="measure the batch tool with this finished run's models")
    parser.add_argument("--clips", type=Path, default=None,
                        help="folder of real clips for --workspace (searched recursively)")
    parser.add_argument("--jobs", type=int, default=2, help="workers for the folder measure")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4, 16],
                        help="batch sizes (files per model call) to compare")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args()
    if args.workspace is not None:
        from genre_ensemble.inference.filelist import expand_inputs

        clips = [Path(name) for name in expand_inputs([str(args.clips)]).files]
        result = batch_tool(args.workspace, clips, files=args.files, jobs=args.jobs,
                            batches=args.batch, repeats=args.repeats)
        print(json.dumps(result, indent=1))
        path = write_results("predict_batch", {
            "settings": {"workspace": str(args.workspace), "clips": str(args.clips),
                         "files": args.files, "jobs": args.jobs, "batch": args.batch,
                         "repeats": args.repeats},
            **result})
        print(f"results: {path.relative_to(REPO)}")
        return
    workspace, info = pipeline_workspace(fresh=args.fresh, log=logger.info)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    (REPO / ".cache" / "bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=REPO / ".cache" / "bench", prefix="predict-") as tmp:
        files = write_clips(Path(tmp), args.files, seconds=args.seconds, seed=321)
        cli_seconds(workspace, files[:1])  # untimed: warms the OS file cache
        cold = [cli_seconds(workspace, files[:1]) for _ in range(args.repeats)]
        logger.info("cold: %s", cold)
        parts = [breakdown(workspace, files) for _ in range(args.repeats)]
        batch = [cli_seconds(workspace, files) for _ in range(args.repeats)]
        logger.info("batch of %d: %s", args.files, batch)
        warm = warm_one_by_one(workspace, files)
    parts_median = {key: median(p[key] for p in parts) for key in parts[0]}
    rows = [
        ("cold: one clip, new process", median(cold)),
        ("  import", parts_median["import"]),
        ("  load_members", parts_median["load_members"]),
        ("  first clip", parts_median["first_clip"]),
        ("  second clip", parts_median["second_clip"]),
        (f"warm batch: {args.files} clips, one call", median(batch)),
        ("  per clip", median(batch) / args.files),
        ("warm one by one: per clip (median)", median(warm)),
    ]
    print(f"\npredict latency, {args.seconds:g} s clips, members "
          f"{', '.join(load_params_members(workspace))}, median of {args.repeats}")
    print(table(rows, ["measure", "seconds"]))
    path = write_results("predict_latency", {
        "settings": {"files": args.files, "seconds": args.seconds, "repeats": args.repeats},
        "workspace": {**info, **workspace_settings(workspace)},
        "members": load_params_members(workspace),
        "cold_seconds": [round(s, 3) for s in cold],
        "cold_median_seconds": round(median(cold), 3),
        "cold_breakdown_median_seconds": {k: round(v, 3) for k, v in parts_median.items()},
        "batch_seconds": [round(s, 3) for s in batch],
        "batch_median_seconds": round(median(batch), 3),
        "batch_per_clip_seconds": round(median(batch) / args.files, 3),
        "warm_one_by_one_median_seconds": round(median(warm), 3),
        "warm_one_by_one_seconds": [round(s, 3) for s in warm],
    })
    print(f"results: {path.relative_to(REPO)}")


def load_params_members(workspace: Path) -> list[str]:
    from genre_ensemble.members.registry import load_params

    return list(load_params(workspace / PARAMS_FILE).ensemble.members)


if __name__ == "__main__":
    main()
