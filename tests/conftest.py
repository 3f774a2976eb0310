"""Shared fixtures: small audio the tests write themselves (no GTZAN, no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

REPO = Path(__file__).resolve().parents[1]

# numba (librosa) and matplotlib caches inside the project: CI starts with empty caches as root.
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))
os.environ.setdefault("MPLCONFIGDIR", str(REPO / ".cache" / "matplotlib"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SR = 22050


def tone(frequency: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A pure sine at ``frequency`` Hz, amplitude 0.5."""
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def write_wav(path: Path, signal: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), signal, sr, subtype=subtype)
    return path


@pytest.fixture
def repo() -> Path:
    return REPO


def merge_params(base: dict, override: dict) -> dict:
    """``base`` updated in place with the nested mapping ``override`` (for params overrides)."""
    for key, value in override.items():
        if isinstance(value, dict):
            merge_params(base[key], value)
        else:
            base[key] = value
    return base


# What a fresh clone holds that the pipeline needs (generated data is not in git).
COPIED = [
    "src",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    ".dvc/config",
    ".dvcignore",
    ".gitignore",
    "data/splits",
    "data/params.checked",
    "data/gtzan/README.md",
]

# A pipeline small enough for tests: 80 clips of 3 s, 32 x 32 images, 2 epochs.
TINY = {
    "data": {"clip_seconds": 3.0},
    "synthetic": {"clips_per_genre": 8, "seconds": 3.0},
    "segments": {"seconds": 1.5, "overlap": 0.5},
    "images": {"height": 32, "width": 32},
    "train": {"epochs": 2, "batch_size": 32, "filters": 8},
    "evaluate": {"bootstrap": 100},
}

GIT = ["git", "-c", "user.name=pipeline test", "-c", "user.email=test@example.invalid"]


def run_checked(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """Run a command in a test workspace; fail the test with its output if it fails."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def workspace_env(root: Path) -> dict:
    """Environment for DVC and the stages in a test workspace (its own caches and identity)."""
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(root / "src"),
        DVC_SITE_CACHE_DIR=str(root / ".cache" / "dvc-site"),
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="pipeline test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="pipeline test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
    )
    return env


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory) -> tuple[Path, dict]:
    """A fresh clone of the repo with TINY params, after `dvc repro` and a commit of the run.

    Shared by the end-to-end tests; a test that changes it must leave it as it found it.
    """
    root = tmp_path_factory.mktemp("repo")
    for name in COPIED:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    params = merge_params(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = workspace_env(root)
    run_checked(["git", "init", "-q", "-b", "main"], root, env)
    run_checked([*GIT, "add", "-A"], root, env)
    run_checked([*GIT, "commit", "-q", "-m", "a fresh clone"], root, env)
    run_checked(["dvc", "repro"], root, env)
    run_checked([*GIT, "add", "-A"], root, env)
    run_checked([*GIT, "commit", "-q", "-m", "tiny run"], root, env)
    return root, env
