"""Atomic writes: every output appears whole (temp file in the same folder, then rename) or not at
all, so an interrupted stage never leaves a half-written file for DVC to cache."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Works for a file or a folder written by any library. On error the temporary is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent
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
        frame.to_csv(temp, index=False, float_format="%.6g", lineterminator="\n")


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(temp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as temp:
        writer(temp)
