"""Stage `ensemble`: combine the members' clip probabilities (no TensorFlow).

Works on the members' prediction tables only, whatever their kind: it names no member.
"""

from __future__ import annotations

import pandas as pd

from genre_ensemble.core.errors import StageError
from genre_ensemble.core.fileio import write_json
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import ENSEMBLE_METRICS, ENSEMBLE_PREDICTIONS, predictions_path
from genre_ensemble.core.tables import label_columns, read_predictions, write_predictions
from genre_ensemble.evaluation.combine import combine, ensemble_weights
from genre_ensemble.stages._common import logger, run_stage


def read_member_tables(members: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Each member's predictions table; a member whose stage produced nothing is an error."""
    tables = {}
    for member in members:
        path = predictions_path(member)
        if not path.is_file():
            raise StageError(
                f"ensemble.members names {member!r} but {path} does not exist; run its stage "
                f"(dvc repro) or remove it from ensemble.members"
            )
        table = read_predictions(path)
        if table.empty:  # an opt-in member's stage wrote its placeholder
            raise StageError(
                f"ensemble.members names {member!r} but {path} holds no predictions; run its "
                "stage (dvc repro) or remove it from ensemble.members"
            )
        tables[member] = table
    return tables


def ensemble(params: Params) -> None:
    settings = params.ensemble
    tables = read_member_tables(settings.members)
    try:
        weights = ensemble_weights(tables, settings)
    except ValueError as error:  # e.g. too few held-out clips to choose on
        raise StageError(f"ensemble.method {settings.method}: {error}") from error
    combined = combine(tables, weights.values)
    write_predictions(ENSEMBLE_PREDICTIONS, combined)
    normalised = [w / sum(weights.values) for w in weights.values]
    record = {
        "method": settings.method,
        "weights": dict(zip(settings.members, normalised, strict=True)),
        **weights.record,
        "labels": list(label_columns(combined)),  # what predict and the service answer with
    }
    write_json(ENSEMBLE_METRICS, record)
    logger.info(
        "ensemble (%s%s): %s",
        settings.method,
        f", chose {weights.record['selection']['chosen']}" if "selection" in weights.record
        else "",
        ", ".join(f"{m}={w:.3f}" for m, w in zip(settings.members, normalised, strict=True)),
    )


def main() -> None:
    run_stage(ensemble)


if __name__ == "__main__":
    main()
