"""Stage `embed@<member>` (the pretrained members): one pooled embedding per usable clip.

Usage: ``python -m genre_ensemble.stages.embed <member>`` (an entry of params ``pretrained``).

Opt-in: unless the member is in ``ensemble.members`` it writes a placeholder without clips
(DVC needs its declared output) and neither reads the weights nor imports TensorFlow.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from genre_ensemble.core.errors import AudioError, StageError
from genre_ensemble.core.params import Member, Params
from genre_ensemble.core.paths import CLIPS, embeddings_path
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.members.pretrained.embeddings import (
    EMBEDDING_KEYS,
    ClipEmbeddings,
    embed_clip,
    placeholder_embeddings,
    write_embeddings,
)
from genre_ensemble.members.pretrained.kind import pretrained_member
from genre_ensemble.members.pretrained.weights import MissingWeightsError, check_wheel, weights_dir
from genre_ensemble.stages._common import logger, run_stage


def clip_embeddings(usable: pd.DataFrame, member: Member, params: Params, *, weights: Path
                    ) -> ClipEmbeddings:
    """Embed every usable clip (``data/prepared/clips.csv``), decoded and cut as `features`
    does. The split is not read: `fit_embeddings` joins it, so a new split re-embeds nothing.

    A clip that cannot be decoded is left out with a warning (as in `features`).
    """
    clips = usable.to_dict("records")
    keys, vectors = [], []
    for clip in clips:  # one process: the network is built once and uses every core itself
        try:
            signal = load_clip(
                clip["path"], sample_rate=params.data.sample_rate, seconds=params.data.clip_seconds
            )
        except AudioError as error:
            logger.warning("no %s embedding for %s: %s", member.name, clip["track"], error)
            continue
        vectors.append(embed_clip(signal, sample_rate=params.data.sample_rate,
                                  settings=member.settings, weights_dir=weights))
        keys.append({column: clip[column] for column in EMBEDDING_KEYS})
    if not vectors:
        raise StageError(f"no clip of {CLIPS} could be decoded for the {member.name} member")
    return ClipEmbeddings(keys=pd.DataFrame(keys), vectors=np.stack(vectors))


def embed(params: Params, name: str) -> None:
    member = pretrained_member(params, name)
    target = embeddings_path(name)
    if name not in params.ensemble.members:
        write_embeddings(target, placeholder_embeddings())
        logger.info("%s is not in ensemble.members: placeholder %s", name, target)
        return
    weights = weights_dir()
    try:
        check_wheel(weights)
    except MissingWeightsError as error:
        raise StageError(str(error)) from error
    usable = pd.read_csv(CLIPS, keep_default_na=False)
    embeddings = clip_embeddings(usable, member, params, weights=weights)
    write_embeddings(target, embeddings)
    logger.info("%s (%s, %s): %d clips x %d values", name, member.settings.model,
                "+".join(member.settings.layers), *embeddings.vectors.shape)


def main() -> None:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m genre_ensemble.stages.embed <pretrained member>\n")
        sys.exit(2)
    run_stage(lambda params: embed(params, sys.argv[1]))


if __name__ == "__main__":
    main()
