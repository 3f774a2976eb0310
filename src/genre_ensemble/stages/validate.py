"""Stage `validate`: check the whole params.yaml before DVC touches any other stage's outputs.

DVC deletes a stage's outputs before it runs the stage's command. Every other stage depends on
this one, so a wrong value stops `dvc repro` (and `dvc exp run`) here, with one sentence, while
the workspace is still exactly as it was. Its output's bytes never change, so passing this
stage reruns nothing downstream.

Beyond what every stage checks when it reads params.yaml (types, ranges, unknown keys), this
one checks every choice against the table that implements it (each member kind's through its
implementation, :mod:`genre_ensemble.members.predictors`), that what params.yaml points at
exists, and that no path a stage depends on (``${...}`` in dvc.yaml) is missing: DVC itself
would fail hashing it half-way through the run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from genre_ensemble.core.errors import DatasetError, StageError
from genre_ensemble.core.fileio import write_text
from genre_ensemble.core.parallel import check_backend
from genre_ensemble.core.params import Params, ParamsError, read_params
from genre_ensemble.core.paths import PARAMS_CHECKED, PARAMS_FILE, SPLIT_LISTS
from genre_ensemble.corpus.discovery import (
    EXTERNAL_SOURCES,
    GTZAN_NAMED_SOURCES,
    SOURCES,
    check_corpus_folder,
)
from genre_ensemble.corpus.duplicates import DUPLICATE_MODES
from genre_ensemble.corpus.splitting import (
    LISTED_METHODS,
    SPLIT_METHODS,
    check_split_sizes,
    fault_filtered_lists,
)
from genre_ensemble.evaluation.combine import check_method
from genre_ensemble.members.predictors import predictor_of
from genre_ensemble.stages._common import logger, run_stage

# Constant on purpose: a different text after every change would rerun every stage.
CHECKED_TEXT = (
    "params.yaml passed validation (stage `validate`). This file's content never changes;\n"
    "every other stage depends on it so that a wrong value stops `dvc repro` first.\n"
)
PIPELINE_FILE = Path("dvc.yaml")
INTERPOLATION = re.compile(r"^\$\{([^}]+)\}")
# The synthetic corpus's labels: its generator's ten genres.
SYNTHETIC_LABELS = 10


def check_choices(params: Params, *, root: Path) -> None:
    """Every choice of params.yaml is one its table knows, and what it needs is installed."""
    SOURCES.pick(params.data.source)
    SPLIT_METHODS.pick(params.split.method)
    DUPLICATE_MODES.pick(params.split.duplicates)
    check_backend(params.parallel.backend)
    check_method(params)
    kinds = {}
    for member in params.members.values():
        kinds.setdefault(member.kind, member)
    for member in kinds.values():
        predictor_of(member).check(params, root=root)


def check_inputs(params: Params) -> None:
    """What params.yaml points at exists: the corpus folder and the split lists it selects.

    Only folder listings: the clips themselves are checked by `prepare`.
    """
    data, split = params.data, params.split
    if data.source in EXTERNAL_SOURCES:
        try:
            check_corpus_folder(data)
        except DatasetError as error:
            raise StageError(f"params.yaml: data.dir: {error}") from error
    if split.method in LISTED_METHODS:
        if data.source not in GTZAN_NAMED_SOURCES:
            raise ParamsError("split.method", f"is {split.method!r}, which lists GTZAN's tracks, "
                              f"but data.source is {data.source!r}",
                              "use stratified or kfold")
        for path in fault_filtered_lists(SPLIT_LISTS).values():
            if not path.is_file():
                raise StageError(
                    f"params.yaml: split.method is {split.method!r} but {path} is missing; "
                    "restore it from git (git checkout data/splits) or use split.method: "
                    "stratified"
                )
    elif data.source == "synthetic":
        # the synthetic corpus's size is known now: a split too small for every label stops
        # here, before the corpus is generated
        try:
            check_split_sizes(
                params.synthetic.clips_per_genre * SYNTHETIC_LABELS,
                SYNTHETIC_LABELS,
                test_size=split.test_size,
                val_size=split.val_size,
                folds=split.folds if split.method == "kfold" else None,
            )
        except DatasetError as error:
            raise StageError(f"params.yaml: {error}") from error


def _lookup(raw: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return None
        raw = raw[part]
    return raw


def check_dependencies(raw_params: Any, *, pipeline: Path = PIPELINE_FILE) -> None:
    """No stage of ``pipeline`` depends on a path a setting names that does not exist.

    DVC hashes every dependency of a stage before it runs it, and stops the whole run, with the
    outputs it already removed, on a missing one, whatever the stage would have read: a
    ``${data.dir}`` dependency is hashed even when the synthetic source does not read it.

    Raises
    ------
    ParamsError
        Naming the setting, the stage and the fix.
    """
    if not pipeline.is_file():
        return
    stages = (yaml.safe_load(pipeline.read_text()) or {}).get("stages", {})
    for name, stage in stages.items():
        body = stage.get("do", stage) if isinstance(stage, dict) else {}
        for dep in body.get("deps", []) or []:
            match = INTERPOLATION.match(str(dep))
            if not match:
                continue
            key = match.group(1)
            value = _lookup(raw_params, key)
            if value is None:
                continue
            path = Path(str(dep).replace(match.group(0), str(value)))
            if not path.exists():
                raise ParamsError(
                    key, f"is {str(value)!r}, which does not exist, and stage {name} depends "
                    "on it (DVC hashes it whatever data.source is)",
                    "point it at an existing folder (the default, data/gtzan, always is)")


def validate(params: Params) -> None:
    root = Path.cwd()
    check_choices(params, root=root)
    check_inputs(params)
    check_dependencies(read_params(PARAMS_FILE))
    write_text(PARAMS_CHECKED, CHECKED_TEXT)
    logger.info("params.yaml is valid")


def main() -> None:
    run_stage(validate)


if __name__ == "__main__":
    main()
