"""Per-clip test outcomes of one run: what every model predicted for every test clip.

Every run of the pipeline writes them (``metrics/test_clips.csv``, git-tracked, stage
``evaluate``), so that two runs on the same fold can be compared clip by clip
(:mod:`genre_ensemble.experiments`). No TensorFlow here.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import pandas as pd

from genre_ensemble.core.splits import TEST
from genre_ensemble.core.tables import predicted_labels

# The name of the ensemble's column beside the members'.
ENSEMBLE = "ensemble"


def clip_outcomes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per test clip: its true genre and the genre each model predicted.

    Parameters
    ----------
    tables : mapping of str to pd.DataFrame
        Model name (a member or ``"ensemble"``) -> predictions table (columns ``track, genre,
        split`` and one probability per label, see :mod:`genre_ensemble.core.tables`). Rows
        may be in any order; they are aligned by ``track``.

    Returns
    -------
    pd.DataFrame
        Columns ``track``, ``genre`` and one column per model (in ``tables`` order) holding the
        predicted label (argmax of its probabilities); one row per test clip, sorted by track.

    Raises
    ------
    ValueError
        When the tables do not hold the same test clips with the same true genres.
    """
    if not tables:
        raise ValueError("no predictions tables given")
    outcomes = None
    for name, table in tables.items():
        test = table[table["split"] == TEST]
        if test["track"].duplicated().any():
            raise ValueError(f"{name}: a test track appears more than once")
        frame = pd.DataFrame(
            {
                "track": test["track"].to_numpy(),
                "genre": test["genre"].to_numpy(),
                name: predicted_labels(test),
            }
        ).set_index("track")
        if outcomes is None:
            outcomes = frame
            continue
        if set(frame.index) != set(outcomes.index):
            raise ValueError(f"{name}: its test clips differ from those of {next(iter(tables))}")
        frame = frame.loc[outcomes.index]
        if not frame["genre"].equals(outcomes["genre"]):
            raise ValueError(f"{name}: a test clip's true genre differs between tables")
        outcomes[name] = frame[name]
    return outcomes.sort_index().reset_index()


def read_outcomes(text: str) -> pd.DataFrame:
    """Parse the text of an outcomes file (as ``git show`` or ``dvc.api.read`` returns it)."""
    return pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
