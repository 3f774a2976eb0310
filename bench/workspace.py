"""DVC workspaces for benchmarks and tests: a copy of the repository, committed, run.

One builder, shared by ``bench/`` (``exp_weights``, ``predict_latency``, ``gtzan_scale``,
``image_store_dvc``) and the test suite (``tests/conftest.py``'s workspace fixture): copy what a
fresh clone holds (:data:`COPIED`) or the whole working tree (:func:`copy_worktree`), write
params.yaml with overrides (:func:`write_params`, which refuses keys params.yaml lacks), build
the environment DVC and the stages run in (:func:`workspace_env`: this interpreter's
``bin/`` first on ``PATH``, the copy's ``src`` importable, DVC's site cache inside the
workspace, a git identity so commits work on machines without one), commit
(:func:`git_commit`) and run the pipeline (:func:`dvc_repro`). Every command is run checked
(:func:`run_checked`): a failure raises :class:`CommandError` with the command's output tail.

Standard library and PyYAML only: nothing of ``genre_ensemble`` is imported, so a broken package
still gets a workspace in which its failure shows.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = "params.yaml"

# What a fresh clone holds that the pipeline needs (generated data is not in git).
COPIED: tuple[str, ...] = (
    "src",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvc/config",
    ".dvc/plots",
    ".dvcignore",
    ".gitignore",
    "data/splits",
    "data/params.checked",
    "data/gtzan/README.md",
)
# Never copied, by either copy: environments, caches, git history (a workspace gets its own),
# tool caches, benchmark results, build metadata.
NOT_COPIED: tuple[str, ...] = (".venv", ".venv-gpu", ".cache", ".git", "reports", "__pycache__",
                               ".pytest_cache", ".ruff_cache", "results", "*.egg-info")

# The author and committer of a workspace's commits (CI machines may have no git identity).
IDENTITY: tuple[str, str] = ("genre-ensemble workspace", "workspace@example.invalid")

# Caches the project owns, as defaults: numba (librosa) and matplotlib write their caches
# inside the repository (CI starts with empty ones and may run as root), TensorFlow is quiet.
CACHE_DEFAULTS: dict[str, str] = {
    "NUMBA_CACHE_DIR": str(REPO / ".cache" / "numba"),
    "MPLCONFIGDIR": str(REPO / ".cache" / "matplotlib"),
    "TF_CPP_MIN_LOG_LEVEL": "2",
}

# How long one checked command may take by default (a GTZAN-sized `dvc repro` takes longer:
# pass timeout=None).
DEFAULT_TIMEOUT = 7200.0
OUTPUT_TAIL = 3000  # characters of stdout and of stderr a CommandError shows
RAN_STAGE = re.compile(r"Running stage '([^']+)'")


class CommandError(RuntimeError):
    """A command run in a workspace failed; the message holds its output tail.

    Attributes
    ----------
    command : list of str
    returncode : int
    stdout, stderr : str
        All of the command's output (``stderr`` is empty when it went to a log file).
    """

    def __init__(self, command: Sequence[str], returncode: int, stdout: str, stderr: str,
                 *, where: str | None = None) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        tail = f"{stdout[-OUTPUT_TAIL:]}\n{stderr[-OUTPUT_TAIL:]}".strip()
        detail = f"; see {where}" if where else ""
        super().__init__(f"`{' '.join(self.command)}` failed ({returncode}){detail}:\n{tail}")


class UnknownParamError(KeyError):
    """An override names a key params.yaml lacks; the message names the dotted key."""

    def __str__(self) -> str:  # KeyError's own would quote the message
        return str(self.args[0]) if self.args else ""


def use_repository_caches(environ: MutableMapping[str, str] | None = None) -> None:
    """Set :data:`CACHE_DEFAULTS` in ``environ`` (default ``os.environ``) where unset.

    Call it before librosa (numba), matplotlib or TensorFlow is imported: they read the
    variables once, at import. Processes started afterwards inherit them.
    """
    environ = os.environ if environ is None else environ
    for name, value in CACHE_DEFAULTS.items():
        environ.setdefault(name, value)


def copy_clone_files(target: str | Path, *, source: str | Path = REPO,
                     names: Sequence[str] = COPIED) -> Path:
    """Copy what a fresh ``git clone`` of ``source`` holds that the pipeline needs.

    Parameters
    ----------
    target : str or Path
        The workspace folder; created if missing. Files already there are overwritten, a
        folder of ``names`` that already exists there is an error (``shutil.copytree``).
    source : str or Path
        The repository copied (default: this one, its working tree as it is now, edits
        included).
    names : sequence of str
        Paths relative to ``source``: files or folders (``__pycache__`` left out).

    Returns
    -------
    Path
        ``target``.
    """
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        origin, copied = source / name, target / name
        copied.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, copied, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, copied)
    return target


def copy_worktree(target: str | Path, *, source: str | Path = REPO,
                  exclude: Sequence[str] = NOT_COPIED) -> Path:
    """Copy the whole working tree of ``source``: its outputs and DVC cache too (so that a
    ``dvc repro`` in the copy reuses a run that is current), not its git history, environments
    or caches (:data:`NOT_COPIED`).

    Parameters
    ----------
    target : str or Path
        Must not exist yet.
    source : str or Path
        The repository copied (default: this one).
    exclude : sequence of str
        ``shutil.ignore_patterns`` patterns left out at every level.

    Returns
    -------
    Path
        ``target``.
    """
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*exclude))
    return Path(target)


def merge_params(base: MutableMapping[str, Any], overrides: Mapping[str, Any], *,
                 prefix: str = "") -> MutableMapping[str, Any]:
    """Update ``base`` in place with the nested mapping ``overrides``; return ``base``.

    A mapping in ``overrides`` updates the mapping under the same key (so ``{"train":
    {"epochs": 2}}`` leaves the other ``train`` settings alone); any other value replaces the
    one in ``base``.

    Parameters
    ----------
    base : mutable mapping
        Params as loaded from params.yaml.
    overrides : mapping
        Nested like params.yaml (see :func:`nested` for dotted keys).
    prefix : str
        The dotted key of ``base`` in the whole document (for the error message).

    Raises
    ------
    UnknownParamError
        A ``KeyError`` naming the dotted key, when ``overrides`` has a key ``base`` lacks, or a
        mapping where ``base`` has a value: a typo would otherwise run on the defaults.
    """
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise UnknownParamError(f"params.yaml has no key {dotted}")
        if isinstance(value, Mapping):
            if not isinstance(base[key], MutableMapping):
                raise UnknownParamError(f"params.yaml's {dotted} is a value, not a section")
            merge_params(base[key], value, prefix=f"{dotted}.")
        else:
            base[key] = copy.deepcopy(value)
    return base


def nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys -> nested mappings: ``{"train.epochs": 2}`` -> ``{"train": {"epochs": 2}}``.

    The keys of ``dvc exp run -S KEY=VALUE``, for :func:`write_params`.
    """
    result: dict[str, Any] = {}
    for key, value in dotted.items():
        *sections, name = key.split(".")
        node = result
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return result


def write_params(root: str | Path, overrides: Mapping[str, Any] | None = None, *,
                 base: str | Path | None = None) -> dict[str, Any]:
    """Write ``<root>/params.yaml``: ``base`` with ``overrides`` merged in.

    Parameters
    ----------
    root : str or Path
        The workspace.
    overrides : mapping, optional
        Nested like params.yaml (:func:`merge_params`; :func:`nested` turns dotted keys into
        this). Keys params.yaml lacks are refused.
    base : str or Path, optional
        The params file to start from (default: the workspace's own ``params.yaml``).

    Returns
    -------
    dict
        The params written (key order kept; the comments of the original are not).

    Raises
    ------
    UnknownParamError
        From :func:`merge_params`, before anything is written.
    """
    path = Path(root) / PARAMS_FILE
    params = yaml.safe_load(Path(base or path).read_text())
    merge_params(params, overrides or {})
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def workspace_env(root: str | Path, *, identity: tuple[str, str] = IDENTITY,
                  environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of DVC, git and the stages in workspace ``root``.

    Parameters
    ----------
    root : str or Path
        The workspace.
    identity : (name, email)
        Author and committer of commits made with this environment.
    environ : mapping, optional
        The environment to start from (default: ``os.environ``).

    Returns
    -------
    dict
        ``environ`` with: this interpreter's ``bin/`` first on ``PATH`` (the ``dvc`` and
        ``python`` the stages' commands find), ``PYTHONPATH`` the workspace's ``src`` (the
        copy's code runs, not the installed package's), ``DVC_SITE_CACHE_DIR`` inside the
        workspace (``<root>/.cache/dvc-site``), ``DVC_NO_ANALYTICS=1``, the git author and
        committer variables, and :data:`CACHE_DEFAULTS` where ``environ`` has none.
    """
    root = Path(root)
    env = dict(os.environ if environ is None else environ)
    name, email = identity
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(root / "src"),
        DVC_SITE_CACHE_DIR=str(root / ".cache" / "dvc-site"),
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
    )
    use_repository_caches(env)
    return env


def run_checked(args: Sequence[str], cwd: str | Path, env: Mapping[str, str] | None = None, *,
                timeout: float | None = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
    """Run a command in a workspace, its output captured.

    Parameters
    ----------
    args : sequence of str
        The command (no shell).
    cwd : str or Path
        The workspace.
    env : mapping, optional
        Default: :func:`workspace_env` of ``cwd``.
    timeout : float or None
        Seconds; ``subprocess.TimeoutExpired`` when it runs longer.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as text.

    Raises
    ------
    CommandError
        When the command exits with another status than 0, with its output tail.
    """
    result = subprocess.run(list(args), cwd=cwd, env=dict(env or workspace_env(cwd)),
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise CommandError(args, result.returncode, result.stdout, result.stderr)
    return result


def git_commit(root: str | Path, message: str, env: Mapping[str, str] | None = None, *,
               allow_empty: bool = True) -> None:
    """Commit everything in ``root`` (``git add -A``), making it a repository first if needed
    (``git init -b main``).

    Parameters
    ----------
    root : str or Path
        The workspace.
    message : str
        The commit message.
    env : mapping, optional
        Default: :func:`workspace_env` of ``root`` (its identity is the commit's).
    allow_empty : bool
        Commit even when nothing changed (a ``dvc repro`` that ran nothing), so that a commit
        always marks the step.

    Raises
    ------
    CommandError
        When a git command fails.
    """
    root = Path(root)
    env = env or workspace_env(root)
    if not (root / ".git").is_dir():
        run_checked(["git", "init", "-q", "-b", "main"], root, env)
    run_checked(["git", "add", "-A"], root, env)
    run_checked(["git", "commit", "-q", *(["--allow-empty"] if allow_empty else []),
                 "-m", message], root, env)


def dvc_repro(root: str | Path, env: Mapping[str, str] | None = None, *,
              args: Sequence[str] = (), log: str | Path | None = None,
              timeout: float | None = DEFAULT_TIMEOUT) -> list[str]:
    """``dvc repro`` in ``root``, with this interpreter's DVC (``python -m dvc``).

    Parameters
    ----------
    root : str or Path
        A committed workspace (:func:`git_commit`).
    env : mapping, optional
        Default: :func:`workspace_env` of ``root``.
    args : sequence of str
        More ``dvc repro`` arguments (stage names, ``--force``, ...).
    log : str or Path, optional
        A file that receives the output as it comes (progress of a long run); otherwise the
        output is captured.
    timeout : float or None
        Seconds.

    Returns
    -------
    list of str
        The stages that ran, in order (a no-op repro: none).

    Raises
    ------
    CommandError
        When ``dvc repro`` fails, with its output tail (and the log file's name).
    """
    command = [sys.executable, "-m", "dvc", "repro", *args]
    env = dict(env or workspace_env(root))
    if log is None:
        output = run_checked(command, root, env, timeout=timeout).stdout
    else:
        log = Path(log)
        with log.open("w") as handle:
            status = subprocess.run(command, cwd=root, env=env, stdout=handle,
                                    stderr=subprocess.STDOUT, timeout=timeout).returncode
        output = log.read_text(errors="replace")
        if status != 0:
            raise CommandError(command, status, output, "", where=str(log))
    return RAN_STAGE.findall(output)


def fresh_clone(target: str | Path, overrides: Mapping[str, Any] | None = None, *,
                source: str | Path = REPO, identity: tuple[str, str] = IDENTITY,
                message: str = "a fresh clone") -> tuple[Path, dict[str, str]]:
    """A committed workspace holding what a fresh clone of ``source`` holds, with params
    ``overrides``: :func:`copy_clone_files`, :func:`write_params`, :func:`git_commit`.

    Parameters
    ----------
    target : str or Path
        The workspace folder (empty or missing).
    overrides : mapping, optional
        Nested params overrides (:func:`write_params`).
    source, identity, message
        See :func:`copy_clone_files`, :func:`workspace_env`, :func:`git_commit`.

    Returns
    -------
    (root, env)
        The workspace and its :func:`workspace_env`; run :func:`dvc_repro` next.
    """
    root = copy_clone_files(target, source=source)
    if overrides:  # otherwise params.yaml stays as the clone has it, comments included
        write_params(root, overrides)
    env = workspace_env(root, identity=identity)
    git_commit(root, message, env)
    return root, env
