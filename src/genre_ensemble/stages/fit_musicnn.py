"""Stage `fit_musicnn`: the musicnn member's classifier and its val/calib/test predictions.

Opt-in like `musicnn_embeddings`: unless ``musicnn`` is in ``ensemble.members`` it writes
placeholders (a model file holding ``None``, a predictions table without rows) that
`ensemble`, `evaluate` and predict never take for a member.
"""

from __future__ import annotations

import joblib

from genre_ensemble.fileio import write_with
from genre_ensemble.members import MUSICNN_MEMBER
from genre_ensemble.musicnn_member import classifier_table, placeholder_predictions, read_embeddings
from genre_ensemble.params import Params
from genre_ensemble.paths import MUSICNN_EMBEDDINGS, model_path, predictions_path
from genre_ensemble.predictions import clip_probabilities, write_predictions
from genre_ensemble.splits import PREDICTED
from genre_ensemble.stages._common import StageError, logger, run_stage


def fit_musicnn(params: Params) -> None:
    if MUSICNN_MEMBER not in params.ensemble.members:
        write_with(model_path(MUSICNN_MEMBER), lambda temp: joblib.dump(None, temp))
        write_predictions(predictions_path(MUSICNN_MEMBER), placeholder_predictions())
        logger.info("musicnn is not in ensemble.members: placeholder model and predictions")
        return
    from genre_ensemble.features import fit_predict  # librosa, scikit-learn: not for a no-op

    embeddings = read_embeddings(MUSICNN_EMBEDDINGS)
    if not len(embeddings):
        raise StageError(f"{MUSICNN_EMBEDDINGS} holds no clips: run `dvc repro` to embed them")
    table = classifier_table(embeddings)
    settings = params.musicnn
    model, probabilities = fit_predict(table, settings.classifier, settings.seed)
    keep = table["split"].isin(PREDICTED).to_numpy()
    predictions = clip_probabilities(table[keep].reset_index(drop=True), probabilities[keep])
    write_with(model_path(MUSICNN_MEMBER), lambda temp: joblib.dump(model, temp))
    write_predictions(predictions_path(MUSICNN_MEMBER), predictions)
    logger.info("musicnn member (%s): %d clips predicted", settings.classifier, len(predictions))


def main() -> None:
    run_stage(fit_musicnn)


if __name__ == "__main__":
    main()
