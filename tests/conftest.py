"""Shared fixtures: small audio the tests write themselves (no GTZAN, no network)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

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
