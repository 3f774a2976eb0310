"""Atomic writes: every output appears whole (temp file in the same folder, then rename) or not at
all, so an interrupted stage never leaves a half-written file for DVC to cache.

Temporary files and folders are named ``.partial.<name>.<random>``: git and DVC ignore that
pattern (``.gitignore``, ``.dvcignore``), and :func:`remove_partials` clears what a killed
process left behind (every stage calls it when it starts).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

# Prefix of every temporary file or folder written here; ignored by git and DVC.
PARTIAL_PREFIX = ".partial."
# Floats in CSV tables: 6 significant digits, the precision every table is compared at.
CSV_FLOAT_FORMAT = "%.6g"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Works for a file or a folder written by any library. On error the temporary is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f"{PARTIAL_PREFIX}{path.name}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    temp.unlink()  # the writer creates it (some writers refuse an existing file)
    try:
        yield temp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(temp, path)
    finally:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        elif temp.exists():
            temp.unlink()


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as temp:
        frame.to_csv(temp, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(temp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as temp:
        writer(temp)


def remove_partials(roots: Iterable[str | Path], *, depth: int = 3) -> list[Path]:
    """Delete the temporaries that an interrupted write left under ``roots``.

    Only names starting with :data:`PARTIAL_PREFIX` are touched, at most ``depth`` folders
    below each root (outputs never sit deeper). Call it only when no other process writes
    there: DVC runs one stage at a time in a workspace.

    Returns
    -------
    list of Path
        What was removed.
    """
    removed = []
    for root in map(Path, roots):
        for level in range(depth + 1):
            for path in sorted(root.glob("/".join(["*"] * level + [f"{PARTIAL_PREFIX}*"]))):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
    return removed
