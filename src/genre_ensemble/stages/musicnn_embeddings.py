"""Stage `musicnn_embeddings`: one pooled pretrained-musicnn embedding per usable clip.

Opt-in: unless ``musicnn`` is in ``ensemble.members`` it writes a placeholder without clips
(DVC needs its declared output) and neither reads the weights nor imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genre_ensemble.audio import AudioError, load_clip
from genre_ensemble.members import MUSICNN_MEMBER
from genre_ensemble.musicnn_member import (
    ClipEmbeddings,
    embed_clip,
    placeholder_embeddings,
    write_embeddings,
)
from genre_ensemble.musicnn_weights import MissingWeightsError, check_wheel, weights_dir
from genre_ensemble.params import Params
from genre_ensemble.paths import MANIFEST, MUSICNN_EMBEDDINGS
from genre_ensemble.predictions import KEY_COLUMNS
from genre_ensemble.stages._common import StageError, logger, run_stage


def clip_embeddings(manifest: pd.DataFrame, params: Params, *, weights: Path
                    ) -> ClipEmbeddings:
    """Embed every clip of the manifest that has a split, decoded and cut as `features` does.

    A clip that cannot be decoded is left out with a warning (as in `features`).
    """
    clips = manifest[manifest["split"] != ""].to_dict("records")
    keys, vectors = [], []
    for clip in clips:  # one process: the network is built once and uses every core itself
        try:
            signal = load_clip(
                clip["path"], sample_rate=params.data.sample_rate, seconds=params.data.clip_seconds
            )
        except AudioError as error:
            logger.warning("no musicnn embedding for %s: %s", clip["track"], error)
            continue
        vectors.append(embed_clip(signal, sample_rate=params.data.sample_rate,
                                  settings=params.musicnn, weights_dir=weights))
        keys.append({column: clip[column] for column in KEY_COLUMNS})
    if not vectors:
        raise StageError(f"no clip of {MANIFEST} could be decoded for the musicnn member")
    return ClipEmbeddings(keys=pd.DataFrame(keys), vectors=np.stack(vectors))


def musicnn_embeddings(params: Params) -> None:
    if MUSICNN_MEMBER not in params.ensemble.members:
        write_embeddings(MUSICNN_EMBEDDINGS, placeholder_embeddings())
        logger.info("musicnn is not in ensemble.members: placeholder %s", MUSICNN_EMBEDDINGS)
        return
    weights = weights_dir()
    try:
        check_wheel(weights)
    except MissingWeightsError as error:
        raise StageError(str(error)) from error
    manifest = pd.read_csv(MANIFEST, keep_default_na=False)
    embeddings = clip_embeddings(manifest, params, weights=weights)
    write_embeddings(MUSICNN_EMBEDDINGS, embeddings)
    logger.info("musicnn (%s, %s): %d clips x %d values", params.musicnn.model,
                "+".join(params.musicnn.layers), *embeddings.vectors.shape)


def main() -> None:
    run_stage(musicnn_embeddings)


if __name__ == "__main__":
    main()
