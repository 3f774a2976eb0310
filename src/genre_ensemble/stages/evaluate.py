"""Stage `evaluate`: test-set metrics of every member and the ensemble (no TensorFlow)."""

from __future__ import annotations

import json

import pandas as pd

from genre_ensemble.crossval import TEST_CLIPS, test_outcomes
from genre_ensemble.figures import confusion_png
from genre_ensemble.fileio import write_bytes, write_csv, write_json
from genre_ensemble.genres import GENRES
from genre_ensemble.metrics import classification_metrics, genre_confusion, per_genre_report
from genre_ensemble.params import MEMBERS, Params
from genre_ensemble.predictions import labels, probability_matrix, read_predictions
from genre_ensemble.stages._common import (
    CONFUSION_FIGURE,
    CONFUSION_TABLE,
    DATA_METRICS,
    ENSEMBLE_PREDICTIONS,
    METRICS,
    PER_GENRE,
    logger,
    predictions_path,
    run_stage,
)


def evaluate(params: Params) -> None:
    tables = {
        member: read_predictions(predictions_path(member))
        for member in MEMBERS
        if predictions_path(member).is_file()
    }
    tables["ensemble"] = read_predictions(ENSEMBLE_PREDICTIONS)
    data = json.loads(DATA_METRICS.read_text())
    results, per_genre = {}, {}
    for name, table in tables.items():
        test = table[table["split"] == "test"]
        targets = labels(test)
        predicted = probability_matrix(test).argmax(axis=1)
        results[name] = classification_metrics(
            targets, predicted, bootstrap=params.evaluate.bootstrap, seed=params.evaluate.seed
        )
        per_genre[name] = per_genre_report(targets, predicted)
        if name == "ensemble":
            confusion = genre_confusion(targets, predicted)
            pairs = pd.DataFrame(
                {
                    "actual": [GENRES[i] for i in targets],
                    "predicted": [GENRES[i] for i in predicted],
                }
            )
    metrics = {
        "ensemble": results.pop("ensemble"),
        "members": results,
        "members_in_ensemble": list(params.ensemble.members),
        "n_test": int(data["test"]),
        "n_skipped": int(data["skipped"]),
    }
    write_json(METRICS, metrics)
    write_json(PER_GENRE, per_genre)
    write_csv(TEST_CLIPS, test_outcomes(tables))  # per-clip outcomes: `compare` pairs runs by clip
    write_csv(CONFUSION_TABLE, pairs)
    write_bytes(
        CONFUSION_FIGURE,
        confusion_png(
            confusion,
            title=f"ensemble ({', '.join(params.ensemble.members)}), "
            f"test accuracy {metrics['ensemble']['accuracy']:.1%}",
        ),
    )
    for name, values in [("ensemble", metrics["ensemble"]), *results.items()]:
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
