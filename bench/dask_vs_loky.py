"""The images and features stages on dask.distributed against loky: wall time and equal bytes.

Both stages run as ``dvc repro`` runs them (their entry functions, in a fresh workspace with a
manifest of synthetic clips), with ``parallel.n_jobs`` workers, once on ``loky`` and once on
``dask`` (a local cluster of worker processes on 127.0.0.1, started by each stage as when
``DASK_SCHEDULER_ADDRESS`` is unset, so its start-up is in the time). Runs alternate between
the backends, ``--repeats`` rounds; each run's wall time and the 1-minute load average before
it are kept, since the machine may be shared. Every run's outputs must be byte-identical to
the first loky run's.

Example::

    python -m bench.dask_vs_loky --clips 100 --repeats 1
    python -m bench.dask_vs_loky --clips 1000 --label gtzan    # GTZAN's size, 30 s clips
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.common import REPO, manifest_for, median, program, table, write_clips, write_results
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import FEATURES_TABLE, IMAGES_DIR, MANIFEST, PARAMS_FILE
from genre_ensemble.members.registry import load_params
from genre_ensemble.stages.features import features
from genre_ensemble.stages.images import images

logger = logging.getLogger("bench.dask_vs_loky")
BACKENDS = ("loky", "dask")
PROJECTED_CLIPS = 1000  # GTZAN's size


def stage_params(path: Path, backend: str, n_jobs: int, seconds: float) -> Params:
    params = load_params(path)
    return replace(params, data=replace(params.data, clip_seconds=seconds),
                   parallel=replace(params.parallel, n_jobs=n_jobs, backend=backend))


def run_stages(root: Path, manifest, params: Params) -> dict[str, float]:
    """Both stages in a fresh workspace ``root``: seconds per stage."""
    shutil.rmtree(root, ignore_errors=True)
    (root / MANIFEST.parent).mkdir(parents=True)
    manifest.to_csv(root / MANIFEST, index=False)
    seconds = {}
    cwd = Path.cwd()
    os.chdir(root)  # the stages read and write paths relative to the workspace
    try:
        for name, stage in (("images", images), ("features", features)):
            started = time.perf_counter()
            stage(params)
            seconds[name] = round(time.perf_counter() - started, 2)
    finally:
        os.chdir(cwd)
    return seconds


def digest(root: Path) -> str:
    """One hash over every output file's path and bytes."""
    hashed = hashlib.sha256()
    files = [*(root / IMAGES_DIR).rglob("*"), root / FEATURES_TABLE]
    for path in sorted(p for p in files if p.is_file()):
        hashed.update(str(path.relative_to(root)).encode())
        hashed.update(path.read_bytes())
    return hashed.hexdigest()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    parser.add_argument("--jobs", type=int, default=2, help="parallel.n_jobs")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of loky then dask")
    parser.add_argument("--params", type=Path, default=REPO / PARAMS_FILE)
    parser.add_argument("--label", default=None, help="results file suffix: dask_vs_loky_LABEL")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args()
    os.environ.pop("DASK_SCHEDULER_ADDRESS", None)  # each stage starts its local cluster
    work = Path(tempfile.mkdtemp(prefix="dask_vs_loky_"))
    try:
        base = load_params(args.params)
        clips = write_clips(work / "audio", args.clips, seconds=args.seconds,
                            sr=base.data.sample_rate, n_jobs=args.jobs)
        manifest = manifest_for(clips)
        runs = []
        reference = None
        for round_number in range(args.repeats):
            for backend in BACKENDS:
                load_before = round(os.getloadavg()[0], 2)
                params = stage_params(args.params, backend, args.jobs, args.seconds)
                seconds = run_stages(work / backend, manifest, params)
                outputs = digest(work / backend)
                reference = reference or outputs
                runs.append({"round": round_number, "backend": backend, **seconds,
                             "total": round(sum(seconds.values()), 2),
                             "load_average_1m_before": load_before,
                             "load_average_1m_after": round(os.getloadavg()[0], 2),
                             "identical_to_loky": outputs == reference})
                print(runs[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for backend in BACKENDS:
        mine = [run for run in runs if run["backend"] == backend]
        total = median(run["total"] for run in mine)
        summary[backend] = {
            "images_s": median(run["images"] for run in mine),
            "features_s": median(run["features"] for run in mine),
            "total_s": total,
            "clips_per_s": round(args.clips / total, 3),
            # linear in clips: per-clip cost dominates; dask's cluster start-up is a few seconds
            f"projected_{PROJECTED_CLIPS}_clips_min": round(total / args.clips
                                                           * PROJECTED_CLIPS / 60, 1),
        }
    summary["dask_over_loky"] = round(summary["dask"]["total_s"] / summary["loky"]["total_s"], 3)
    rows = [[b, summary[b]["images_s"], summary[b]["features_s"], summary[b]["total_s"],
             summary[b][f"projected_{PROJECTED_CLIPS}_clips_min"]] for b in BACKENDS]
    print(table(rows, ["backend", "images s", "features s", "total s",
                       f"{PROJECTED_CLIPS} clips, min"]))
    name = f"dask_vs_loky_{args.label}" if args.label else "dask_vs_loky"
    path = write_results(name, {
        "settings": {"clips": args.clips, "seconds": args.seconds, "n_jobs": args.jobs,
                     "repeats": args.repeats},
        "runs": runs,
        "summary": summary,
        "all_identical": all(run["identical_to_loky"] for run in runs),
    })
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
