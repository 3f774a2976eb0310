"""Labels: the classes a run learns, as data.

A corpus brings its own label set: GTZAN's ten genres, the synthetic corpus's ten (the same
names), or the folder names of a user's labelled music. The set is always ordered the same
way, sorted by name, so a class index means the same label in every table, model and metric
of a run, and two runs on the same corpus agree on it. GTZAN's genres are already in that
order, so :data:`GTZAN_GENRES` is both the default and what a sorted GTZAN copy gives.

Ground floor: imports nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# GTZAN's ten genres, in class-index order (sorted by name, as every label set is).
GTZAN_GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)


def label_set(values: Iterable[str]) -> tuple[str, ...]:
    """The ordered label set of the labels in ``values`` (each once, sorted by name).

    Parameters
    ----------
    values : iterable of str
        One label per clip (repeats allowed), e.g. a manifest's ``genre`` column.

    Returns
    -------
    tuple of str
        Sorted, without repeats; ``GTZAN_GENRES`` for any GTZAN copy that has all ten genres.
    """
    return tuple(sorted({str(value) for value in values}))


def label_index(labels: Sequence[str]) -> dict[str, int]:
    """Label -> class index for an ordered label set."""
    return {label: index for index, label in enumerate(labels)}
