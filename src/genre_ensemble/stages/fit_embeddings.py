"""Stage `fit_embeddings@<member>` (the pretrained members): the member's classifier and its
val / calib / test predictions (and out-of-fold train predictions with ``cross_fit``), on the
clips' embeddings with the manifest's split.

Usage: ``python -m genre_ensemble.stages.fit_embeddings <member>``.

Opt-in like `embed@<member>`: unless the member is in ``ensemble.members`` it writes
placeholders (a model file holding ``None``, a predictions table without rows) that
`ensemble`, `evaluate` and predict never take for a member.
"""

from __future__ import annotations

import sys

import joblib
import pandas as pd

from genre_ensemble.core.errors import StageError
from genre_ensemble.core.fileio import write_with
from genre_ensemble.core.labels import label_set
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import MANIFEST, embeddings_path, model_path, predictions_path
from genre_ensemble.core.splits import predicted_splits
from genre_ensemble.core.tables import clip_probabilities, empty_table, write_predictions
from genre_ensemble.members.pretrained.embeddings import classifier_table, read_embeddings
from genre_ensemble.members.pretrained.kind import KIND, pretrained_member
from genre_ensemble.stages._common import logger, run_stage


def fit_embeddings(params: Params, name: str) -> None:
    member = pretrained_member(params, name)
    model_file = model_path(name, KIND.model_suffix)
    if name not in params.ensemble.members:
        write_with(model_file, lambda temp: joblib.dump(None, temp))
        write_predictions(predictions_path(name), empty_table())
        logger.info("%s is not in ensemble.members: placeholder model and predictions", name)
        return
    from genre_ensemble.members.classifier import fit_predict  # scikit-learn: not for a no-op

    embeddings = read_embeddings(embeddings_path(name))
    if not len(embeddings):
        raise StageError(f"{embeddings_path(name)} holds no clips: run `dvc repro` to embed them")
    table = classifier_table(embeddings, pd.read_csv(MANIFEST, keep_default_na=False))
    labels = label_set(table["genre"])
    settings = member.settings
    model, probabilities = fit_predict(table, settings.classifier, settings.seed, labels,
                                       cross_fit=settings.cross_fit,
                                       key=f"pretrained.{name}.classifier")
    keep = table["split"].isin(predicted_splits(cross_fitted=settings.cross_fit > 0))
    keep = keep.to_numpy()
    predictions = clip_probabilities(table[keep].reset_index(drop=True), probabilities[keep],
                                     labels)
    write_with(model_file, lambda temp: joblib.dump(model, temp))
    write_predictions(predictions_path(name), predictions)
    logger.info("%s member (%s): %d clips predicted", name, settings.classifier,
                len(predictions))


def main() -> None:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m genre_ensemble.stages.fit_embeddings "
                         "<pretrained member>\n")
        sys.exit(2)
    run_stage(lambda params: fit_embeddings(params, sys.argv[1]))


if __name__ == "__main__":
    main()
