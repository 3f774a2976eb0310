"""What ``GET /health`` says about the models: which commit of the workspace they belong to,
whether they are the files that commit's ``dvc.lock`` names, and the metrics of that run."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import yaml

from genre_ensemble.core.paths import ENSEMBLE_METRICS, LOCK_FILE, METRICS, model_path
from genre_ensemble.inference.loading import LoadedMembers
from genre_ensemble.members.registry import kind_of

logger = logging.getLogger(__name__)

# Metrics shown per model (from metrics/metrics.json).
SHOWN_METRICS = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1", "n")


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _locked_md5s(lock: Path) -> dict[str, str]:
    """path -> md5 of every output dvc.lock records (empty when there is no readable lock)."""
    try:
        stages = yaml.safe_load(lock.read_text()).get("stages", {})
    except (OSError, AttributeError, yaml.YAMLError):
        return {}
    found = {}
    for stage in stages.values():
        for out in stage.get("outs", []) or []:
            if isinstance(out, dict) and "path" in out and "md5" in out:
                found[str(out["path"])] = str(out["md5"])
    return found


def model_info(root: Path, models_dir: Path, members: LoadedMembers) -> dict[str, Any]:
    """The models' provenance and metrics, computed once at start.

    Parameters
    ----------
    root : Path
        The workspace (the folder of params.yaml).
    models_dir : Path
        Where the members were loaded from.
    members : LoadedMembers

    Returns
    -------
    dict
        ``commit`` (the workspace's git HEAD, None outside git), ``lock_committed`` (dvc.lock and
        metrics/ensemble.json unchanged since that commit), ``models_match_lock`` (every
        member's file is the one dvc.lock records), ``members`` (weight, file, md5, matches),
        ``metrics`` (the run's test metrics from metrics/metrics.json, None when missing).
    """
    locked = _locked_md5s(root / LOCK_FILE)
    described = {}
    for name, weight in members.weights.items():
        path = model_path(name, kind_of(members.members[name]).model_suffix,
                          models_dir=models_dir)
        md5 = _md5(path)
        try:
            key = str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            key = str(path)
        described[name] = {"weight": weight, "file": key, "md5": md5,
                           "matches_lock": locked.get(key) == md5}
    commit = _git(root, "rev-parse", "HEAD")
    changed = _git(root, "status", "--porcelain", "--", str(LOCK_FILE), str(ENSEMBLE_METRICS))
    metrics = None
    metrics_path = root / METRICS
    if metrics_path.is_file():
        try:
            raw = json.loads(metrics_path.read_text())
            metrics = {"ensemble": {k: raw["ensemble"].get(k) for k in SHOWN_METRICS},
                       "members": {name: {k: values.get(k) for k in SHOWN_METRICS}
                                   for name, values in raw.get("members", {}).items()}}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            logger.warning("%s is not the evaluate stage's output (%s)", metrics_path, error)
    return {
        "commit": commit,
        "lock_committed": commit is not None and changed == "",
        "models_match_lock": bool(described) and all(m["matches_lock"]
                                                      for m in described.values()),
        "members": described,
        "metrics": metrics,
    }
