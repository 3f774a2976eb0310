"""Stage `ensemble`: combine the members' clip probabilities (no TensorFlow)."""

from __future__ import annotations

from genre_ensemble.ensemble import combine, learn_weights
from genre_ensemble.fileio import write_json
from genre_ensemble.params import Params
from genre_ensemble.paths import ENSEMBLE_METRICS, ENSEMBLE_PREDICTIONS, predictions_path
from genre_ensemble.predictions import read_predictions, write_predictions
from genre_ensemble.stages._common import StageError, logger, run_stage


def read_member_tables(members: tuple[str, ...]) -> dict:
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
        if table.empty:  # a member's opt-in stage wrote its placeholder (see musicnn_member)
            raise StageError(
                f"ensemble.members names {member!r} but {path} holds no predictions; run its "
                "stage (dvc repro) or remove it from ensemble.members"
            )
        tables[member] = table
    return tables


def ensemble(params: Params) -> None:
    settings = params.ensemble
    tables = read_member_tables(settings.members)
    if settings.method == "learned":
        weights = [float(w) for w in learn_weights(tables)]
    else:
        weights = list(settings.weights)
    write_predictions(ENSEMBLE_PREDICTIONS, combine(tables, weights))
    normalised = [w / sum(weights) for w in weights]
    write_json(
        ENSEMBLE_METRICS,
        {
            "method": settings.method,
            "weights": dict(zip(settings.members, normalised, strict=True)),
        },
    )
    logger.info(
        "ensemble (%s): %s",
        settings.method,
        ", ".join(f"{m}={w:.3f}" for m, w in zip(settings.members, normalised, strict=True)),
    )


def main() -> None:
    run_stage(ensemble)


if __name__ == "__main__":
    main()
