"""Stage `features` (the descriptors member): hand-made audio descriptors for every window of
every usable clip."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from genre_ensemble.core.errors import AudioError
from genre_ensemble.core.fileio import write_csv
from genre_ensemble.core.parallel import parallel_map
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import FEATURES_TABLE, MANIFEST
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.members.descriptors.descriptors import window_features
from genre_ensemble.stages._common import logger, run_stage


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
                windows=params.windows,
                descriptors=params.features.descriptors,
            )
        )
    ]


def features(params: Params) -> None:
    manifest = pd.read_csv(MANIFEST, keep_default_na=False)
    clips = manifest[manifest["split"] != ""].to_dict("records")
    # absolute paths: cluster workers (backend dask) need not share this process's directory
    clips = [{**clip, "path": str(Path(clip["path"]).absolute())} for clip in clips]
    results = parallel_map(
        partial(_clip_rows, params=params),
        clips,
        n_jobs=params.parallel.n_jobs,
        backend=params.parallel.backend,
        desc="features",
    )
    rows = [row for clip_rows in results for row in clip_rows]
    table = pd.DataFrame(rows)
    write_csv(FEATURES_TABLE, table)
    logger.info("features: %d windows x %d descriptors", len(table), table.shape[1] - 4)


def main() -> None:
    run_stage(features)


if __name__ == "__main__":
    main()
