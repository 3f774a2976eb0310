"""A file's labels over time: the per-clip table of a
:class:`~genre_ensemble.inference.classify.Prediction`.

Every clip of a file (``data.clip_seconds`` long, cut as ``predict`` cuts them, see
:func:`genre_ensemble.inference.inputs.cut_clips`) has its own row: its start and end, the
ensemble's probability of every label and each member's top label. The rows come from the very
computation that gives the file's answer (:func:`genre_ensemble.inference.classify.
predict_batch`), clip by clip; nothing is classified a second time here. The label names are
the prediction's own (:attr:`Prediction.labels`: the run's recorded label set).

- :func:`timeline_table` / :func:`timeline_records`: the rows, as a table or JSON-ready dicts;
- :func:`genre_segments` / :func:`format_segments`: stretches of one top label (``0:00-1:30
  blues``), for the terminal;
- :func:`write_timeline`: CSV or JSON by the suffix, for one or several files;
- :func:`plot_timeline`: the label probabilities over time as a stacked area (PNG).

A tail clip ends at the file's end and so starts inside the clip before it; a silent clip is
left out (a gap in the rows). Segments and the plot show each clip from where the one before
ends, and a gap as silence. Nothing heavy is imported with this module.
"""

from __future__ import annotations

import colorsys
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from genre_ensemble.inference.classify import Prediction

# A gap between two clips shorter than this (seconds) is float rounding, not silence.
GAP_SECONDS = 1e-6
# Suffixes write_timeline knows.
TABLE_SUFFIXES = (".csv", ".json")
SILENT = "silent"
# Label colours, in label order: matplotlib's tab10, then tab20's lighter shades of the same,
# then hues a golden angle apart. The service's page (service/page.html) uses the same rule.
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
         "#7f7f7f", "#bcbd22", "#17becf")
TAB20_LIGHT = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
               "#c7c7c7", "#dbdb8d", "#9edae5")
# Legend columns of the plot, at most.
LEGEND_COLUMNS = 10


class TimelineError(Exception):
    """A timeline cannot be written as asked; the message is one sentence for the user."""


@dataclass(frozen=True)
class Segment:
    """Consecutive clips with the same top label (``genre`` :data:`SILENT` for a gap).

    ``start`` and ``end`` are seconds of the file; ``probability`` is the mean ensemble
    probability of ``genre`` over the segment's clips (0 for a gap).
    """

    start: float
    end: float
    genre: str
    clips: int
    probability: float


def label_colour(index: int) -> str:
    """The colour (``#rrggbb``) of the label at ``index`` (see :data:`TAB10`)."""
    if index < len(TAB10):
        return TAB10[index]
    if index < len(TAB10) + len(TAB20_LIGHT):
        return TAB20_LIGHT[index - len(TAB10)]
    hue = (index * 137.508) % 360 / 360
    red, green, blue = colorsys.hls_to_rgb(hue, 0.5, 0.55)
    return "#" + "".join(f"{round(255 * c):02x}" for c in (red, green, blue))


def format_time(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from one hour on), seconds rounded down; ``?`` when unknown."""
    if not math.isfinite(seconds):
        return "?"
    whole = int(seconds + 1e-6)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _top_labels(probabilities: np.ndarray) -> list[int]:
    """Index of the most probable label of each row (ties: the first, as ``Prediction.top``)."""
    return [int(np.argsort(-row, kind="stable")[0]) for row in probabilities]


def shown_spans(spans: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """Where each clip is shown: from its start, or from the end of the clip before when they
    overlap (a tail clip), to its end.

    Parameters
    ----------
    spans : sequence of (start, end) or np.ndarray, shape (n_clips, 2)
        Start and end seconds, clips in order (:attr:`Prediction.spans`).

    Returns
    -------
    np.ndarray, shape (n_clips, 2)
    """
    shown = np.array(spans, dtype=np.float64, copy=True).reshape(-1, 2)
    for k in range(1, len(shown)):
        shown[k, 0] = max(shown[k, 0], shown[k - 1, 1])
    return shown


def timeline_table(prediction: Prediction) -> pd.DataFrame:
    """The per-clip table of one file.

    Parameters
    ----------
    prediction : Prediction
        From :func:`genre_ensemble.inference.classify.predict_batch` (or ``classify_file``).

    Returns
    -------
    pandas.DataFrame, one row per clip in order
        ``clip`` (0, 1, ...), ``start`` and ``end`` (seconds of the file), ``genre`` and
        ``probability`` (the ensemble's top label), one column per label of
        ``prediction.labels`` (the ensemble's probability), ``<member>_genre`` (each member's
        top label for that clip).
    """
    import pandas as pd

    return pd.DataFrame(_rows(prediction))


def _rows(prediction: Prediction) -> list[dict[str, Any]]:
    labels = prediction.labels
    ensemble = prediction.clip_ensemble
    top = _top_labels(ensemble)
    member_top = {name: _top_labels(rows) for name, rows in prediction.clip_members.items()}
    rows = []
    for k, (start, end) in enumerate(prediction.spans):
        row: dict[str, Any] = {"clip": k, "start": float(start), "end": float(end),
                               "genre": labels[top[k]], "probability": float(ensemble[k, top[k]])}
        row.update({label: float(p) for label, p in zip(labels, ensemble[k], strict=True)})
        row.update({f"{name}_genre": labels[tops[k]] for name, tops in member_top.items()})
        rows.append(row)
    return rows


def timeline_records(prediction: Prediction, *, digits: int | None = 6) -> list[dict[str, Any]]:
    """The per-clip rows as JSON-ready dicts: ``clip``, ``start``, ``end``, ``genre``,
    ``probability``, ``probabilities`` (label -> ensemble probability) and ``members``
    (member -> top label); probabilities rounded to ``digits`` (None: as computed), times to
    milliseconds."""

    def rounded(value: float) -> float:
        return value if digits is None else round(value, digits)

    records = []
    for row in _rows(prediction):
        records.append({
            "clip": row["clip"],
            "start": round(row["start"], 3),
            "end": round(row["end"], 3),
            "genre": row["genre"],
            "probability": rounded(row["probability"]),
            "probabilities": {label: rounded(row[label]) for label in prediction.labels},
            "members": {name: row[f"{name}_genre"] for name in prediction.clip_members},
        })
    return records


def genre_segments(prediction: Prediction) -> list[Segment]:
    """Stretches of consecutive clips with the same ensemble top label, and silent gaps.

    Each clip counts from where the clip before it ends (see :func:`shown_spans`); a gap
    left by a skipped silent clip is a :data:`SILENT` segment.

    Returns
    -------
    list of Segment, in time order
    """
    ensemble = prediction.clip_ensemble
    if not len(ensemble):
        return []
    shown = shown_spans(prediction.spans)
    top = _top_labels(ensemble)
    segments: list[Segment] = []
    members: list[int] = []

    def close() -> None:
        if members:
            label = top[members[0]]
            probability = float(np.mean([ensemble[k, label] for k in members]))
            segments.append(Segment(float(shown[members[0], 0]), float(shown[members[-1], 1]),
                                    prediction.labels[label], len(members), probability))
            members.clear()

    for k in range(len(ensemble)):
        gap = k > 0 and shown[k, 0] - shown[k - 1, 1] > GAP_SECONDS
        if members and (gap or top[k] != top[members[0]]):
            close()
        if gap:
            segments.append(Segment(float(shown[k - 1, 1]), float(shown[k, 0]), SILENT, 0, 0.0))
        members.append(k)
    close()
    return segments


def format_segments(segments: Sequence[Segment]) -> list[str]:
    """One line per segment: ``0:00-1:30 blues (61 %, 9 clips)``."""
    lines = []
    for segment in segments:
        span = f"{format_time(segment.start)}-{format_time(segment.end)}"
        if segment.genre == SILENT and segment.clips == 0:
            lines.append(f"{span} {SILENT} (skipped)")
        else:
            clips = f"{segment.clips} clip{'s' if segment.clips != 1 else ''}"
            lines.append(f"{span} {segment.genre} ({segment.probability:.0%}, {clips})")
    return lines


def segment_records(prediction: Prediction) -> list[dict[str, Any]]:
    """:func:`genre_segments` as JSON-ready dicts (start, end, genre, clips, probability)."""
    return [{"start": round(s.start, 3), "end": round(s.end, 3), "genre": s.genre,
             "clips": s.clips, "probability": round(s.probability, 6)}
            for s in genre_segments(prediction)]


def check_timeline_path(path: Path) -> None:
    """Raise :class:`TimelineError` unless ``path``'s suffix is one :func:`write_timeline`
    writes (checked before any file is classified)."""
    if Path(path).suffix.lower() not in TABLE_SUFFIXES:
        raise TimelineError(
            f"--timeline {path}: the suffix must be .csv or .json (it decides the format)"
        )


def write_timeline(path: str | Path, predictions: Sequence[tuple[str, Prediction]], *,
                   labels: Sequence[str] = ()) -> Path:
    """Write the per-clip rows of every file: CSV (``.csv``) or JSON (``.json``).

    Parameters
    ----------
    path : str or Path
        Where to write; its suffix chooses the format.
    predictions : sequence of (file name, Prediction)
        In the order to write them.
    labels : sequence of str
        The label columns of an empty CSV table (no file classified); otherwise each
        prediction's own labels are used.

    Returns
    -------
    Path

    Notes
    -----
    CSV: :func:`timeline_table`'s columns with ``file`` first, one row per clip of every file.
    JSON: ``{"files": [{"file", "seconds", "top", "clips": [...], "segments": [...]}]}`` with
    :func:`timeline_records` as clips and :func:`segment_records` as segments.
    """
    from genre_ensemble.core.fileio import write_csv, write_text

    path = Path(path)
    check_timeline_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        import pandas as pd

        tables = [timeline_table(p).assign(file=name) for name, p in predictions]
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
            columns=["clip", "start", "end", "genre", "probability", *labels])
        columns = ["file", *[c for c in table.columns if c != "file"]]
        table = table.reindex(columns=columns)
        table[["start", "end"]] = table[["start", "end"]].astype(float).round(3)
        write_csv(path, table.round(6))
    else:
        documents = [{
            "file": name,
            "seconds": round(p.seconds, 3),
            "top": [{"genre": g, "probability": round(v, 6)} for g, v in p.top(3)],
            "clips": timeline_records(p),
            "segments": segment_records(p),
        } for name, p in predictions]
        write_text(path, json.dumps({"files": documents}, indent=2) + "\n")
    return path


def _stairs(shown: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of a piecewise-constant curve: each clip's value over its shown span, 0 in gaps."""
    xs: list[float] = []
    ys: list[np.ndarray] = []
    zero = np.zeros(values.shape[1])
    for k, (start, end) in enumerate(shown):
        if k and start - shown[k - 1, 1] > GAP_SECONDS:
            xs += [shown[k - 1, 1], start]
            ys += [zero, zero]
        xs += [start, end]
        ys += [values[k], values[k]]
    return np.asarray(xs), np.stack(ys, axis=1)


def plot_timeline(path: str | Path, predictions: Sequence[tuple[str, Prediction]]) -> Path:
    """Draw the ensemble's label probabilities over time, one stacked-area panel per file.

    Time runs along x in m:ss; each panel's title names the file and its overall top three
    labels; a strip above the area shows each clip's top label. Colours follow
    :func:`label_colour` (the service's page uses the same). Written as PNG (matplotlib's Agg
    backend, no display needed).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from genre_ensemble.core.fileio import atomic_path

    path = Path(path)
    if not predictions:
        raise TimelineError(f"--timeline-plot {path}: no file was classified, nothing to draw")
    labels = predictions[0][1].labels
    colours = [label_colour(k) for k in range(len(labels))]
    figure, axes = plt.subplots(len(predictions), 1, squeeze=False,
                                figsize=(11, 2.6 + 2.2 * len(predictions)))
    for ax, (name, prediction) in zip(axes[:, 0], predictions, strict=True):
        shown = shown_spans(prediction.spans)
        xs, ys = _stairs(shown, prediction.clip_ensemble)
        ax.stackplot(xs, ys, colors=colours, labels=labels, linewidth=0)
        for k, label in enumerate(_top_labels(prediction.clip_ensemble)):
            ax.axvspan(shown[k, 0], shown[k, 1], ymin=1.015, ymax=1.055, color=colours[label],
                       clip_on=False, linewidth=0)
        for k in range(1, len(shown)):  # a skipped silent clip
            if shown[k, 0] - shown[k - 1, 1] > GAP_SECONDS:
                ax.text((shown[k - 1, 1] + shown[k, 0]) / 2, 0.5, SILENT, rotation=90,
                        ha="center", va="center", fontsize=8, color="0.4")
        top = ", ".join(f"{g} {p:.1%}" for g, p in prediction.top(3))
        ax.set_title(f"{Path(name).name}: {top}", fontsize=10, pad=24)
        ax.set_xlim(0, max(prediction.seconds, float(shown[-1, 1])))
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 3, 5, 6, 10]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_time(x)))
    axes[-1, 0].set_xlabel("time (m:ss)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    rows = math.ceil(len(labels) / LEGEND_COLUMNS)
    figure.legend(handles, names, loc="lower center", ncol=min(len(labels), LEGEND_COLUMNS),
                  fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.05 * rows, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        figure.savefig(partial, format="png", dpi=100)
    plt.close(figure)
    return path
