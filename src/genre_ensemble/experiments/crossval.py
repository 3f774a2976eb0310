"""Cross-validation sweeps as DVC experiments: experiments -> variants.

Every run of the pipeline writes its per-clip test outcomes
(:mod:`genre_ensemble.evaluation.outcomes`), so that two runs on the same fold can be compared
clip by clip. A cross-validation sweep is a set of DVC experiments that differ only in
``split.fold`` (``genre-ensemble sweep``, :mod:`.sweeps`); :func:`group_variants` gathers the
experiments of one or more sweeps into *variants*, each a long table of test outcomes with a
``replicate`` column naming the fold (and, with ``over``, e.g. the training seed) the row came
from.

A variant's name is the experiment name prefix when its experiments are named ``<variant>-f<k>``
(as the sweep command names them); otherwise the params that set it apart from the other
variants, e.g. ``train.filters=32``. No TensorFlow here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from genre_ensemble.core.paths import TEST_CLIPS
from genre_ensemble.experiments.runs import Experiment

logger = logging.getLogger(__name__)

FOLD_KEY = "split.fold"
REPLICATE = "replicate"
# `<variant>-f<k>`: how the sweep command names the experiment of fold k
FOLD_NAME = re.compile(r"^(?P<variant>.+)-f(?P<fold>\d+)$")


class CrossValError(Exception):
    """Experiments cannot be collected or compared; the message says why and what to do."""


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
