"""The default pipeline end to end at GTZAN's size: wall time and peak memory of every stage,
and the time DVC itself spends saving and checking out each stage's outputs.

    python -m bench.gtzan_scale                      # 100 clips per genre x 30 s: GTZAN's size
    python -m bench.gtzan_scale --clips-per-genre 8 --seconds 6 --epochs 1    # a quick try
    python -m bench.gtzan_scale --set train.cpu_kernels=onednn --set train.windows_per_clip=6 \
        --label fast                                 # any param, as `dvc exp run -S` sets it

A fresh ``git clone`` of this repository's HEAD in ``.cache/bench/gtzan-scale`` gets
``synthetic.clips_per_genre``, ``synthetic.seconds`` and ``data.clip_seconds`` (and, if given,
``train.epochs`` and every ``--set``; a key params.yaml lacks stops the run) set in its
params.yaml and committed (:mod:`bench.workspace`). ``--variant NAME`` applies the overrides of
a named variant of ``genre-ensemble sweep`` first
(:data:`genre_ensemble.experiments.sweeps.VARIANTS`; the corpus size and ``--set`` win). Then,
stage by stage (``train@<member>``, ``embed@<member>``, ...), each after the stages it depends
on:

- the stage's command, as DVC would run it, in a child process whose process tree (worker
  processes included) is sampled every ``--interval`` s: wall seconds, peak sum of RSS (an
  upper bound: shared pages counted once per process) and peak sum of PSS (shared pages split);
- ``dvc commit -f <stage>``: DVC hashing the stage's deps and outputs, copying the outputs into
  its cache and writing ``dvc.lock``, which is what ``dvc repro`` adds after a command.

Afterwards every cached output is deleted and ``dvc checkout <stage>`` timed, stage by stage.
Writes ``bench/results/gtzan_scale.json`` (or ``gtzan_scale_<label>.json`` with ``--label``),
rewritten after every stage with ``"complete": false`` and the stages measured so far, so a run
stopped part way (a default run at GTZAN's size takes over an hour) keeps what it measured.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

import yaml

from bench.common import REPO, bench_env, program, table, tree_memory, write_results
from bench.workspace import UnknownParamError, git_commit, nested, run_checked, write_params
from genre_ensemble.experiments.sweeps import VARIANTS

logger = logging.getLogger("bench.gtzan_scale")
WORKSPACE = REPO / ".cache" / "bench" / "gtzan-scale"
GIB = 1024**3


def run_settings(args: argparse.Namespace) -> dict[str, object]:
    """Dotted params key -> value of this run: the ``--variant``'s overrides, the corpus size,
    ``--epochs``, every ``--set`` (a later one wins)."""
    settings: dict[str, object] = {}
    variant = VARIANTS[args.variant].overrides if args.variant else ()
    overrides = [*variant, f"synthetic.clips_per_genre={args.clips_per_genre}",
                 f"synthetic.seconds={args.seconds}", f"data.clip_seconds={args.seconds}",
                 *([] if args.epochs is None else [f"train.epochs={args.epochs}"]), *args.set]
    for override in overrides:
        key, _, value = override.partition("=")
        settings[key] = yaml.safe_load(value)  # as `dvc exp run -S` parses it
    return settings


def make_workspace(root: Path, settings: dict[str, object]) -> None:
    """A fresh clone of HEAD with ``settings`` (dotted keys) in its params.yaml, committed; a
    key params.yaml lacks stops the run."""
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    run_checked(["git", "clone", "-q", str(REPO), str(root)], root.parent,
                bench_env(root.parent))
    try:
        write_params(root, nested(settings))
    except UnknownParamError as error:
        raise SystemExit(str(error)) from error
    git_commit(root, "GTZAN-sized corpus", bench_env(root))


def planned_stages(root: Path) -> list[tuple[str, str]]:
    """(stage name, command) of every stage, each after the stages it depends on."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        # DVC's graph points from a stage to the stages it depends on
        order = nx.lexicographical_topological_sort(repo.index.graph.reverse(),
                                                    key=lambda stage: stage.name)
        return [(stage.name, stage.cmd) for stage in order if stage.cmd]


def sample_tree(pid: int, interval: float, peaks: dict[str, float], done: threading.Event) -> None:
    """Keep the peak RSS and PSS sums of process ``pid`` and its descendants in ``peaks``."""
    import psutil

    try:
        root = psutil.Process(pid)
        while not done.is_set():
            rss, pss, _, _ = tree_memory(root, with_pss=True)
            peaks["rss"] = max(peaks["rss"], rss)
            peaks["pss"] = max(peaks["pss"], pss)
            done.wait(interval)
    except psutil.NoSuchProcess:  # the command has exited
        return


def measured_command(root: Path, command: str, interval: float, log: Path) -> dict:
    """Run one stage's command as DVC would (a shell in the workspace); time and memory."""
    peaks = {"rss": 0.0, "pss": 0.0}
    done = threading.Event()
    started = time.perf_counter()
    with log.open("a") as handle:
        process = subprocess.Popen(command, shell=True, cwd=root, env=bench_env(root),
                                   stdout=handle, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=sample_tree,
                                   args=(process.pid, interval, peaks, done), daemon=True)
        sampler.start()
        status = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if status != 0:
        raise RuntimeError(f"`{command}` failed ({status}); see {log}")
    return {"seconds": round(seconds, 2), "peak_rss_gib": round(peaks["rss"] / GIB, 3),
            "peak_pss_gib": round(peaks["pss"] / GIB, 3)}


def timed(args: list[str], root: Path) -> float:
    started = time.perf_counter()
    run_checked(args, root, bench_env(root))
    return round(time.perf_counter() - started, 2)


def cached_outputs(root: Path) -> dict[str, list[Path]]:
    """Each stage's outputs that live in DVC's cache (not ``cache: false``)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {stage.name: [Path(str(out.fs_path)) for out in stage.outs if out.use_cache]
                for stage in repo.index.stages}


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-genre", type=int, default=100, help="GTZAN: 100")
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length (GTZAN: 30)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override train.epochs (default: params.yaml's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another param, dotted key as in `dvc exp run -S` (repeatable)")
    parser.add_argument("--variant", choices=list(VARIANTS), default=None, metavar="NAME",
                        help="first apply the overrides of this variant of `genre-ensemble "
                             f"sweep` ({', '.join(VARIANTS)})")
    parser.add_argument("--interval", type=float, default=0.5, help="memory sampling period, s")
    parser.add_argument("--label", default=None, help="results file suffix")
    args = parser.parse_args()

    root = WORKSPACE
    make_workspace(root, run_settings(args))
    log = root.parent / "gtzan-scale.log"
    log.write_text("")
    stages = planned_stages(root)
    logger.info("%d stages: %s (log: %s)", len(stages), ", ".join(n for n, _ in stages), log)
    name = "gtzan_scale" + (f"_{args.label}" if args.label else "")
    results: dict[str, dict] = {}
    for stage, command in stages:
        logger.info("stage %s: %s", stage, command)
        results[stage] = measured_command(root, command, args.interval, log)
        results[stage]["dvc_commit_s"] = timed(["dvc", "commit", "-f", "-q", stage], root)
        logger.info("stage %s: %s", stage, results[stage])
        # a run of hours keeps what it measured if it is stopped: rewritten after each stage
        write_results(name, {"settings": vars(args), "complete": False,
                             "stages_planned": [s for s, _ in stages], "stages": results})
    outputs = cached_outputs(root)
    for stage, _ in stages:
        paths = outputs.get(stage, [])
        for path in paths:
            remove(path)
        results[stage]["dvc_checkout_s"] = (timed(["dvc", "checkout", "-q", stage], root)
                                            if paths else 0.0)
    # exit status 0: pipelines and data up to date after the checkouts
    status = subprocess.run(["dvc", "status", "-q"], cwd=root, env=bench_env(root)).returncode
    metrics_text = (root / "metrics" / "metrics.json").read_text()
    totals = {
        "stage_seconds": round(sum(r["seconds"] for r in results.values()), 1),
        "dvc_commit_seconds": round(sum(r["dvc_commit_s"] for r in results.values()), 1),
        "dvc_checkout_seconds": round(sum(r["dvc_checkout_s"] for r in results.values()), 1),
        "peak_rss_gib": max(r["peak_rss_gib"] for r in results.values()),
        "peak_pss_gib": max(r["peak_pss_gib"] for r in results.values()),
    }
    rows = [(stage, r["seconds"], r["peak_rss_gib"], r["peak_pss_gib"], r["dvc_commit_s"],
             r["dvc_checkout_s"]) for stage, r in results.items()]
    rows.append(("total", totals["stage_seconds"], totals["peak_rss_gib"],
                 totals["peak_pss_gib"], totals["dvc_commit_seconds"],
                 totals["dvc_checkout_seconds"]))
    print(table(rows, ["stage", "seconds", "peak RSS GiB", "peak PSS GiB", "dvc commit s",
                       "dvc checkout s"]))
    path = write_results(name, {
        "settings": vars(args), "complete": True, "stages": results, "totals": totals,
        "goals": {"stage_seconds": "< 1800", "peak_pss_gib": "< 4"},
        "dvc_status_clean_after_checkout": status == 0,
        "metrics": yaml.safe_load(metrics_text),
    })
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
