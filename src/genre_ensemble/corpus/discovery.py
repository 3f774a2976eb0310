"""Find the clips of a corpus and their labels: the synthetic corpus, a GTZAN copy, or any
folder of labelled music.

Params ``data.source`` chooses (:data:`SOURCES`):

- ``synthetic``: the corpus stage's output, ``data/synthetic/<genre>/<genre>.000NN.wav``;
- ``gtzan``: a GTZAN copy at ``data.dir``, in either layout (``genres/<g>/<g>.000NN.au``, the
  original tarball, or ``genres_original/<g>/<g>.000NN.wav``, the Kaggle copy, also under
  ``Data/``), found by itself; every one of the ten genre folders must be there;
- ``folder``: any folder of ``<label>/<audio files>`` at ``data.dir``: each subfolder is a
  label (any name), its audio files at any depth below it are its clips. Two or more labels.

Every source gives the same table (track, genre, path); ``genre`` is the clip's label.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from genre_ensemble.core.errors import DatasetError
from genre_ensemble.core.labels import GTZAN_GENRES
from genre_ensemble.core.params import Choices, DataParams
from genre_ensemble.corpus.audio import AUDIO_EXTENSIONS

# Folders a GTZAN copy is found under, in order: the original tarball and the Kaggle copy.
GENRE_ROOT_CANDIDATES: tuple[str, ...] = (
    ".",
    "genres",
    "genres_original",
    "Data/genres_original",
    "gtzan/genres",
    "GTZAN/genres",
)
# What joins the folders of a clip's path below its label folder into its track name (track
# names are file names of the image store, so they hold no "/").
TRACK_SEPARATOR = "__"
CLIP_COLUMNS: tuple[str, ...] = ("track", "genre", "path")


def find_genre_root(root: str | Path) -> Path:
    """Return the folder whose sub-folders are GTZAN's genres.

    Both GTZAN layouts are recognised without being told which: ``genres/<g>/<g>.000NN.au``
    (the original) and ``genres_original/<g>/<g>.000NN.wav`` (the common Kaggle copy, also under
    ``Data/``), as well as ``<root>/<g>/...`` directly (the synthetic corpus).

    Raises
    ------
    DatasetError
        If no candidate folder holds any genre folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder; point params.yaml at a genre corpus")
    for candidate in GENRE_ROOT_CANDIDATES:
        folder = root / candidate
        if folder.is_dir() and any((folder / genre).is_dir() for genre in GTZAN_GENRES):
            return folder.resolve() if candidate != "." else folder
    raise DatasetError(
        f"{root}: no genre folders found (looked for {', '.join(GTZAN_GENRES[:3])}, ... "
        f"directly and under {', '.join(GENRE_ROOT_CANDIDATES[1:])}); point params.yaml at a "
        "GTZAN copy, or use data.source: folder for music labelled in other ways"
    )


def _audio_files(folder: Path, *, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(path for path in found
                  if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def list_clips(root: str | Path) -> pd.DataFrame:
    """List every audio file of a GTZAN-layout corpus (a GTZAN copy or the synthetic corpus).

    Parameters
    ----------
    root : str or Path
        A corpus folder in any layout accepted by :func:`find_genre_root`.

    Returns
    -------
    pd.DataFrame
        Columns ``track`` (file stem, e.g. ``jazz.00054``), ``genre``, ``path``; sorted by
        genre, then track. Non-audio files (by extension) are ignored.

    Raises
    ------
    DatasetError
        A genre folder is missing or empty, or a folder is named after no GTZAN genre.
    """
    genre_root = find_genre_root(root)
    unknown = sorted(
        entry.name
        for entry in genre_root.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in GTZAN_GENRES
    )
    if unknown:
        raise DatasetError(
            f"{genre_root / unknown[0]}: {unknown[0]!r} is not a GTZAN genre "
            f"({', '.join(GTZAN_GENRES)}); rename or remove that folder, or use data.source: "
            "folder"
        )
    rows = []
    for genre in GTZAN_GENRES:
        folder = genre_root / genre
        if not folder.is_dir():
            raise DatasetError(f"{folder}: genre folder missing; every one of the 10 is needed")
        files = _audio_files(folder, recursive=False)
        if not files:
            raise DatasetError(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
        rows += [{"track": path.stem, "genre": genre, "path": str(path)} for path in files]
    return pd.DataFrame(rows, columns=list(CLIP_COLUMNS))


def label_folders(root: str | Path) -> dict[str, Path]:
    """The label folders of a labelled-music folder: label -> folder, sorted by label.

    Raises
    ------
    DatasetError
        ``root`` is not a folder, or has fewer than two label folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder; point data.dir at a folder of "
                           "<label>/<audio files>")
    folders = {entry.name: entry for entry in sorted(root.iterdir())
               if entry.is_dir() and not entry.name.startswith(".")}
    if len(folders) < 2:
        found = f"only {next(iter(folders))!r}" if folders else "none"
        raise DatasetError(f"{root}: a labelled folder needs two or more label folders "
                           f"(<label>/<audio files>), found {found}; add a folder per label")
    return folders


def list_labelled_clips(root: str | Path) -> pd.DataFrame:
    """List every audio file of a labelled-music folder: ``<root>/<label>/**/<file>``.

    Returns
    -------
    pd.DataFrame
        Columns ``track`` (the path below the label folder without its suffix, folders joined
        by :data:`TRACK_SEPARATOR`, prefixed with the label: unique), ``genre`` (the label),
        ``path``; sorted by label, then path.

    Raises
    ------
    DatasetError
        See :func:`label_folders`; or a label folder holds no audio file (at any depth).
    """
    rows = []
    for label, folder in label_folders(root).items():
        files = _audio_files(folder, recursive=True)
        if not files:
            raise DatasetError(f"{folder}: label folder without audio files "
                               f"({', '.join(AUDIO_EXTENSIONS)}, at any depth); add clips or "
                               "remove it")
        for path in files:
            below = path.relative_to(folder).with_suffix("").parts
            rows.append({"track": TRACK_SEPARATOR.join((label, *below)), "genre": label,
                         "path": str(path)})
    return pd.DataFrame(rows, columns=list(CLIP_COLUMNS))


def _synthetic_clips(data: DataParams, synthetic_dir: Path) -> pd.DataFrame:
    return list_clips(synthetic_dir)


def _gtzan_clips(data: DataParams, synthetic_dir: Path) -> pd.DataFrame:
    return list_clips(data.dir)


def _folder_clips(data: DataParams, synthetic_dir: Path) -> pd.DataFrame:
    return list_labelled_clips(data.dir)


# params data.source -> (data settings, the synthetic corpus's folder) -> the corpus's clips
SOURCES: Choices[Callable[[DataParams, Path], pd.DataFrame]] = Choices("data.source", {
    "synthetic": _synthetic_clips,
    "gtzan": _gtzan_clips,
    "folder": _folder_clips,
})
# sources that read data.dir (the others do not need it to exist)
EXTERNAL_SOURCES: frozenset[str] = frozenset({"gtzan", "folder"})
# sources whose track names are GTZAN's, so that fixed lists (the fault-filtered split) apply
GTZAN_NAMED_SOURCES: frozenset[str] = frozenset({"synthetic", "gtzan"})


def corpus_clips(data: DataParams, *, synthetic_dir: str | Path) -> pd.DataFrame:
    """The clips of the corpus ``data.source`` selects (see the module docstring).

    Raises
    ------
    DatasetError
        Naming the folder and what is wrong with it.
    """
    return SOURCES.pick(data.source)(data, Path(synthetic_dir))


def check_corpus_folder(data: DataParams) -> None:
    """The folder ``data.dir`` names has the layout ``data.source`` needs (folder listings
    only; the clips themselves are checked by ``prepare``).

    Raises
    ------
    DatasetError
        Naming the folder and the fix.
    """
    if data.source == "gtzan":
        find_genre_root(data.dir)
    elif data.source == "folder":
        label_folders(data.dir)
