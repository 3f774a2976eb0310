"""Latency of ``genre-ensemble predict`` for 30 s clips: cold (a new process) and warm.

Uses the trained members of a completed pipeline run (see ``exp_weights.py``: the
repository's run, or one the bench makes in ``.cache/bench/pipeline``) and synthetic 30 s
WAV clips:

- cold: the console script on one clip, process start to exit (imports, model loading,
  decoding, images, features, prediction); the OS file cache is warm (one untimed run first);
- the same, broken down inside one process: import, ``load_members``, first and second clip;
- warm, batch: the console script on 50 clips in one call (``images.n_jobs`` workers prepare
  the files while the models predict), total and per file;
- warm, one by one: :func:`genre_ensemble.classify.classify_file` in a process that already has
  the models loaded, one clip after another (one core for audio work), median per clip.

Example::

    python bench/predict_latency.py --files 50 --repeats 3
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BIN,
    REPO,
    median,
    pipeline_workspace,
    table,
    workspace_settings,
    write_clips,
    write_results,
)

from genre_ensemble.paths import PARAMS_FILE  # noqa: E402

logger = logging.getLogger("bench.predict_latency")

BREAKDOWN = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from genre_ensemble.classify import classify_file
from genre_ensemble.loading import load_members
from genre_ensemble.params import load_params
from genre_ensemble.paths import ENSEMBLE_METRICS, MODELS_DIR, PARAMS_FILE
imported = time.perf_counter()
root = Path(sys.argv[1])
params = load_params(root / PARAMS_FILE)
members = load_members(params, root / MODELS_DIR, root / ENSEMBLE_METRICS)
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
    from genre_ensemble.classify import classify_file
    from genre_ensemble.loading import load_members
    from genre_ensemble.params import load_params
    from genre_ensemble.paths import ENSEMBLE_METRICS, MODELS_DIR, PARAMS_FILE

    params = load_params(workspace / PARAMS_FILE)
    members = load_members(params, workspace / MODELS_DIR, workspace / ENSEMBLE_METRICS)
    classify_file(files[0], members, params)  # warm-up: first call traces the networks
    seconds = []
    for path in files:
        started = time.perf_counter()
        classify_file(path, members, params)
        seconds.append(time.perf_counter() - started)
    return seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50, help="clips in the warm batch")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh", action="store_true",
                        help="redo the pipeline run in .cache/bench/pipeline")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args()
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
    from genre_ensemble.params import load_params

    return list(load_params(workspace / PARAMS_FILE).ensemble.members)


if __name__ == "__main__":
    main()
