"""What the benchmarks share: the machine's description, results files, synthetic audio and a
workspace holding a completed pipeline run (built with :mod:`bench.workspace`)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bench.workspace import (
    REPO,
    copy_worktree,
    dvc_repro,
    git_commit,
    workspace_env,
)
from genre_ensemble.members.cnn.runtime import CPU_ALLOCATOR_VARIABLE

RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
# The workspace with a completed `dvc repro` that exp_weights and predict_latency use.
WORKSPACE = REPO / ".cache" / "bench" / "pipeline"
WORKSPACE_INFO = WORKSPACE.parent / "pipeline.json"  # how the workspace was made
REPRO_LOG = WORKSPACE.parent / "repro.log"
IDENTITY = ("bench", "bench@example.invalid")  # the workspace's commits

# Variables that set the thread count of numerical libraries (read when each one loads).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def single_thread() -> None:
    """Pin numerical libraries to one thread, so that a single-process measurement is a
    per-core one. Call it first in a script's ``main``.

    Sets :data:`THREAD_VARIABLES` to 1 (read by libraries loaded later and by every child
    process: stage workers, subprocesses) and limits the BLAS and OpenMP thread pools of the
    libraries already loaded (threadpoolctl). numba's own pool keeps its size if numba is
    already loaded; librosa runs no parallel numba loops.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


# module -> the distributions that may provide it (.venv has tensorflow-cpu, .venv-gpu tensorflow)
VERSIONED = {"numpy": ("numpy",), "librosa": ("librosa",), "PIL": ("pillow",),
             "joblib": ("joblib",), "keras": ("keras",),
             "tensorflow": ("tensorflow-cpu", "tensorflow"), "dvc": ("dvc",)}
# Variables that change what a benchmark runs on (Keras's backend, the devices JAX or CUDA may
# use, the OpenBLAS kernels some machines pin on purpose): recorded when set.
RECORDED_ENVIRONMENT = ("KERAS_BACKEND", "JAX_PLATFORMS", "CUDA_VISIBLE_DEVICES",
                        CPU_ALLOCATOR_VARIABLE, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _version(*distributions: str) -> str | None:
    """The installed version of the first of ``distributions`` that is installed, else None."""
    from importlib.metadata import PackageNotFoundError, version

    for distribution in distributions:
        try:
            return version(distribution)
        except PackageNotFoundError:
            continue
    return None


def machine() -> dict:
    """CPU, cores, memory, load and library versions: what a number was measured on."""
    from genre_ensemble.members.cnn.runtime import cpu_name

    cpu = cpu_name()
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        total_kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gib = round(total_kib / 2**20, 1)
    versions = {module: _version(*distributions) for module, distributions in VERSIONED.items()}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        # `taskset -c 0,1` leaves 2 of the machine's cores to the benchmark
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "environment": {name: os.environ[name] for name in RECORDED_ENVIRONMENT
                        if name in os.environ},
        "memory_gib": memory_gib,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def program() -> str:
    """How this process's script is run from the repository root, ``python -m bench.<script>``
    (a script's ``argparse`` ``prog``, so that its usage line says so)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name}"
    return f"python {_relative(sys.argv[0])}"


def command_line() -> str:
    """The command this process was started with, as typed from the repository root:
    ``python -m bench.<script> ARGS`` (path arguments relative to the repository)."""
    return " ".join([program(), *[_relative(a) for a in sys.argv[1:]]])


def write_results(name: str, results: dict) -> Path:
    """Write ``bench/results/<name>.json`` (with the machine and the command) and return it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "command": command_line(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        **results,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _relative(argument: str) -> str:
    """A path argument relative to the repository (options and other words as they are)."""
    path = Path(argument)
    if argument.startswith("-") or not path.exists():
        return argument
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return argument


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain-text table, right-aligned numbers."""
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def write_clips(folder: Path, count: int, *, seconds: float, sr: int = 22050, seed: int = 7,
                n_jobs: int = 2) -> list[Path]:
    """``count`` synthetic clips (genres in turn) as 16-bit mono WAV files, in parallel."""
    from joblib import Parallel, delayed

    folder.mkdir(parents=True, exist_ok=True)
    jobs = (delayed(_write_clip)(folder, number, seconds, sr, seed) for number in range(count))
    return list(Parallel(n_jobs=n_jobs)(jobs))


def _write_clip(folder: Path, number: int, seconds: float, sr: int, seed: int) -> Path:
    import soundfile

    from genre_ensemble.core.labels import GTZAN_GENRES
    from genre_ensemble.corpus.synthetic import synthesize_clip

    genre = GTZAN_GENRES[number % len(GTZAN_GENRES)]
    path = folder / f"{genre}.{number:05d}.wav"
    soundfile.write(str(path), synthesize_clip(genre, seed + number, seconds=seconds, sr=sr), sr,
                    subtype="PCM_16")
    return path


def manifest_for(paths: Sequence[Path], split: str = "train"):
    """A minimal manifest (track, genre, path, split) for :func:`build_image_sets`."""
    import pandas as pd

    return pd.DataFrame({
        "track": [p.stem for p in paths],
        "genre": [p.stem.split(".")[0] for p in paths],
        "path": [str(p) for p in paths],
        "split": split,
    })


def tree_memory(process, with_pss: bool) -> tuple[int, int | None, int, int]:
    """(sum RSS, sum PSS or None, main process RSS, process count) of a process tree."""
    import psutil

    procs = [process, *process.children(recursive=True)]
    rss, pss, main_rss = 0, 0 if with_pss else None, 0
    for proc in procs:
        try:
            if with_pss:
                info = proc.memory_full_info()
                pss += info.pss
            else:
                info = proc.memory_info()
            rss += info.rss
            if proc.pid == process.pid:
                main_rss = info.rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, pss, main_rss, len(procs)


# ---------------------------------------------------------------------------------------------
# A workspace with a completed pipeline run


def completed_run(root: Path) -> bool:
    """Whether ``root`` holds a finished pipeline run: the lock file, the metrics and the model
    of every member of its params.yaml's ``ensemble.members``."""
    from genre_ensemble.core.paths import (
        ENSEMBLE_METRICS,
        LOCK_FILE,
        METRICS,
        MODELS_DIR,
        PARAMS_FILE,
        model_path,
    )
    from genre_ensemble.members.registry import kind_of, load_params

    if not (root / PARAMS_FILE).is_file():
        return False
    params = load_params(root / PARAMS_FILE)
    models = [model_path(name, kind_of(params.member(name)).model_suffix,
                         models_dir=root / MODELS_DIR) for name in params.ensemble.members]
    needed = [root / LOCK_FILE, root / ENSEMBLE_METRICS, root / METRICS, *models]
    return all(path.is_file() for path in needed)


def workspace_settings(root: Path) -> dict:
    """The params of a workspace that decide the cost of predicting and training."""
    import yaml

    from genre_ensemble.core.paths import PARAMS_FILE

    raw = yaml.safe_load((root / PARAMS_FILE).read_text())
    return {
        "clip_seconds": raw["data"]["clip_seconds"],
        "windows": raw["windows"],
        "image_size": [raw["images"]["height"], raw["images"]["width"]],
        "architecture": raw["train"]["architecture"],
        "filters": raw["train"]["filters"],
        "members": raw["ensemble"]["members"],
    }


def bench_env(root: Path) -> dict[str, str]:
    """:func:`bench.workspace.workspace_env` of a benchmark's workspace (its commits by
    ``bench``)."""
    return workspace_env(root, identity=IDENTITY)


def pipeline_workspace(*, fresh: bool = False, log: Callable[[str], object] = print
                       ) -> tuple[Path, dict]:
    """A git + DVC workspace with an up-to-date pipeline run (params.yaml as in the repository).

    The repository is copied (with its outputs and DVC cache when it has a run:
    :func:`bench.workspace.copy_worktree`) into ``.cache/bench/pipeline``, committed, and
    ``dvc repro`` brings it up to date: a no-op when the repository's run is current, the
    stale stages otherwise, everything (about 10-20 minutes on 2 cores) when the repository
    was never run. Later calls reuse the workspace.

    Returns
    -------
    root : Path
    info : dict
        ``source`` (how the run was made), ``repro_seconds`` and ``stages_run`` by the bench.
    """
    if not fresh and WORKSPACE_INFO.is_file() and completed_run(WORKSPACE):
        return WORKSPACE, json.loads(WORKSPACE_INFO.read_text())
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.parent.mkdir(parents=True, exist_ok=True)
    copy_worktree(WORKSPACE)
    had_run = completed_run(WORKSPACE)
    env = bench_env(WORKSPACE)
    git_commit(WORKSPACE, "snapshot of the repository", env)
    log(f"running `dvc repro` in {WORKSPACE} (log: {REPRO_LOG}); "
        + ("the repository's run is reused where it is current" if had_run else
           "the repository has no run: the whole pipeline runs (10-20 minutes)"))
    started = time.perf_counter()
    # the log file shows progress while it runs
    stages = dvc_repro(WORKSPACE, env, log=REPRO_LOG, timeout=None)
    source = ("bench repro" if not had_run else
              "repository run" + (", stale stages rerun by the bench" if stages else ""))
    info = {"source": source, "repro_seconds": round(time.perf_counter() - started, 1),
            "stages_run": stages}
    git_commit(WORKSPACE, "pipeline run", env)
    WORKSPACE_INFO.write_text(json.dumps(info) + "\n")
    return WORKSPACE, info
