"""Gather what one run left behind: the workspace's files or a git revision's.

A run is read from its git-tracked outputs (metrics, per-genre scores, ensemble confusion pairs,
training curves, params). The DVC-cached outputs (per-clip predictions, spectrogram images) are
read from the workspace when present, and for a revision from the local DVC cache
(:func:`genre_ensemble.experiments.runs.read_at`, DVC's public file system API). Whatever is
absent is recorded as a :class:`Missing` notice, so the page says what it cannot show and how
to get it. Nothing here names a member: a run's members are those its metrics score.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from genre_ensemble.core.paths import (
    DATA_METRICS,
    ENSEMBLE_METRICS,
    ENSEMBLE_PREDICTIONS,
    IMAGES_DIR,
    METRICS,
    PARAMS_FILE,
    PER_GENRE,
    SKIPPED_REPORT,
    TEST_CLIPS,
    TRAINING_LOGS,
    curve_path,
    image_folder,
    image_index,
    predictions_path,
)
from genre_ensemble.core.tables import KEY_COLUMNS, read_predictions
from genre_ensemble.evaluation.metrics import per_genre_by_model
from genre_ensemble.evaluation.outcomes import ENSEMBLE
from genre_ensemble.experiments.runs import RunsError, read_at, resolve_rev

logger = logging.getLogger(__name__)

__all__ = ["ENSEMBLE", "Missing", "ReportError", "Run", "load_rev", "load_workspace"]
CURVE_METRICS: tuple[str, ...] = ("loss", "accuracy")
# dvclive's folder names -> the names the page shows
CURVE_SPLITS: dict[str, str] = {"train": "train", "eval": "validation"}


class ReportError(Exception):
    """The report cannot be made; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Missing:
    """Something the page cannot show, and the command that would make it available."""

    run: str
    what: str
    effect: str
    fix: str


@dataclass
class Run:
    """Everything the page shows about one run (the workspace or one revision)."""

    label: str
    kind: str  # "workspace", "git" or "experiment"
    commit: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    ensemble: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    per_genre: dict[str, dict[str, dict[str, float]]] | None = None
    outcomes: pd.DataFrame | None = None  # per-clip test outcomes (metrics/test_clips.csv)
    curves: pd.DataFrame | None = None
    skipped: pd.DataFrame | None = None
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: list[Missing] = field(default_factory=list)
    # member -> its kind (genre_ensemble.members.base.MemberKind), from the run's params.yaml
    # as today's code reads it; empty for a run whose params.yaml it cannot read
    kinds: dict[str, Any] = field(default_factory=dict)

    def has(self, member: str, feature: str) -> bool:
        """Whether ``member``'s kind logs training curves (``"curves"``) or stores window
        images (``"images"``)."""
        return bool(getattr(self.kinds.get(member), feature, False))

    @property
    def has_results(self) -> bool:
        return self.metrics is not None

    @property
    def title(self) -> str:
        """The label, with the short commit when it is not the label itself."""
        if self.commit and not self.commit.startswith(self.label):
            return f"{self.label} ({self.commit[:7]})"
        return self.label

    def note(self, what: str, effect: str, fix: str) -> None:
        self.missing.append(Missing(self.label, what, effect, fix))

    @property
    def members_in_ensemble(self) -> list[str]:
        if self.metrics and self.metrics.get("members_in_ensemble"):
            return list(self.metrics["members_in_ensemble"])
        if self.ensemble and self.ensemble.get("weights"):
            return list(self.ensemble["weights"])
        return list(self.params.get("ensemble", {}).get("members", []))

    @property
    def members(self) -> list[str]:
        """Members with test metrics, in the pipeline's order (as evaluate wrote them)."""
        return list((self.metrics or {}).get("members", {}))

    @property
    def labels(self) -> list[str]:
        """The run's labels, in class-index order (from its per-label scores)."""
        scores = (self.per_genre or {}).get(ENSEMBLE) or next(iter((self.per_genre or {})
                                                                   .values()), {})
        return list(scores)


# ---------------------------------------------------------------------------------------------
# Where files come from


class Source:
    """Read files of one run by repository-relative path; ``None`` when absent."""

    def read_text(self, path: Path) -> str | None:
        raise NotImplementedError

    def read_cached(self, path: Path) -> str | None:
        """A DVC-cached output (not in git) as text, or ``None``."""
        raise NotImplementedError


class WorkspaceSource(Source):
    """The files on disk under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read_text(self, path: Path) -> str | None:
        full = self.root / path
        return full.read_text() if full.is_file() else None

    def read_cached(self, path: Path) -> str | None:
        return self.read_text(path)


class GitSource(Source):
    """The files of one commit: git-tracked ones, and DVC outputs from the local cache."""

    def __init__(self, root: Path, commit: str) -> None:
        self.root = root
        self.commit = commit

    def read_text(self, path: Path) -> str | None:
        return read_at(self.root, path, self.commit)

    def read_cached(self, path: Path) -> str | None:
        return read_at(self.root, path, self.commit)


# ---------------------------------------------------------------------------------------------
# Loading


def load_workspace(root: Path) -> Run:
    """The run whose outputs are in the working tree under ``root``."""
    run = Run(label="workspace", kind="workspace")
    load_run(run, WorkspaceSource(root))
    if run.has_results:
        run.images = read_image_indexes(root, run)
    return run


def load_rev(root: Path, rev: str) -> Run:
    """The run committed at ``rev`` (branch, tag, commit or DVC experiment name).

    Raises
    ------
    ReportError
        When ``rev`` is neither a git revision nor a DVC experiment here.
    """
    try:
        commit, kind = resolve_rev(root, rev)
    except RunsError as error:
        raise ReportError(f"--rev {error}") from error
    run = Run(label=rev, kind=kind, commit=commit)
    load_run(run, GitSource(root, commit))
    return run


def load_run(run: Run, source: Source) -> None:
    """Fill ``run`` from ``source`` and note what is missing."""
    where = "this workspace" if run.kind == "workspace" else f"{run.title}"
    params_text = source.read_text(PARAMS_FILE)
    run.params = (yaml.safe_load(params_text) or {}) if params_text else {}
    run.kinds = member_kinds(run.params)
    run.metrics = read_json(source, METRICS)
    if run.metrics is None:
        if run.kind == "workspace":
            run.note(str(METRICS), "no results of a run in this workspace: every section is empty",
                     "make run (or dvc repro) makes a run; "
                     "--rev shows a committed one")
        else:
            run.note(str(METRICS), f"{where} has no results: the commit holds no finished run",
                     f"run the pipeline on {run.label} (dvc repro) and commit, or pick "
                     f"another revision")
        return
    run.ensemble = read_json(source, ENSEMBLE_METRICS)
    run.data = read_json(source, DATA_METRICS)
    records = read_json(source, PER_GENRE)
    run.per_genre = None if records is None else per_genre_by_model(records)
    if run.per_genre is None:
        run.note(str(PER_GENRE), "per-genre F1 is not shown", "dvc repro evaluate")
    run.outcomes = read_csv(source.read_text(TEST_CLIPS))
    run.skipped = read_csv(source.read_text(SKIPPED_REPORT))
    run.curves = read_curves(run, source)
    run.predictions = read_all_predictions(run, source)


def member_kinds(params: dict[str, Any]) -> dict[str, Any]:
    """member -> kind of every member ``params`` (a params.yaml) declares; empty when today's
    code cannot read it (a run of an older version)."""
    from genre_ensemble.members.registry import kind_of, parse_params

    try:
        return {name: kind_of(member) for name, member in parse_params(params).members.items()}
    except Exception as error:  # ParamsError, or a layout this version does not know
        logger.debug("params of a run not read: %s", error)
        return {}


def read_json(source: Source, path: Path) -> Any:
    text = source.read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        logger.warning("%s is not valid JSON; ignored", path)
        return None


def read_csv(text: str | None) -> pd.DataFrame | None:
    if text is None:
        return None
    return pd.read_csv(io.StringIO(text), keep_default_na=False)


def read_curves(run: Run, source: Source) -> pd.DataFrame:
    """Long table of training curves: member, split, metric, epoch, value.

    A member whose kind logs curves but whose curves are not here is noted as missing.
    """
    frames = []
    absent = []
    for member in run.members:
        found = False
        for split, shown in CURVE_SPLITS.items():
            for metric in CURVE_METRICS:
                text = source.read_text(curve_path(member, split, metric))
                if text is None:
                    continue
                table = pd.read_csv(io.StringIO(text), sep="\t")
                if metric not in table or "step" not in table:
                    continue
                found = True
                frames.append(pd.DataFrame({
                    "run": run.title, "member": member, "split": shown, "metric": metric,
                    "epoch": table["step"].astype(int) + 1, "value": table[metric].astype(float),
                }))
        if not found and run.has(member, "curves"):
            absent.append(member)
    if absent:
        run.note(f"{TRAINING_LOGS}/<member>/plots/",
                 f"training curves of {', '.join(absent)} are not shown",
                 " ; ".join(f"dvc repro train@{m}" for m in absent))
    if not frames:
        return pd.DataFrame(columns=["run", "member", "split", "metric", "epoch", "value"])
    return pd.concat(frames, ignore_index=True)


def read_all_predictions(run: Run, source: Source) -> dict[str, pd.DataFrame]:
    """Per-clip test predictions of every scored member and of the ensemble."""
    wanted = {member: predictions_path(member) for member in run.members}
    wanted[ENSEMBLE] = ENSEMBLE_PREDICTIONS
    tables, absent = {}, []
    for name, path in wanted.items():
        text = source.read_cached(path)
        if text is None:
            absent.append(str(path))
            continue
        table = read_predictions(io.StringIO(text))
        tables[name] = table[table["split"] == "test"].reset_index(drop=True)
    if absent:
        effect = ("confusion matrices of the members and the example predictions are not shown"
                  if ENSEMBLE not in tables else
                  "some members' confusion matrices are not shown")
        if run.kind == "workspace":
            fix = "dvc pull (fetch from the DVC remote) or dvc repro (make them)"
        elif run.kind == "experiment":
            fix = (f"not in the local DVC cache: dvc exp pull <remote> {run.label}, or "
                   f"dvc exp apply {run.label} then dvc repro")
        else:
            fix = (f"not in the local DVC cache: git checkout {run.label} then dvc pull "
                   "(or dvc fetch --all-commits), or dvc repro there")
        run.note(", ".join(absent), effect, fix)
    return tables


def read_image_indexes(root: Path, run: Run) -> dict[str, pd.DataFrame]:
    """The image index (file, track, genre, split, window) of every member whose kind stores
    window images, in the workspace; those not here are noted as missing."""
    indexes, absent = {}, []
    for member in run.members:
        if not run.has(member, "images"):
            continue
        path = root / image_index(image_folder(member))
        if path.is_file():
            table = pd.read_csv(path, keep_default_na=False)
            if set(KEY_COLUMNS) | {"file", "window"} <= set(table.columns):
                indexes[member] = table
                continue
        absent.append(member)
    if absent:
        run.note(", ".join(f"{image_folder(rep)}/" for rep in absent),
                 "example images of these members are not shown",
                 f"dvc pull {IMAGES_DIR} (fetch) or dvc repro images (make them)")
    return indexes
