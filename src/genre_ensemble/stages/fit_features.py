"""Stage `fit_features`: the feature-based member's classifier and its val/test predictions."""

from __future__ import annotations

import joblib
import pandas as pd

from genre_ensemble.features import fit_predict
from genre_ensemble.fileio import write_with
from genre_ensemble.members import FEATURE_MEMBER
from genre_ensemble.params import Params
from genre_ensemble.paths import FEATURES_TABLE, model_path, predictions_path
from genre_ensemble.predictions import clip_probabilities, write_predictions
from genre_ensemble.splits import PREDICTED
from genre_ensemble.stages._common import logger, run_stage


def fit_features(params: Params) -> None:
    table = pd.read_csv(FEATURES_TABLE, keep_default_na=False)
    model, probabilities = fit_predict(table, params.features.classifier, params.features.seed)
    keep = table["split"].isin(PREDICTED).to_numpy()
    predictions = clip_probabilities(table[keep].reset_index(drop=True), probabilities[keep])
    write_with(model_path(FEATURE_MEMBER), lambda temp: joblib.dump(model, temp))
    write_predictions(predictions_path(FEATURE_MEMBER), predictions)
    logger.info(
        "features member (%s): %d clips predicted", params.features.classifier, len(predictions)
    )


def main() -> None:
    run_stage(fit_features)


if __name__ == "__main__":
    main()
