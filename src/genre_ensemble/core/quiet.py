"""Keep native libraries' chatter off the terminal.

libsndfile's MPEG decoder (mpg123) prints notes such as ``Note: Illegal Audio-MPEG-Header``
straight to file descriptor 2 when it probes a file that is not MPEG audio; Python's
``sys.stderr`` never sees them, so only redirecting the descriptor silences them.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_to_log(logger: logging.Logger) -> Iterator[None]:
    """Within the block, what anything writes to descriptor 2 goes to ``logger`` at DEBUG.

    Parameters
    ----------
    logger : logging.Logger
        Receives the captured text, one record per block (nothing when nothing was written).

    Notes
    -----
    Process-wide: other threads' writes to descriptor 2 during the block are captured too, so
    keep the block short (one decode). Python log records emitted inside the block are
    captured as well when their handler writes to stderr.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace").strip()
            if text:
                logger.debug("native stderr: %s", text)
