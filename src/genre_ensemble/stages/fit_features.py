"""Stage `fit_features` (the descriptors member): its classifier and its val / calib / test
predictions."""

from __future__ import annotations

import joblib
import pandas as pd

from genre_ensemble.core.fileio import write_with
from genre_ensemble.core.labels import label_set
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import FEATURES_TABLE, model_path, predictions_path
from genre_ensemble.core.splits import predicted_splits
from genre_ensemble.core.tables import clip_probabilities, write_predictions
from genre_ensemble.members.classifier import fit_predict
from genre_ensemble.members.descriptors.kind import KIND, MEMBER
from genre_ensemble.stages._common import logger, run_stage


def fit_features(params: Params) -> None:
    table = pd.read_csv(FEATURES_TABLE, keep_default_na=False)
    labels = label_set(table["genre"])
    settings = params.features
    model, probabilities = fit_predict(table, settings.classifier, settings.seed, labels,
                                       cross_fit=settings.cross_fit)
    keep = table["split"].isin(predicted_splits(cross_fitted=settings.cross_fit > 0))
    keep = keep.to_numpy()
    predictions = clip_probabilities(table[keep].reset_index(drop=True), probabilities[keep],
                                     labels)
    write_with(model_path(MEMBER, KIND.model_suffix), lambda temp: joblib.dump(model, temp))
    write_predictions(predictions_path(MEMBER), predictions)
    logger.info("%s member (%s): %d clips predicted", MEMBER, settings.classifier,
                len(predictions))


def main() -> None:
    run_stage(fit_features)


if __name__ == "__main__":
    main()
