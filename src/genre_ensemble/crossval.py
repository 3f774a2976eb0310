"""Cross-validation runs as DVC experiments: per-clip test outcomes, and experiments -> variants.

Every run of the pipeline writes `TEST_CLIPS` (git-tracked), one row per test clip with the
genre each member and the ensemble predicted, so that two runs on the same fold can be compared
clip by clip. A cross-validation sweep is a set of DVC experiments that differ only in
``split.fold`` (see ``bench/ablation.py cv``); :func:`group_variants` gathers the experiments of
one or more sweeps into *variants*, each a long table of test outcomes with a ``replicate``
column naming the fold (and, with ``over``, e.g. the training seed) the row came from.

A variant's name is the experiment name prefix when its experiments are named ``<variant>-f<k>``
(as the sweep command names them); otherwise the params that set it apart from the other
variants, e.g. ``train.filters=32``. No TensorFlow here.
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from genre_ensemble.genres import GENRES
from genre_ensemble.paths import TEST_CLIPS
from genre_ensemble.predictions import probability_matrix

logger = logging.getLogger(__name__)

# Written by the evaluate stage, declared in dvc.yaml (cache: false, so git keeps each
# experiment's copy and `git show <rev>:metrics/test_clips.csv` reads it back).
PARAMS_FILE = "params.yaml"
FOLD_KEY = "split.fold"
REPLICATE = "replicate"
ENSEMBLE = "ensemble"
# `<variant>-f<k>`: how the sweep command names the experiment of fold k
FOLD_NAME = re.compile(r"^(?P<variant>.+)-f(?P<fold>\d+)$")


class CrossValError(Exception):
    """Experiments cannot be collected or compared; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Per-clip test outcomes of one run


def clip_outcomes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per test clip: its true genre and the genre each model predicted.

    Parameters
    ----------
    tables : mapping of str to pd.DataFrame
        Model name (a member or ``"ensemble"``) -> predictions table (columns ``track, genre,
        split`` and one probability per genre, see :mod:`genre_ensemble.predictions`). Rows may
        be in any order; they are aligned by ``track``.

    Returns
    -------
    pd.DataFrame
        Columns ``track``, ``genre`` and one column per model (in ``tables`` order) holding the
        predicted genre (argmax of its probabilities); one row per test clip, sorted by track.

    Raises
    ------
    ValueError
        When the tables do not hold the same test clips with the same true genres.
    """
    if not tables:
        raise ValueError("no predictions tables given")
    outcomes = None
    for name, table in tables.items():
        test = table[table["split"] == "test"]
        if test["track"].duplicated().any():
            raise ValueError(f"{name}: a test track appears more than once")
        predicted = probability_matrix(test).argmax(axis=1)
        frame = pd.DataFrame(
            {
                "track": test["track"].to_numpy(),
                "genre": test["genre"].to_numpy(),
                name: [GENRES[i] for i in predicted],
            }
        ).set_index("track")
        if outcomes is None:
            outcomes = frame
            continue
        if set(frame.index) != set(outcomes.index):
            raise ValueError(f"{name}: its test clips differ from those of {next(iter(tables))}")
        frame = frame.loc[outcomes.index]
        if not frame["genre"].equals(outcomes["genre"]):
            raise ValueError(f"{name}: a test clip's true genre differs between tables")
        outcomes[name] = frame[name]
    return outcomes.sort_index().reset_index()


def read_outcomes(text: str) -> pd.DataFrame:
    """Parse the text of a `TEST_CLIPS` file (as ``git show`` returns it)."""
    return pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)


# ---------------------------------------------------------------------------------------------
# Experiments


@dataclass(frozen=True)
class Experiment:
    """One finished run: a DVC experiment (or a git revision) with its params and outcomes.

    ``params`` are flattened to dotted keys (``{"split.fold": 3, ...}``); ``outcomes`` is its
    :func:`clip_outcomes` table, ``None`` when the run predates it.
    """

    name: str
    rev: str
    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    outcomes: pd.DataFrame | None = None


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params -> dotted keys: ``{"split": {"fold": 1}}`` -> ``{"split.fold": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def experiments_from_show(shown: Sequence[Mapping[str, Any]]) -> list[Experiment]:
    """The finished experiments in the output of ``dvc exp show --json`` (DVC 3).

    That output is a list of baseline revisions (the first is ``workspace``), each with an
    ``experiments`` list whose entries hold ``revs`` (the experiment commit with ``name``,
    ``rev`` and ``data.params`` / ``data.metrics``) and an ``executor`` (``null`` or a state
    such as ``queued``, ``running``, ``failed``, ``success``). Queued, running and failed
    experiments are left out; so are the baselines themselves.

    Returns
    -------
    list of Experiment
        In the order DVC lists them (newest first within a baseline), without outcomes.
    """
    found = []
    for baseline in shown:
        for entry in baseline.get("experiments") or []:
            state = (entry.get("executor") or {}).get("state", "success")
            revs = entry.get("revs") or []
            if state != "success" or not revs or revs[0].get("error"):
                continue
            rev = revs[0]
            data = rev.get("data") or {}
            params = (data.get("params") or {}).get(PARAMS_FILE, {}).get("data") or {}
            metrics = {
                path: values.get("data") or {}
                for path, values in (data.get("metrics") or {}).items()
            }
            found.append(
                Experiment(
                    name=rev.get("name") or entry.get("name") or rev["rev"][:7],
                    rev=rev["rev"],
                    params=flatten(params),
                    metrics=metrics,
                )
            )
    return found


def _command(root: Path, args: Sequence[str], *, check: bool = True) -> str | None:
    """Run a git / dvc command in ``root``; its stdout, or ``None`` when it fails unchecked."""
    try:
        result = subprocess.run(list(args), cwd=root, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise CrossValError(f"{args[0]} is not installed; compare needs git and dvc") from error
    if result.returncode == 0:
        return result.stdout
    if check:
        raise CrossValError(f"{' '.join(args)} failed: {result.stderr.strip()[-500:]}")
    return None


def git_show(root: Path, rev: str, path: Path | str) -> str | None:
    """The text of ``path`` at commit ``rev`` (``git show rev:path``), ``None`` when absent."""
    return _command(root, ["git", "show", f"{rev}:{Path(path).as_posix()}"], check=False)


def with_outcomes(root: Path, experiment: Experiment) -> Experiment:
    """``experiment`` with its `TEST_CLIPS` table read from its commit (or ``None``)."""
    text = git_show(root, experiment.rev, TEST_CLIPS)
    outcomes = read_outcomes(text) if text is not None else None
    return Experiment(experiment.name, experiment.rev, experiment.params, experiment.metrics,
                      outcomes)


def load_experiments(root: Path, *, all_commits: bool = False) -> list[Experiment]:
    """The finished DVC experiments of the repository at ``root``, with their outcomes.

    Parameters
    ----------
    root : Path
        A git + DVC repository.
    all_commits : bool
        Experiments of every commit (``dvc exp show -A``), not only those based on HEAD.
    """
    command = ["dvc", "exp", "show", "--json", *(["-A"] if all_commits else [])]
    shown = json.loads(_command(root, command) or "[]")
    experiments = [with_outcomes(root, experiment) for experiment in experiments_from_show(shown)]
    logger.info("found %d finished experiments", len(experiments))
    return experiments


def load_revision(root: Path, rev: str) -> Experiment | None:
    """A git revision (branch, tag, commit) as an :class:`Experiment`, ``None`` if unknown."""
    commit = _command(root, ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                      check=False)
    if commit is None:
        return None
    import yaml  # local: only git revisions need it (DVC hands experiments' params parsed)

    params_text = git_show(root, commit.strip(), PARAMS_FILE)
    params = flatten(yaml.safe_load(params_text) or {}) if params_text else {}
    return with_outcomes(root, Experiment(name=rev, rev=commit.strip(), params=params))


def variant_prefix(name: str) -> str | None:
    """``"paper"`` for an experiment named ``paper-f3``; ``None`` for other names."""
    match = FOLD_NAME.match(name)
    return match.group("variant") if match else None


def select_experiments(
    experiments: Iterable[Experiment], names: Sequence[str]
) -> list[Experiment]:
    """The experiments a command line names: by name, by sweep name or by commit prefix.

    ``paper`` selects ``paper`` and every ``paper-f<k>``; ``3fa9c21`` the experiment whose
    commit starts so. No names select everything.

    Raises
    ------
    CrossValError
        When a name matches no experiment.
    """
    experiments = list(experiments)
    if not names:
        return experiments

    def matches(experiment: Experiment, name: str) -> bool:
        return (
            experiment.name == name
            or variant_prefix(experiment.name) == name
            or (len(name) >= 7 and experiment.rev.startswith(name))
        )

    unmatched = [n for n in names if not any(matches(e, n) for e in experiments)]
    if unmatched:
        raise CrossValError(
            f"no finished experiment is named {', '.join(unmatched)} (see `dvc exp show`; "
            "a sweep's experiments are named NAME-f0, NAME-f1, ...)"
        )
    return [e for e in experiments if any(matches(e, n) for n in names)]


# ---------------------------------------------------------------------------------------------
# Variants


def _value_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def group_variants(
    experiments: Iterable[Experiment], *, over: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """Gather experiments into variants: same params except the fold (and the ``over`` keys).

    Parameters
    ----------
    experiments : iterable of Experiment
        With outcomes; an experiment without them is left out with a warning.
    over : sequence of str
        Further dotted params whose values are replicates of one variant rather than variants,
        e.g. ``("train.seed",)`` to pool a seed sweep.

    Returns
    -------
    dict of str to pd.DataFrame
        Variant name -> long outcomes table: the experiments' :func:`clip_outcomes` rows with a
        ``replicate`` column (e.g. ``"split.fold=2"`` or ``"split.fold=2,train.seed=1"``)
        first. When two experiments of a variant share a replicate, the first listed (the
        newest in ``dvc exp show`` order) is kept and the other reported.
    """
    replicate_keys = (FOLD_KEY, *over)
    groups: dict[str, list[Experiment]] = {}
    settings: dict[str, dict[str, Any]] = {}
    for experiment in experiments:
        if experiment.outcomes is None:
            logger.warning(
                "%s (%s) has no %s: it ran before per-clip outcomes were recorded; run it again",
                experiment.name, experiment.rev[:7], TEST_CLIPS,
            )
            continue
        fixed = {k: v for k, v in experiment.params.items() if k not in replicate_keys}
        key = _value_text(fixed)
        groups.setdefault(key, []).append(experiment)
        settings[key] = fixed
    names = _variant_names(groups, settings)
    return {names[key]: _long_outcomes(members, replicate_keys) for key, members in
            groups.items()}


def _long_outcomes(experiments: Sequence[Experiment], keys: Sequence[str]) -> pd.DataFrame:
    """Stack the outcomes of one variant's experiments with their replicate label."""
    frames, seen = [], {}
    for experiment in experiments:
        label = ",".join(f"{k}={_value_text(experiment.params.get(k))}" for k in keys)
        if label in seen:
            logger.warning("%s repeats %s of %s; using %s", experiment.name, label,
                           seen[label], seen[label])
            continue
        seen[label] = experiment.name
        frames.append(experiment.outcomes.assign(**{REPLICATE: label}))
    long = pd.concat(frames, ignore_index=True)
    return long[[REPLICATE, *[c for c in long.columns if c != REPLICATE]]]


def _variant_names(
    groups: Mapping[str, Sequence[Experiment]], settings: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Group key -> a readable, unique variant name (see the module docstring)."""
    keys = sorted({k for fixed in settings.values() for k in fixed})
    differing = [
        k for k in keys if len({_value_text(fixed.get(k)) for fixed in settings.values()}) > 1
    ]
    prefixes = {}
    for key, members in groups.items():
        found = {variant_prefix(e.name) for e in members}
        prefixes[key] = found.pop() if len(found) == 1 and None not in found else None
    names = {}
    for key in groups:
        described = ", ".join(f"{k}={_value_text(settings[key].get(k))}" for k in differing)
        prefix = prefixes[key]
        unique = prefix is not None and list(prefixes.values()).count(prefix) == 1
        if unique:
            names[key] = prefix
        elif prefix is not None:
            names[key] = f"{prefix} ({described})"
        else:
            names[key] = described or "all"
    return names
