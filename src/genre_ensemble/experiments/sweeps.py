"""``genre-ensemble sweep``: the named variants (paper mode, each improvement alone, the default,
the opt-in members, ...) as DVC experiments, one run each or k-fold cross-validation.

::

    genre-ensemble sweep --list                       # the variants and what each changes
    genre-ensemble sweep paper default --folds 5      # queue paper-f0 .. default-f4, run, wait
    genre-ensemble sweep paper                        # one experiment on the workspace's split
    genre-ensemble compare paper default              # then: the paired comparison

Every experiment is an ordinary ``dvc exp run`` with ``-S`` overrides, printed before it
starts, so any of them can be run by hand. With ``--folds`` each variant's folds are queued
(``dvc exp run --queue -n NAME-f<k> -S split.method=kfold -S split.folds=<folds> -S
split.fold=<k>`` after the variant's overrides), one queue worker runs them (``dvc queue start
-j 1``: one training at a time on a small machine) and the command waits until every queued
fold has finished (a fold removed from the queue, ``dvc queue remove``, is no longer waited
for and counts as not run). Each experiment restores from DVC's run-cache every stage whose
inputs it has seen, so variants that differ only after training share their trained members.
Without ``--folds`` each variant runs as ``dvc exp run --temp -n NAME`` (needs a clean git
state: experiments are made from HEAD).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """A named set of params overrides (``dvc exp run -S`` syntax) and what it shows."""

    overrides: tuple[str, ...]
    description: str


# The paper's protocol: figure images of whole clips, the one-conv CNN, plain SGD with the
# paper's 50 epochs and batch 128, and the plain sum of the three softmax vectors.
PAPER: tuple[str, ...] = (
    "images.style=figure",
    "windows.seconds=0",
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

# Real music, little of it (`make real DATA=...`): the two strongest pretrained networks of the
# musicnn wheel and the descriptors, each fitted on train + val with out-of-fold predictions of
# those clips, combined by their equal sum: the combination right on the most held-out clips
# of real GTZAN clips (docs/real-music.md). The CNN members trained from scratch on tens of
# clips score 11-40 points below the preset's ensemble there.
REAL_MUSIC: tuple[str, ...] = (
    "data.clip_seconds=30",
    "ensemble.members=[features,musicnn,vgg]",
    "ensemble.method=sum",
    "ensemble.weights=[1,1,1]",
    "features.cross_fit=5",
    "pretrained.musicnn.cross_fit=5",
    "pretrained.vgg.cross_fit=5",
)

VARIANTS: dict[str, Variant] = {
    "paper": Variant(PAPER, "paper mode (figure images, whole clips, paper CNN, equal sum)"),
    "paper-clean": Variant((*PAPER, "images.style=clean"),
                           "paper + clean images (margins cropped)"),
    "paper-segments": Variant(
        (*PAPER, "images.style=clean", "windows.seconds=3.0", "windows.overlap=0.5"),
        "paper + clean images + 3 s windows, clip = mean of windows",
    ),
    "paper-deep": Variant(
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
    # paper members do not early-stop, so holding calibration clips out of validation leaves
    # them unchanged: against `paper`, only the ensemble's weights differ
    "paper-learned": Variant(
        (*PAPER, "split.calibration=0.5", "ensemble.method=learned", "ensemble.weights=null"),
        "paper + weights learned on held-out calibration clips",
    ),
    "paper-features": Variant(
        (*PAPER, "ensemble.members=[stft,cqt,chroma,features]", "ensemble.weights=[1,1,1,1]"),
        "paper + hand-made-features member",
    ),
    "default": Variant((), "default params.yaml (all improvements)"),
    # the default with the opt-in pretrained member (its weights come from `make musicnn`);
    # against `default` on the same folds, only that member differs
    "musicnn": Variant(
        ("ensemble.members=[stft,cqt,chroma,features,musicnn]",),
        "default + pretrained musicnn member (opt-in)",
    ),
    # the default's members combined as the paper does, or by weights learned on calibration
    # clips (which, held out of early stopping, change the CNN members' training too)
    "sum": Variant(("ensemble.method=sum", "ensemble.weights=[1,1,1,1]"),
                   "default members, equal sum (the paper's combination)"),
    "learned": Variant(("split.calibration=0.5", "ensemble.method=learned"),
                       "default + log-loss weights on calibration clips"),
    "real": Variant(REAL_MUSIC, "real music: pretrained members + descriptors, cross-fitted, "
                                "equal sum"),
    # the real-music preset's members combined by the other methods (`learned`: on half the
    # val clips, which no member fits on)
    "real-selected": Variant((*REAL_MUSIC, "ensemble.method=selected", "ensemble.weights=null"),
                             "real, combination selected on held-out clips"),
    "real-learned": Variant((*REAL_MUSIC, "split.calibration=0.5", "ensemble.method=learned",
                             "ensemble.weights=null"),
                            "real, log-loss weights on calibration clips"),
    # the default trained with oneDNN's CPU kernels, the faster choice for GTZAN-sized runs
    "onednn": Variant(("train.cpu_kernels=onednn",), "default trained with oneDNN's CPU kernels"),
    # GTZAN's 30 s clips (19 windows each, not the default's 5) on a corpus small enough to
    # cross-validate: the cap on training windows per clip and epoch is what `long30-cap6`
    # adds to `long30`
    "long30": Variant(LONG30, "200 synthetic clips of 30 s, oneDNN's kernels"),
    "long30-cap6": Variant((*LONG30, "train.windows_per_clip=6"),
                           "long30 + 6 of each clip's 19 training windows per epoch"),
}

QUEUE_START: tuple[str, ...] = ("dvc", "queue", "start", "-j", "1")
UNFINISHED_STATES: frozenset[str] = frozenset({"queued", "running"})
POLL_SECONDS = 30
SHOW_ATTEMPTS, SHOW_RETRY_SECONDS = 5, 5.0
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run_command(name: str, overrides: Sequence[str], *, workspace: bool = False) -> list[str]:
    """``dvc exp run --temp -n NAME -S ...``: one experiment on the workspace's split.

    With ``workspace``, the experiment runs in the workspace itself, whose outputs it leaves
    there for predict and serve, and is named ``NAME-<date>-<time>`` so that running it again
    (on other music, say) records a new experiment instead of failing on the name.
    """
    if workspace:
        return ["dvc", "exp", "run", "-n", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}",
                *(part for override in overrides for part in ("-S", override))]
    command = ["dvc", "exp", "run", "--temp", "-n", name]
    for override in overrides:
        command += ["-S", override]
    return command


def cv_commands(
    name: str, folds: int, *, run_folds: int | None = None, seed: int | None = None,
    settings: Sequence[str] = (),
) -> list[list[str]]:
    """The ``dvc exp run --queue`` command of each fold of variant ``name``.

    ``run_folds`` queues only the first folds of the ``folds``-fold partition (the same folds
    for every variant, so they pair); ``seed`` also sets ``train.seed`` and names the
    experiments ``<name>-seed<seed>-f<k>``; ``settings`` are more overrides (``--set``), after
    the variant's.
    """
    commands = []
    label = name if seed is None else f"{name}-seed{seed}"
    for fold in range(folds if run_folds is None else run_folds):
        command = ["dvc", "exp", "run", "--queue", "-n", f"{label}-f{fold}"]
        # the variant's overrides first, the fold's last: the split of a sweep always wins
        overrides = (
            *VARIANTS[name].overrides,
            *settings,
            *(() if seed is None else (f"train.seed={seed}",)),
            "split.method=kfold",
            f"split.folds={folds}",
            f"split.fold={fold}",
        )
        for override in overrides:
            command += ["-S", override]
        commands.append(command)
    return commands


def experiment_states(root: Path, names: set[str]) -> dict[str, str]:
    """Queue state (queued, running, success, failed) of the named experiments, from
    ``dvc exp show --json`` (the queue states are not in :func:`dvc.api.exp_show`'s rows)."""
    for attempt in range(SHOW_ATTEMPTS):
        result = subprocess.run(["dvc", "exp", "show", "--json"], cwd=root,
                                capture_output=True, text=True)
        if result.returncode == 0:
            break
        # the queue worker holds the repository's lock while it starts or saves a run
        logger.info("dvc exp show failed (%s); trying again", result.stderr.strip()[-200:])
        time.sleep(SHOW_RETRY_SECONDS * (attempt + 1))
    else:
        raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout,
                                            result.stderr)
    states = {}
    for baseline in json.loads(result.stdout):
        for experiment in baseline.get("experiments") or []:
            if experiment.get("name") in names:
                executor = experiment.get("executor") or {}
                states.setdefault(experiment["name"], executor.get("state", "success"))
    return states


def queue_cv(root: Path, names: Sequence[str], folds: int, *, run_folds: int | None,
             seeds: Sequence[int] | None, settings: Sequence[str] = ()) -> set[str]:
    """Queue the folds of every variant (and seed); the names of the queued experiments."""
    queued = set()
    for name in names:
        for seed in seeds or [None]:
            for command in cv_commands(name, folds, run_folds=run_folds, seed=seed,
                                       settings=settings):
                logger.info("%s", shlex.join(command))
                subprocess.run(command, cwd=root, check=True)
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


def run_queue(root: Path, queued: set[str], *, poll_seconds: float = POLL_SECONDS) -> int:
    """Start one queue worker and wait for the ``queued`` experiments; 1 if one failed or was
    removed from the queue."""
    logger.info("%s", shlex.join(QUEUE_START))
    subprocess.run(list(QUEUE_START), cwd=root, check=True)
    missing: set[str] = set()
    while True:
        states = experiment_states(root, queued)
        waiting, missing = still_waiting(queued, states, missing_before=missing)
        if not waiting:
            break
        logger.info("waiting for %d of %d folds (%s)", len(waiting), len(queued), waiting[0])
        time.sleep(poll_seconds)
    for name in sorted(missing):
        logger.error("%s is no longer in the queue (removed?): not waited for", name)
    failed = sorted(n for n in queued - missing if states.get(n) != "success")
    for name in failed:
        logger.error("%s failed: see `dvc queue logs %s`", name, name)
    failed += sorted(missing)
    for name in sorted(queued - set(failed)):
        restored = _restored_stages(root, name)
        if restored:
            logger.info("%s: restored from the run-cache: %s", name, ", ".join(restored))
    logger.info("done; compare with: genre-ensemble compare %s",
                " ".join(sorted({n.rsplit("-f", 1)[0] for n in queued})))
    return EXIT_FAILED if failed else EXIT_OK


def _restored_stages(root: Path, name: str) -> list[str]:
    """The stages a finished queued experiment restored from the run-cache (from its log)."""
    result = subprocess.run(["dvc", "queue", "logs", name], cwd=root, capture_output=True,
                            text=True, check=False)
    marker = " is cached - skipping run"
    return [line.split("'")[1] for line in result.stdout.splitlines()
            if marker in line and line.count("'") >= 2]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``sweep`` arguments (imports nothing heavy)."""
    parser.add_argument("names", nargs="*", metavar="VARIANT",
                        help=f"variants to run: {', '.join(VARIANTS)}")
    parser.add_argument("--list", action="store_true",
                        help="list the variants and their overrides, then stop")
    parser.add_argument("--folds", type=int, default=None, metavar="K",
                        help="k-fold cross-validation: queue NAME-f0 .. NAME-f{K-1} and wait "
                             "(without it: one experiment per variant on the workspace's split)")
    parser.add_argument("--run-folds", type=int, default=None, metavar="N",
                        help="queue only folds 0 .. N-1 of the --folds partition")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                        help="also repeat each fold with these train.seed values")
    parser.add_argument("--no-wait", action="store_true",
                        help="only queue (start later with `dvc queue start`)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="settings",
                        help="one more override after the variant's, e.g. --set data.dir=/music "
                             "(repeatable)")
    parser.add_argument("--workspace", action="store_true",
                        help="run the one experiment in the workspace, not a temporary copy: "
                             "its models stay there for predict and serve")


def run(args: argparse.Namespace) -> int:
    """The ``sweep`` command; 0 when every experiment finished, 1 if one failed, 2 on usage."""
    if args.list:
        for name, variant in VARIANTS.items():
            overrides = " ".join(f"-S {o}" for o in variant.overrides) or "(none)"
            sys.stdout.write(f"{name:<16} {variant.description}\n{'':<16} {overrides}\n")
        return EXIT_OK
    problem = _usage_problem(args)
    if problem:
        sys.stderr.write(f"error: {problem}\n")
        return EXIT_USAGE
    root = Path.cwd()
    if args.folds is None:
        for name in args.names:
            command = run_command(name, (*VARIANTS[name].overrides, *args.settings),
                                  workspace=args.workspace)
            logger.info("%s", shlex.join(command))
            if subprocess.run(command, cwd=root, check=False).returncode != 0:
                return EXIT_FAILED
        return EXIT_OK
    queued = queue_cv(root, args.names, args.folds, run_folds=args.run_folds, seeds=args.seeds,
                      settings=args.settings)
    return EXIT_OK if args.no_wait else run_queue(root, queued)


def _usage_problem(args: argparse.Namespace) -> str | None:
    if not args.names:
        return "name one or more variants (genre-ensemble sweep --list shows them)"
    unknown = [name for name in args.names if name not in VARIANTS]
    if unknown:
        return (f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)} "
                "(genre-ensemble sweep --list)")
    if args.folds is not None and args.folds < 2:
        return f"--folds must be 2 or more, not {args.folds}"
    if args.folds is None and (args.run_folds or args.seeds or args.no_wait):
        return "--run-folds, --seeds and --no-wait need --folds"
    if args.run_folds is not None and not 1 <= args.run_folds <= args.folds:
        return f"--run-folds must be in 1 .. {args.folds}, not {args.run_folds}"
    if args.workspace and (args.folds is not None or len(args.names) != 1):
        return "--workspace runs one variant once: name one variant, without --folds"
    bad = [setting for setting in args.settings if "=" not in setting.strip("=")]
    if bad:
        return f"--set {bad[0]!r}: give KEY=VALUE, e.g. --set data.dir=/music"
    return None
