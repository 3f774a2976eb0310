"""Stage `evaluate`: test-set metrics of every member and the ensemble (no TensorFlow).

Scores every member params.yaml declares whose stages predicted clips (an opt-in member left
out of the ensemble wrote an empty table), whatever its kind: it names no member.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from genre_ensemble.core.fileio import write_bytes, write_csv, write_json
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import (
    CONFUSION_FIGURE,
    DATA_METRICS,
    ENSEMBLE_PREDICTIONS,
    METRICS,
    PER_GENRE,
    TEST_CLIPS,
    predictions_path,
)
from genre_ensemble.core.tables import read_predictions
from genre_ensemble.evaluation.figures import confusion_png
from genre_ensemble.evaluation.metrics import (
    genre_confusion,
    metrics_record,
    per_genre_records,
    score_models,
    score_test_clips,
)
from genre_ensemble.evaluation.outcomes import ENSEMBLE, clip_outcomes
from genre_ensemble.stages._common import logger, run_stage


def member_tables(members: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The predictions of every member of ``members`` that ran: a missing file or a table
    without rows (the placeholder of an opt-in member left out of ensemble.members) is not a
    member's."""
    tables = {}
    for member in members:
        path = predictions_path(member)
        if path.is_file() and not (table := read_predictions(path)).empty:
            tables[member] = table
    return tables


def evaluate(params: Params) -> None:
    settings = params.evaluate
    tables = member_tables(list(params.members))
    ensemble_table = read_predictions(ENSEMBLE_PREDICTIONS)
    members = score_models(tables, bootstrap=settings.bootstrap, seed=settings.seed)
    ensemble = score_test_clips(ensemble_table, bootstrap=settings.bootstrap, seed=settings.seed)
    metrics = metrics_record(
        ensemble,
        members,
        members_in_ensemble=list(params.ensemble.members),
        data=json.loads(DATA_METRICS.read_text()),
    )
    write_json(METRICS, metrics)
    write_json(PER_GENRE, per_genre_records({**members, ENSEMBLE: ensemble}))
    write_csv(TEST_CLIPS, clip_outcomes({**tables, ENSEMBLE: ensemble_table}))
    write_bytes(
        CONFUSION_FIGURE,
        confusion_png(
            genre_confusion(ensemble.targets, ensemble.predicted, len(ensemble.labels)),
            labels=ensemble.labels,
            title=f"ensemble ({', '.join(params.ensemble.members)}), "
            f"test accuracy {ensemble.metrics['accuracy']:.1%}",
        ),
    )
    for name, values in [(ENSEMBLE, metrics["ensemble"]), *metrics["members"].items()]:
        logger.info(
            "%-9s accuracy %.3f [%.3f, %.3f]  macro F1 %.3f",
            name,
            values["accuracy"],
            values["accuracy_ci_low"],
            values["accuracy_ci_high"],
            values["f1"],
        )


def main() -> None:
    run_stage(evaluate)


if __name__ == "__main__":
    main()
