"""Stage `features`: hand-made audio descriptors for every window of every usable clip."""

from __future__ import annotations

import pandas as pd
from joblib import Parallel, delayed, parallel_config
from tqdm import tqdm

from genre_ensemble.audio import AudioError, load_clip
from genre_ensemble.features import window_features
from genre_ensemble.fileio import write_csv
from genre_ensemble.params import Params
from genre_ensemble.stages._common import FEATURES_TABLE, MANIFEST, logger, run_stage


def _clip_rows(row: dict, params: Params) -> list[dict]:
    try:
        signal = load_clip(
            row["path"], sample_rate=params.data.sample_rate, seconds=params.data.clip_seconds
        )
    except AudioError as error:
        logger.warning("no features for %s: %s", row["track"], error)
        return []
    keys = {"track": row["track"], "genre": row["genre"], "split": row["split"]}
    return [
        {**keys, "window": window, **values}
        for window, values in enumerate(
            window_features(
                signal,
                params.data.sample_rate,
                window_seconds=params.segments.seconds,
                overlap=params.segments.overlap,
            )
        )
    ]


def features(params: Params) -> None:
    manifest = pd.read_csv(MANIFEST, keep_default_na=False)
    clips = manifest[manifest["split"] != ""].to_dict("records")
    with parallel_config(backend=params.images.backend, n_jobs=params.images.n_jobs):
        results = Parallel(return_as="generator")(delayed(_clip_rows)(row, params) for row in clips)
        rows = [
            r
            for clip in tqdm(results, total=len(clips), desc="features", unit="clip")
            for r in clip
        ]
    table = pd.DataFrame(rows)
    write_csv(FEATURES_TABLE, table)
    logger.info("features: %d windows x %d descriptors", len(table), table.shape[1] - 4)


def main() -> None:
    run_stage(features)


if __name__ == "__main__":
    main()
