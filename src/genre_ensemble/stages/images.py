"""Stage `images`: the window images of every clip, one array file per clip and representation
(stft, cqt, chroma)."""

from __future__ import annotations

import pandas as pd

from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import IMAGES_DIR, MANIFEST
from genre_ensemble.members.cnn.images import ImageJob, build_image_sets
from genre_ensemble.stages._common import logger, run_stage


def images(params: Params) -> None:
    manifest = pd.read_csv(MANIFEST, keep_default_na=False)
    indexes = build_image_sets(
        manifest,
        IMAGES_DIR,
        ImageJob.from_params(params),
        n_jobs=params.parallel.n_jobs,
        backend=params.parallel.backend,
    )
    for name, index in indexes.items():
        logger.info("%s: %d images of %d clips", name, len(index), index["track"].nunique())


def main() -> None:
    run_stage(images)


if __name__ == "__main__":
    main()
