"""Expand the ``predict`` command's arguments into audio files: files, folders (searched
recursively for audio files) and glob patterns (``*``, ``?``, ``[...]``, ``**``)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genre_ensemble.corpus.audio import AUDIO_EXTENSIONS

_GLOB_CHARACTERS = frozenset("*?[")


@dataclass
class Expanded:
    """The files to classify, in order, and the arguments that named none (with why)."""

    files: list[str] = field(default_factory=list)
    unmatched: dict[str, str] = field(default_factory=dict)


def _audio_in(folder: Path, extensions: Sequence[str]) -> list[str]:
    suffixes = {suffix.lower() for suffix in extensions}
    return sorted(
        str(path) for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in suffixes
    )


def expand_inputs(
    arguments: Sequence[str], *, extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> Expanded:
    """The files the arguments name, each once, in argument order.

    Parameters
    ----------
    arguments : sequence of str
        A file is taken as it is, whatever its extension (a missing one too: it is reported
        as missing when classified); a folder gives its audio files (``extensions``, any case)
        at any depth, sorted; a pattern with ``*``, ``?`` or ``[`` that is not an existing
        file gives its sorted matches (``**`` matches folders at any depth), folders among
        them expanded like folders.
    extensions : sequence of str
        Suffixes of the audio files a folder gives.

    Returns
    -------
    Expanded
        ``unmatched`` maps a folder without audio files or a pattern without matches to the
        reason.
    """
    expanded = Expanded()
    seen: set[str] = set()

    def add(found: list[str]) -> None:
        for name in found:
            if name not in seen:
                seen.add(name)
                expanded.files.append(name)

    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = _audio_in(path, extensions)
            reason = "no audio files in this folder"
        elif _GLOB_CHARACTERS & set(argument) and not path.is_file():
            found = []
            for match in sorted(glob.glob(argument, recursive=True)):
                found.extend(_audio_in(Path(match), extensions) if Path(match).is_dir()
                             else [match])
            reason = "no file matches this pattern"
        else:
            found, reason = [argument], ""
        if found:
            add(found)
        else:
            expanded.unmatched[argument] = reason
    return expanded
