"""Peak memory of the image stage on many long clips (default: 1000 synthetic 30 s clips).

The clips are written as 16-bit WAV files first (about 1.3 GB for 1000 x 30 s, under
``.cache/bench``, removed afterwards). The stage then runs in a child process (this module
again, ``python -m bench.image_memory --child``):
:func:`genre_ensemble.members.cnn.images.build_image_sets` with ``--jobs`` loky workers, while
this process samples the memory of the child and all its descendants: the sum of RSS (counts
shared library pages once per process, so it overstates) and the sum of PSS (shared pages split
between the processes sharing them: the memory the tree really holds).

With fewer clips than 1000 (``--clips``) the peak for 1000 is extrapolated from the growth of
the main process over the run (the only part that grows with the corpus: the index rows),
and the results say so.

Example::

    python -m bench.image_memory --clips 1000
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.common import REPO, manifest_for, program, table, tree_memory, write_clips, write_results

logger = logging.getLogger("bench.image_memory")
GIB = 2**30
LIMIT_GIB = 2.0
TARGET_CLIPS = 1000


def child(manifest_path: Path, out: Path, seconds: float, jobs: int, backend: str) -> None:
    """Run the image stage on a manifest (in the measured child process)."""
    import pandas as pd

    from genre_ensemble.core.paths import PARAMS_FILE
    from genre_ensemble.members.cnn.images import ImageJob, build_image_sets
    from genre_ensemble.members.registry import load_params

    params = load_params(REPO / PARAMS_FILE)
    job = replace(ImageJob.from_params(params), clip_seconds=seconds)
    manifest = pd.read_csv(manifest_path, keep_default_na=False)
    started = time.perf_counter()
    indexes = build_image_sets(manifest, out, job, n_jobs=jobs, backend=backend, progress=False)
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "images": int(sum(len(index) for index in indexes.values()))}))


def measure(args: argparse.Namespace, manifest_path: Path, out: Path) -> dict:
    """Run the child and sample its tree until it exits."""
    import psutil

    command = [sys.executable, "-m", "bench.image_memory", "--child", str(manifest_path),
               str(out), "--seconds", str(args.seconds), "--jobs", str(args.jobs),
               "--backend", args.backend]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    handle = psutil.Process(process.pid)
    samples = []
    tick = 0
    while process.poll() is None:
        try:
            rss, pss, main_rss, count = tree_memory(handle, with_pss=tick % args.pss_every == 0)
        except psutil.NoSuchProcess:
            break
        samples.append((time.perf_counter() - started, rss, pss, main_rss, count))
        tick += 1
        time.sleep(args.interval)
    output = process.communicate()[0]
    if process.returncode != 0:
        raise RuntimeError(f"the image stage failed ({process.returncode})")
    return {"wall_seconds": time.perf_counter() - started,
            "child": json.loads(output.strip().splitlines()[-1]), "samples": samples}


def summarise(samples: list[tuple], clips: int) -> dict:
    """Peaks, the main process's growth per clip, and the extrapolation to 1000 clips."""
    import numpy as np

    times = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples], dtype=float)
    pss = np.array([s[2] for s in samples if s[2] is not None], dtype=float)
    main = np.array([s[3] for s in samples], dtype=float)
    half = times > times[-1] / 2
    # main-process growth after start-up (second half of the run), per clip
    slope = float(np.polyfit(times[half], main[half], 1)[0]) if half.sum() > 2 else 0.0
    per_clip = max(0.0, slope * times[-1] / clips)
    peak_pss = float(pss.max()) if pss.size else float("nan")
    extra = per_clip * max(0, TARGET_CLIPS - clips)
    return {
        "peak_rss_sum_gib": round(float(rss.max()) / GIB, 3),
        "peak_pss_sum_gib": round(peak_pss / GIB, 3),
        "peak_rss_first_half_gib": round(float(rss[~half].max()) / GIB, 3),
        "peak_rss_second_half_gib": round(float(rss[half].max()) / GIB, 3),
        "main_process_growth_mib_per_1000_clips": round(per_clip * 1000 / 2**20, 1),
        "extrapolated": clips < TARGET_CLIPS,
        "peak_rss_sum_at_1000_clips_gib": round((float(rss.max()) + extra) / GIB, 3),
        "max_processes": int(max(s[4] for s in samples)),
        "samples": len(samples),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=TARGET_CLIPS)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--backend", default="loky")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--pss-every", type=int, default=5, help="PSS on every n-th sample")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("MANIFEST", "OUT"),
                        help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        child(*args.child, args.seconds, args.jobs, args.backend)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    (REPO / ".cache" / "bench").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=REPO / ".cache" / "bench", prefix="memory-"))
    try:
        logger.info("writing %d synthetic %g s clips to %s", args.clips, args.seconds, tmp)
        started = time.perf_counter()
        paths = write_clips(tmp / "audio", args.clips, seconds=args.seconds, n_jobs=args.jobs)
        written = time.perf_counter() - started
        audio_gib = sum(p.stat().st_size for p in paths) / GIB
        manifest_path = tmp / "manifest.csv"
        manifest_for(paths).to_csv(manifest_path, index=False)
        logger.info("%.2f GiB of audio in %.0f s; running the image stage with %d workers",
                    audio_gib, written, args.jobs)
        run = measure(args, manifest_path, tmp / "images")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = summarise(run["samples"], args.clips)
    rows = [
        ("peak RSS, process tree (sum)", summary["peak_rss_sum_gib"]),
        ("peak PSS, process tree (sum)", summary["peak_pss_sum_gib"]),
        ("peak RSS, first / second half",
         f"{summary['peak_rss_first_half_gib']} / {summary['peak_rss_second_half_gib']}"),
        ("main process growth per 1000 clips (MiB)",
         summary["main_process_growth_mib_per_1000_clips"]),
        (f"peak RSS at {TARGET_CLIPS} clips" + (" (extrapolated)" if summary["extrapolated"]
                                                else ""),
         summary["peak_rss_sum_at_1000_clips_gib"]),
    ]
    print(f"\nimage stage memory: {args.clips} clips x {args.seconds:g} s ({audio_gib:.2f} GiB "
          f"of WAV), {args.jobs} workers, {run['child']['images']} images in "
          f"{run['child']['seconds']:.0f} s ({args.clips / run['child']['seconds']:.2f} clips/s)")
    print(table(rows, ["measure", "GiB"]))
    verdict = "under" if summary["peak_rss_sum_at_1000_clips_gib"] < LIMIT_GIB else "OVER"
    print(f"{verdict} the {LIMIT_GIB:g} GiB target")
    timeline = run["samples"][:: max(1, len(run["samples"]) // 60)]
    path = write_results("image_memory", {
        "settings": {"clips": args.clips, "seconds": args.seconds, "jobs": args.jobs,
                     "backend": args.backend, "interval": args.interval},
        "audio_gib": round(audio_gib, 3),
        "audio_write_seconds": round(written, 1),
        "stage_seconds": round(run["child"]["seconds"], 1),
        "images": run["child"]["images"],
        "clips_per_second": round(args.clips / run["child"]["seconds"], 3),
        "summary": summary,
        "target_gib": LIMIT_GIB,
        "timeline": [{"t": round(t, 1), "rss_mib": round(rss / 2**20), "processes": count}
                     for t, rss, _, _, count in timeline],
    })
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
