"""Shared fixtures: small audio the tests write themselves (no GTZAN, no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench.workspace import (  # the one workspace builder, shared with bench/
    REPO,
    dvc_repro,
    fresh_clone,
    git_commit,
    merge_params,
    run_checked,
    use_repository_caches,
    workspace_env,
)

# numba (librosa) and matplotlib caches inside the project: CI starts with empty caches as root.
use_repository_caches()

__all__ = ["GIT", "REPO", "SR", "TINY", "merge_params", "run_checked", "tone", "workspace_env",
           "write_wav"]

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


# A pipeline small enough for tests: 80 clips of 3 s, 32 x 32 images, 2 epochs.
TINY = {
    "data": {"clip_seconds": 3.0},
    "synthetic": {"clips_per_genre": 8, "seconds": 3.0},
    "windows": {"seconds": 1.5, "overlap": 0.5},
    "images": {"height": 32, "width": 32},
    "train": {"epochs": 2, "batch_size": 32, "filters": 8},
    "evaluate": {"bootstrap": 100},
}
# The identity of the test workspaces' commits (CI has no git identity of its own).
IDENTITY = ("pipeline test", "test@example.invalid")
GIT = ["git", "-c", f"user.name={IDENTITY[0]}", "-c", f"user.email={IDENTITY[1]}"]


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory) -> tuple[Path, dict]:
    """A fresh clone of the repo with TINY params, after `dvc repro` and a commit of the run.

    Shared by the end-to-end tests; a test that changes it must leave it as it found it.
    """
    root, env = fresh_clone(tmp_path_factory.mktemp("repo"), TINY, identity=IDENTITY)
    dvc_repro(root, env, timeout=900)
    git_commit(root, "tiny run", env)
    return root, env
