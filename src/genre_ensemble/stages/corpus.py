"""Stage `corpus`: generate the embedded synthetic genre corpus (GTZAN layout, mono wav)."""

from __future__ import annotations

from genre_ensemble.core.fileio import atomic_path
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import SYNTHETIC_DIR
from genre_ensemble.stages._common import logger, run_stage


def corpus(params: Params) -> None:
    from genre_ensemble.corpus.synthetic import write_corpus

    settings = params.synthetic
    if params.data.source != "synthetic":
        # DVC needs the output to exist, but a GTZAN run has no use for generated audio
        with atomic_path(SYNTHETIC_DIR) as temp:
            temp.mkdir()
            (temp / "NOT_GENERATED.txt").write_text(
                f"data.source is {params.data.source!r}: no synthetic corpus generated.\n"
            )
        logger.info("data.source is %s: synthetic corpus not generated", params.data.source)
        return
    with atomic_path(SYNTHETIC_DIR) as temp:
        paths = write_corpus(
            temp,
            clips_per_genre=settings.clips_per_genre,
            seconds=settings.seconds,
            sr=params.data.sample_rate,
            seed=settings.seed,
            difficulty=settings.difficulty,
            n_jobs=params.parallel.n_jobs,
        )
    logger.info("wrote %d synthetic clips to %s", len(paths), SYNTHETIC_DIR)


def main() -> None:
    run_stage(corpus)


if __name__ == "__main__":
    main()
