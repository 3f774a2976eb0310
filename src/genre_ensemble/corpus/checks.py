"""Check every clip of a corpus: can the pipeline decode and use it, and why not."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from genre_ensemble.core.errors import AudioError
from genre_ensemble.corpus.audio import decode, is_silent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipCheck:
    status: str
    reason: str
    duration: float
    sample_rate: int
    channels: int


def check_clip(path: str | Path) -> ClipCheck:
    """Decode one file fully and report whether the pipeline can use it."""
    try:
        signal, sr = decode(path)
    except AudioError as error:
        return ClipCheck("skipped", str(error), 0.0, 0, 0)
    if is_silent(signal):
        return ClipCheck("skipped", "silent: every sample is zero", signal.size / sr, sr, 1)
    try:
        import soundfile

        channels = soundfile.info(str(path)).channels
    except Exception:  # decoded by the audioread fallback: channel count unknown to libsndfile
        channels = 0
    return ClipCheck("ok", "", round(signal.size / sr, 3), sr, channels)


def build_manifest(clips: pd.DataFrame, *, progress: bool = True) -> pd.DataFrame:
    """Check every clip; damaged ones stay in the manifest with ``status='skipped'`` and reason.

    Returns
    -------
    pd.DataFrame
        ``clips`` plus columns status, reason, duration (s), sample_rate (Hz), channels.
    """
    checks = []
    for path in tqdm(clips["path"], desc="check clips", unit="clip", disable=not progress):
        check = check_clip(path)
        if check.status != "ok":
            logger.warning("skipping %s: %s", path, check.reason)
        checks.append(check.__dict__)
    return pd.concat([clips.reset_index(drop=True), pd.DataFrame(checks)], axis=1)
