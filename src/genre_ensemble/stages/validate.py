"""Stage `validate`: check the whole params.yaml before DVC touches any other stage's outputs.

DVC deletes a stage's outputs before it runs the stage's command. Every other stage depends on
this one, so a wrong value stops `dvc repro` (and `dvc exp run`) here, with one sentence, while
the workspace is still exactly as it was. Its output's bytes never change, so passing this
stage reruns nothing downstream.
"""

from __future__ import annotations

from genre_ensemble.dataset import (
    FAULT_FILTERED_LISTS,
    DatasetError,
    check_split_sizes,
    corpus_root,
    find_genre_root,
)
from genre_ensemble.fileio import write_text
from genre_ensemble.genres import N_CLASSES
from genre_ensemble.members import MUSICNN_MEMBER
from genre_ensemble.musicnn_weights import MissingWeightsError, check_wheel, weights_dir
from genre_ensemble.params import Params
from genre_ensemble.paths import PARAMS_CHECKED, SPLIT_LISTS, SYNTHETIC_DIR
from genre_ensemble.stages._common import StageError, logger, run_stage

# Constant on purpose: a different text after every change would rerun every stage.
CHECKED_TEXT = (
    "params.yaml passed validation (stage `validate`). This file's content never changes;\n"
    "every other stage depends on it so that a wrong value stops `dvc repro` first.\n"
)


def check_inputs(params: Params) -> None:
    """What params.yaml points at exists: the GTZAN copy and the split lists it selects, and
    the musicnn weights (present, pinned sha256) when musicnn is in ensemble.members.

    Only folder listings and one checksum: the clips themselves are checked by `prepare`.
    """
    if MUSICNN_MEMBER in params.ensemble.members:
        try:
            check_wheel(weights_dir())
        except MissingWeightsError as error:
            raise StageError(str(error)) from error
    if params.data.source == "gtzan":
        root = corpus_root(params.data, synthetic_dir=SYNTHETIC_DIR)
        try:
            find_genre_root(root)
        except DatasetError as error:
            raise StageError(f"params.yaml: data.gtzan_dir: {error}") from error
    if params.data.source == "synthetic" and params.split.method != "fault_filtered":
        # the synthetic corpus's size is known now: a split too small for every genre stops
        # here, before the corpus is generated
        split = params.split
        try:
            check_split_sizes(
                params.synthetic.clips_per_genre * N_CLASSES,
                N_CLASSES,
                test_size=split.test_size,
                val_size=split.val_size,
                folds=split.folds if split.method == "kfold" else None,
            )
        except DatasetError as error:
            raise StageError(f"params.yaml: {error}") from error
    if params.split.method == "fault_filtered":
        for name in FAULT_FILTERED_LISTS.values():
            path = SPLIT_LISTS / f"fault_filtered_{name}.txt"
            if not path.is_file():
                raise StageError(
                    f"params.yaml: split.method is 'fault_filtered' but {path} is missing; "
                    "restore it from git (git checkout data/splits) or use split.method: "
                    "stratified"
                )


def validate(params: Params) -> None:
    check_inputs(params)
    write_text(PARAMS_CHECKED, CHECKED_TEXT)
    logger.info("params.yaml is valid")


def main() -> None:
    run_stage(validate)


if __name__ == "__main__":
    main()
