"""The one reader of DVC experiments and git revisions: which runs there are, and the files
each one left behind, on DVC's public Python API.

``dvc.api.exp_show`` lists the experiments; ``dvc.api.DVCFileSystem`` reads a file as it was at
a revision, git-tracked (params, metrics, per-clip outcomes) or DVC-tracked (predictions,
read from the local cache). ``genre-ensemble compare`` and ``genre-ensemble report`` both read
runs through here. No TensorFlow here.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from genre_ensemble.core.params import flatten
from genre_ensemble.core.paths import PARAMS_FILE, TEST_CLIPS
from genre_ensemble.evaluation.outcomes import read_outcomes

logger = logging.getLogger(__name__)

# dvc.api.exp_show's row types and states (DVC 3): an experiment's own row, and those it ends
EXPERIMENT_ROWS: frozenset[str] = frozenset({"branch_commit", "branch_base"})
FINISHED_STATES: frozenset[Any] = frozenset({None, "Success"})


class RunsError(Exception):
    """Runs cannot be found or read; the message says why and what to do."""


@dataclass(frozen=True)
class Experiment:
    """One finished run: a DVC experiment (or a git revision) with its params and outcomes.

    ``params`` are flattened to dotted keys (``{"split.fold": 3, ...}``); ``outcomes`` is its
    per-clip test outcomes table (:mod:`genre_ensemble.evaluation.outcomes`), ``None`` when the
    run predates them.
    """

    name: str
    rev: str
    params: dict[str, Any]
    kind: str = "experiment"  # "experiment" or "git"
    metrics: dict[str, Any] = field(default_factory=dict)
    outcomes: pd.DataFrame | None = None


def git(root: Path, *args: str) -> str | None:
    """The output of ``git -C root args``, ``None`` when it fails."""
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                check=False)
    except FileNotFoundError as error:
        raise RunsError("git is not installed; comparing runs needs git") from error
    return result.stdout if result.returncode == 0 else None


@lru_cache(maxsize=64)
def _filesystem(root: str, rev: str) -> Any:
    from dvc.api import DVCFileSystem

    return DVCFileSystem(root, rev=rev)


def read_at(root: Path, path: str | Path, rev: str) -> str | None:
    """The text of ``path`` at commit ``rev``: a git-tracked file, or a DVC-tracked output from
    the local cache (no remote is contacted for it). ``None`` when it is not there."""
    path = Path(path).as_posix()
    try:
        filesystem = _filesystem(str(Path(root).resolve()), rev)
        if not filesystem.isfile(path):
            return None
        return filesystem.read_text(path)
    except Exception as error:  # not in git, not in the local cache, not a DVC repo
        logger.debug("%s at %s: %s", path, rev[:7], error)
        return None


def read_params_at(root: Path, rev: str) -> dict[str, Any]:
    """params.yaml at ``rev`` as dotted keys (empty when absent)."""
    text = read_at(root, PARAMS_FILE, rev)
    return flatten(yaml.safe_load(text) or {}) if text else {}


def with_outcomes(root: Path, experiment: Experiment) -> Experiment:
    """``experiment`` with its per-clip outcomes read from its commit (or ``None``)."""
    text = read_at(root, TEST_CLIPS, experiment.rev)
    return replace(experiment, outcomes=read_outcomes(text) if text is not None else None)


def finished_experiments(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(name, short commit) of the finished experiments among ``dvc.api.exp_show``'s rows.

    Queued, running and failed experiments are left out (their ``State``); so are the
    baselines themselves (their ``typ``).
    """
    found = []
    for row in rows:
        if row.get("typ") in EXPERIMENT_ROWS and row.get("State") in FINISHED_STATES:
            rev = str(row.get("rev") or "")
            found.append((str(row.get("Experiment") or rev[:7]), rev))
    return found


def experiment_list(root: Path, *, all_commits: bool = False) -> list[tuple[str, str]]:
    """(name, commit) of every finished DVC experiment based on HEAD, or on any commit with
    ``all_commits``, in the order DVC lists them (newest first)."""
    from dvc.api import exp_show

    try:
        rows = exp_show(repo=str(root), num=-1 if all_commits else 1)
    except Exception as error:  # not a DVC repository, no commits, ...
        raise RunsError(f"cannot list the DVC experiments of {root}: {error}") from error
    found = []
    for name, rev in finished_experiments(rows):
        commit = (git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}") or "").strip()
        if commit:
            found.append((name, commit))
    return found


def load_experiments(root: Path, *, all_commits: bool = False) -> list[Experiment]:
    """The finished DVC experiments of the repository at ``root``, with params and outcomes."""
    experiments = [
        with_outcomes(root, Experiment(name=name, rev=commit,
                                       params=read_params_at(root, commit)))
        for name, commit in experiment_list(root, all_commits=all_commits)
    ]
    logger.info("found %d finished experiments", len(experiments))
    return experiments


def resolve_rev(root: Path, rev: str) -> tuple[str, str]:
    """The commit a branch, tag, commit or DVC experiment name points to.

    Returns
    -------
    (commit, kind) : the full SHA and "git" or "experiment"

    Raises
    ------
    RunsError
        When ``rev`` is neither a git revision nor a finished DVC experiment here.
    """
    if git(root, "rev-parse", "--git-dir") is None:
        raise RunsError(f"{rev}: {root} is not a git repository, so there is nothing to compare "
                        "with")
    commit = git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if commit:
        return commit.strip(), "git"
    matches = sorted({c for name, c in experiment_list(root, all_commits=True) if name == rev})
    if len(matches) == 1:
        return matches[0], "experiment"
    if matches:
        raise RunsError(f"{rev}: several DVC experiments have this name; pass one of their "
                        f"commits instead ({', '.join(m[:7] for m in matches)})")
    raise RunsError(f"{rev}: not found; it is neither a git branch, tag or commit nor a DVC "
                    "experiment here (see `git branch -a`, `git tag` and `dvc exp list`)")


def load_revision(root: Path, rev: str) -> Experiment | None:
    """A git revision (branch, tag, commit) as an :class:`Experiment`, ``None`` if unknown."""
    commit = git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if commit is None:
        return None
    commit = commit.strip()
    return with_outcomes(root, Experiment(name=rev, rev=commit, kind="git",
                                          params=read_params_at(root, commit)))
