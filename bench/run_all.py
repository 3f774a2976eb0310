"""Run every benchmark, one process each, then print the Markdown summary of the results.

Example::

    python -m bench.run_all            # full sizes (about 30-40 minutes on 2 cores)
    python -m bench.run_all --quick    # smaller counts (memory extrapolated to 1000 clips)
    python -m bench.run_all --summary  # only print the table from bench/results/*.json

Each benchmark runs as ``python -m bench.<name>`` in the repository root.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.common import REPO, RESULTS, program

FULL: dict[str, list[str]] = {
    "image_stage": [],
    "image_per_representation": [],
    "training": [],
    "exp_weights": [],
    "predict_latency": [],
    "image_memory": [],
}
QUICK: dict[str, list[str]] = {
    "image_stage": ["--clips", "4", "--paper-clips", "1"],
    "image_per_representation": ["--clips", "4", "--repeats", "3"],
    "training": ["--images", "256", "--epochs", "3"],
    "exp_weights": ["--repeats", "2"],
    "predict_latency": ["--files", "10", "--repeats", "2"],
    "image_memory": ["--clips", "100"],
}


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def summary() -> str:
    """The Markdown table of the latest results (what bench/README.md shows)."""
    rows = []
    if image := load("image_stage"):
        methods, s = image["methods"], image["summary"]
        one = methods["stage, 1 process"]["clips_per_second"]
        jobs = image["settings"]["jobs"]
        parallel = methods.get(f"stage, {jobs} workers, loky") or next(
            v for k, v in methods.items() if k.startswith(f"stage, {jobs} workers"))
        rows += [
            ("Image stage, 1 core (clips/s, 30 s clips)", f"{one:.2f}", ""),
            (f"Image stage, {jobs} loky workers (clips/s)",
             f"{parallel['clips_per_second']:.2f}", ""),
            ("Paper's way (specshow + savefig), 1 core (clips/s)",
             f"{methods['paper (specshow + savefig)']['clips_per_second']:.3f}", ""),
            ("Bare transforms, 1 core (clips/s)",
             f"{methods['bare transforms (shared CQT)']['clips_per_second']:.2f}", ""),
            ("Speed-up over the paper's way, per core",
             f"{s['speedup_vs_paper_per_core']:.1f}x", ">= 10x"),
            ("Stage time / bare transform time (STFT + one shared CQT), per core",
             f"{s['stage_time_over_bare_time_per_core']:.2f}x", "<= 1.5x"),
            ("Stage time / separate STFT + CQT + chroma_cqt time, per core",
             f"{s['stage_time_over_separate_transforms_per_core']:.2f}x", "<= 1.5x")
            if "stage_time_over_separate_transforms_per_core" in s else None,
        ]
    if memory := load("image_memory"):
        s = memory["summary"]
        clips = memory["settings"]["clips"]
        note = f" (measured on {clips}, extrapolated)" if s["extrapolated"] else ""
        rows += [(f"Image stage peak memory, 1000 x 30 s clips{note} (GiB, RSS sum / PSS sum)",
                  f"{s['peak_rss_sum_at_1000_clips_gib']:.2f} / {s['peak_pss_sum_gib']:.2f}",
                  "< 2 GiB"),
                 (f"Image stage, {memory['settings']['jobs']} loky workers, {clips} clips "
                  "(memory run, clips/s)", f"{memory['clips_per_second']:.1f}", "")]
    if training := load("training"):
        shape = "x".join(map(str, training["settings"]["shape"]))
        for name, values in training["architectures"].items():
            rows.append((f"Training, {name} CNN, {shape} (images/s per epoch)",
                         f"{values['images_per_second']:.0f}", ""))
    if exp := load("exp_weights"):
        rows.append((f"`dvc exp run -S '{exp['setting']}'` (s)",
                     f"{exp['median_seconds']:.1f}", "< 15 s, no TensorFlow"))
    if latency := load("predict_latency"):
        files = latency["settings"]["files"]
        rows += [
            ("predict, one 30 s clip, cold process (s)", f"{latency['cold_median_seconds']:.1f}",
             ""),
            (f"predict, batch of {files} clips, per clip (s)",
             f"{latency['batch_per_clip_seconds']:.2f}", ""),
            ("predict, warm, one 30 s clip (s)",
             f"{latency['warm_one_by_one_median_seconds']:.2f}", ""),
        ]
    lines = ["| Measure | Result | Target |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in filter(None, rows)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, same scripts")
    parser.add_argument("--summary", action="store_true", help="only print the results table")
    parser.add_argument("--only", nargs="+", choices=list(FULL), help="run only these")
    args = parser.parse_args()
    if not args.summary:
        plan = QUICK if args.quick else FULL
        failed = []
        for name, extra in plan.items():
            if args.only and name not in args.only:
                continue
            print(f"\n=== {name} {' '.join(extra)}", flush=True)
            status = subprocess.run([sys.executable, "-m", f"bench.{name}", *extra],
                                    cwd=REPO).returncode
            if status != 0:
                failed.append(name)
        if failed:
            print(f"\nfailed: {', '.join(failed)}")
    print("\n" + summary())
    if not args.summary and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
