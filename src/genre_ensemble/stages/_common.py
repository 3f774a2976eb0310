"""What every stage entry point shares: logging, params loading, one-line failures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from genre_ensemble.core.errors import AudioError, DatasetError, StageError
from genre_ensemble.core.fileio import remove_partials
from genre_ensemble.core.params import Params, ParamsError
from genre_ensemble.core.paths import OUTPUT_ROOTS, PARAMS_FILE
from genre_ensemble.members.registry import load_params

logger = logging.getLogger("genre_ensemble")

__all__ = ["StageError", "logger", "run_stage", "setup_logging"]


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def run_stage(stage: Callable[[Params], None], params_path: str | Path = PARAMS_FILE) -> None:
    """Validate params.yaml, run ``stage`` with it, and turn known failures into one line.

    A wrong parameter or unusable input exits with status 2 and one sentence on stderr, no
    traceback, before the stage writes anything. Temporaries that an interrupted run left in
    the output folders are removed first.
    """
    setup_logging()
    try:
        params = load_params(params_path)
        for path in remove_partials(OUTPUT_ROOTS):
            logger.info("removed %s, left by an interrupted run", path)
        stage(params)
    except (ParamsError, DatasetError, AudioError, StageError) as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(2)
