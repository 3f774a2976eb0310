"""The paper mode, each improvement alone, and the default, as named DVC experiments.

    python bench/ablation.py run [NAME ...]   # dvc exp run --temp, one experiment after another
    python bench/ablation.py table            # collect their metrics into a markdown table
    python bench/ablation.py cv NAME [NAME ...] [--folds 5] [--run-folds N] [--seeds S ...]
                                              # cross-validation: queue NAME-f0 .. NAME-f{k-1}

``run`` needs a clean git state (experiments are made from HEAD). Every experiment is an
ordinary ``dvc exp run`` with ``-S`` overrides, printed before it starts, so each row of the
README's results table can be reproduced by hand. Results land in ``bench/results/ablation.json``
and ``bench/results/ablation.md``.

``cv`` queues one experiment per fold (``dvc exp run --queue -n NAME-f<k> -S split.method=kfold
-S split.folds=<folds> -S split.fold=<k>`` plus the variant's overrides), starts one queue worker
(``dvc queue start -j 1``: one training at a time on a small machine) and waits until every
queued fold has finished (a fold removed from the queue, ``dvc queue remove``, is no longer
waited for, and counts as not run); ``genre-ensemble compare NAME ...`` then summarises the
sweeps.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path

from genre_ensemble.paths import METRICS, PARAMS_FILE

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
logger = logging.getLogger("ablation")

# The paper's protocol: figure images of whole clips, the one-conv CNN, plain SGD with the
# paper's 50 epochs and batch 128, and the plain sum of the three softmax vectors.
PAPER: tuple[str, ...] = (
    "images.style=figure",
    "segments.seconds=0",
    "train.architecture=paper",
    "train.filters=32",
    "train.optimizer=sgd",
    "train.learning_rate=0.01",
    "train.momentum=0.0",
    "train.lr_schedule=constant",
    "train.epochs=50",
    "train.batch_size=128",
    "train.early_stopping=0",
    "train.spec_augment.time_masks=0",
    "train.spec_augment.freq_masks=0",
    "ensemble.members=[stft,cqt,chroma]",
    "ensemble.method=sum",
    "ensemble.weights=[1,1,1]",
)

# 200 synthetic clips of GTZAN's length, trained with oneDNN's kernels (the GTZAN-sized preset's)
LONG30: tuple[str, ...] = (
    "synthetic.seconds=30",
    "data.clip_seconds=30",
    "synthetic.clips_per_genre=20",
    "train.cpu_kernels=onednn",
)

# name -> (overrides on top of params.yaml, what the row shows)
EXPERIMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "paper": (PAPER, "paper mode (figure images, whole clips, paper CNN, equal sum)"),
    "paper-clean": ((*PAPER, "images.style=clean"), "paper + clean images (margins cropped)"),
    "paper-segments": (
        (*PAPER, "images.style=clean", "segments.seconds=3.0", "segments.overlap=0.5"),
        "paper + clean images + 3 s windows, clip = mean of windows",
    ),
    "paper-deep": (
        (
            *PAPER,
            "train.architecture=deep",
            "train.filters=16",
            "train.optimizer=adam",
            "train.learning_rate=0.001",
            "train.lr_schedule=cosine",
            "train.epochs=20",
            "train.batch_size=32",
            "train.early_stopping=6",
            "train.spec_augment.time_masks=2",
            "train.spec_augment.freq_masks=2",
        ),
        "paper + deep CNN (BN, GAP, Adam, cosine LR, early stopping, SpecAugment)",
    ),
    "paper-learned": (
        # paper members do not early-stop, so holding calibration clips out of validation
        # leaves them unchanged: against `paper`, only the ensemble's weights differ
        (*PAPER, "split.calibration=0.5", "ensemble.method=learned", "ensemble.weights=null"),
        "paper + weights learned on held-out calibration clips",
    ),
    "paper-features": (
        (*PAPER, "ensemble.members=[stft,cqt,chroma,features]", "ensemble.weights=[1,1,1,1]"),
        "paper + hand-made-features member",
    ),
    "default": ((), "default params.yaml (all improvements)"),
    # not a step from the paper: the default with the opt-in pretrained member (its weights
    # come from `make musicnn`); against `default` on the same folds, only that member differs
    "musicnn": (
        ("ensemble.members=[stft,cqt,chroma,features,musicnn]", "ensemble.weights=[1,1,1,1,1]"),
        "default + pretrained musicnn member (opt-in)",
    ),
    # not a step from the paper either: the default trained with oneDNN's CPU kernels, the
    # faster choice for GTZAN-sized runs; against `default`, only the kernels differ
    "onednn": (("train.cpu_kernels=onednn",), "default trained with oneDNN's CPU kernels"),
    # GTZAN's 30 s clips (19 windows each, not the default's 5) on a corpus small enough to
    # cross-validate: the cap on training windows per clip and epoch is what `long30-cap6`
    # adds to `long30`; both with oneDNN's kernels, as the GTZAN-sized preset uses them
    "long30": (LONG30, "200 synthetic clips of 30 s, oneDNN's kernels"),
    "long30-cap6": (
        (*LONG30, "train.windows_per_clip=6"),
        "long30 + 6 of each clip's 19 training windows per epoch",
    ),
}


def dvc_exp_run(name: str, overrides: tuple[str, ...]) -> None:
    command = ["dvc", "exp", "run", "--temp", "-n", name]
    for override in overrides:
        command += ["-S", override]
    logger.info("%s", " ".join(c if "[" not in c else f"'{c}'" for c in command))
    subprocess.run(command, cwd=ROOT, check=True)


def cv_commands(
    name: str, folds: int, *, run_folds: int | None = None, seed: int | None = None
) -> list[list[str]]:
    """The ``dvc exp run --queue`` command of each fold of variant ``name``.

    ``run_folds`` queues only the first folds of the ``folds``-fold partition (the same folds
    for every variant, so they pair); ``seed`` also sets ``train.seed`` and names the
    experiments ``<name>-seed<seed>-f<k>``.
    """
    commands = []
    label = name if seed is None else f"{name}-seed{seed}"
    for fold in range(folds if run_folds is None else run_folds):
        command = ["dvc", "exp", "run", "--queue", "-n", f"{label}-f{fold}"]
        # the variant's overrides first, the fold's last: the split of a sweep always wins
        overrides = (
            *EXPERIMENTS[name][0],
            *(() if seed is None else (f"train.seed={seed}",)),
            "split.method=kfold",
            f"split.folds={folds}",
            f"split.fold={fold}",
        )
        for override in overrides:
            command += ["-S", override]
        commands.append(command)
    return commands


QUEUE_START: tuple[str, ...] = ("dvc", "queue", "start", "-j", "1")
UNFINISHED_STATES: frozenset[str] = frozenset({"queued", "running"})
POLL_SECONDS = 30


def exp_show() -> list[dict]:
    """``dvc exp show --json``: the baselines and their experiments, params and metrics."""
    result = subprocess.run(
        ["dvc", "exp", "show", "--json"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def experiment_states(names: set[str]) -> dict[str, str]:
    """Queue state (queued, running, success, failed) of the named experiments."""
    shown = exp_show()
    states = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            if experiment.get("name") in names:
                executor = experiment.get("executor") or {}
                states.setdefault(experiment["name"], executor.get("state", "success"))
    return states


def queue_cv(
    names: list[str], folds: int, *, run_folds: int | None, seeds: list[int] | None
) -> set[str]:
    """Queue the folds of every variant (and seed); the names of the queued experiments."""
    queued = set()
    for name in names:
        for seed in seeds or [None]:
            for command in cv_commands(name, folds, run_folds=run_folds, seed=seed):
                logger.info("%s", shlex.join(command))
                subprocess.run(command, cwd=ROOT, check=True)
                queued.add(command[command.index("-n") + 1])
    return queued


def still_waiting(queued: set[str], states: dict[str, str], *, missing_before: set[str]
                  ) -> tuple[list[str], set[str]]:
    """The experiments still to wait for, and those missing from ``states`` now.

    An experiment missing from ``dvc exp show`` in two polls in a row was removed from the
    queue (``dvc queue remove``, ``dvc exp remove``): it is no longer waited for.
    """
    missing = queued - states.keys()
    waiting = sorted(
        name for name in queued
        if states.get(name) in UNFINISHED_STATES or (name in missing and name not in missing_before)
    )
    return waiting, missing


def run_queue(queued: set[str]) -> int:
    """Start one queue worker and wait for the ``queued`` experiments; 1 if one failed or was
    removed from the queue."""
    logger.info("%s", shlex.join(QUEUE_START))
    subprocess.run(list(QUEUE_START), cwd=ROOT, check=True)
    missing: set[str] = set()
    while True:
        states = experiment_states(queued)
        waiting, missing = still_waiting(queued, states, missing_before=missing)
        if not waiting:
            break
        logger.info("waiting for %d of %d folds (%s)", len(waiting), len(queued), waiting[0])
        time.sleep(POLL_SECONDS)
    for name in sorted(missing):
        logger.error("%s is no longer in the queue (removed?): not waited for", name)
    failed = sorted(n for n in queued - missing if states.get(n) != "success")
    for name in failed:
        logger.error("%s failed: see `dvc queue logs %s`", name, name)
    failed += sorted(missing)
    logger.info("done; compare with: genre-ensemble compare")
    return 1 if failed else 0


def collect() -> dict[str, dict]:
    """Metrics of the named experiments from ``dvc exp show --json``."""
    shown = exp_show()
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                if rev.get("name") in EXPERIMENTS and rev["name"] not in found:
                    data = rev["data"]
                    metrics = dict(data["metrics"][METRICS.as_posix()]["data"])
                    # DVC keeps only scalar metrics: the member list comes from the params
                    params = data["params"][PARAMS_FILE.as_posix()]["data"]
                    metrics["members_in_ensemble"] = params["ensemble"]["members"]
                    metrics["ensemble_method"] = params["ensemble"]["method"]
                    found[rev["name"]] = metrics
    return found


def markdown_table(results: dict[str, dict]) -> str:
    lines = [
        "| experiment | ensemble acc. [95 % CI] | ensemble F1 | stft | cqt | chroma | features "
        "| test clips |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (_, description) in EXPERIMENTS.items():
        if name not in results:
            continue
        metrics = results[name]
        ensemble = metrics["ensemble"]
        members = metrics["members"]
        cells = [
            f"`{name}`: {description}",
            f"{ensemble['accuracy']:.1%} [{ensemble['accuracy_ci_low']:.1%}, "
            f"{ensemble['accuracy_ci_high']:.1%}]",
            f"{ensemble['f1']:.3f}",
        ]
        for member in ("stft", "cqt", "chroma", "features"):
            value = members.get(member)
            used = member in metrics["members_in_ensemble"]
            text = f"{value['accuracy']:.1%} / {value['f1']:.2f}" if value else "n/a"
            cells.append(text if used else f"({text})")
        cells.append(str(metrics["n_test"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run experiments (all by default)")
    run.add_argument("names", nargs="*", metavar="NAME", help=", ".join(EXPERIMENTS))
    commands.add_parser("table", help="write bench/results/ablation.{json,md}")
    cv = commands.add_parser("cv", help="k-fold cross-validation of variants via the DVC queue")
    cv.add_argument("names", nargs="+", metavar="NAME", help=", ".join(EXPERIMENTS))
    cv.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    cv.add_argument("--run-folds", type=int, default=None, metavar="N",
                    help="queue only folds 0 .. N-1 of the --folds partition")
    cv.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                    help="also repeat each fold with these train.seed values")
    cv.add_argument("--no-wait", action="store_true",
                    help="only queue (start later with another `cv` or `dvc queue start`)")
    args = parser.parse_args()
    if args.command in ("run", "cv"):
        unknown = [name for name in args.names if name not in EXPERIMENTS]
        if unknown:
            parser.error(f"unknown experiments {unknown}; choose from {', '.join(EXPERIMENTS)}")
    if args.command == "cv":
        if args.folds < 2:
            parser.error(f"--folds must be 2 or more, not {args.folds}")
        if args.run_folds is not None and not 1 <= args.run_folds <= args.folds:
            parser.error(f"--run-folds must be in 1 .. {args.folds}, not {args.run_folds}")
        queued = queue_cv(args.names, args.folds, run_folds=args.run_folds, seeds=args.seeds)
        return 0 if args.no_wait else run_queue(queued)
    if args.command == "run":
        for name in args.names or EXPERIMENTS:
            dvc_exp_run(name, EXPERIMENTS[name][0])
        return 0
    results = collect()
    missing = [name for name in EXPERIMENTS if name not in results]
    if missing:
        logger.warning(
            "not run yet: %s (python bench/ablation.py run %s)", missing, " ".join(missing)
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ablation.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown_table(results)
    (RESULTS / "ablation.md").write_text(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
