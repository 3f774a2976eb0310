"""The ``predict`` command: ``genre-ensemble predict song.mp3 music/ 'live/*.flac' ...``
classifies audio files (folders searched recursively, glob patterns expanded) with the trained
ensemble and prints each file's genres (or one JSON document), optionally writing a CSV table
and each file's per-clip timeline (``--timeline`` CSV or JSON, ``--timeline-plot`` PNG).

The work is done by :mod:`genre_ensemble.inference.loading` (the trained members),
:mod:`genre_ensemble.inference.inputs` (audio -> member inputs, cut like the pipeline's clips)
and :mod:`genre_ensemble.inference.classify` (probabilities and the soft vote), the timeline by
:mod:`genre_ensemble.inference.timeline`; this module only parses the arguments and prints.
Nothing heavy is imported with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from genre_ensemble.core.errors import ModelsUnavailableError
from genre_ensemble.core.params import Params, ParamsError
from genre_ensemble.core.paths import ENSEMBLE_METRICS, MODELS_DIR, PARAMS_FILE
from genre_ensemble.inference.classify import (
    BATCH_FILES,
    FileNotClassifiedError,
    Prediction,
    classify_files,
)
from genre_ensemble.inference.filelist import expand_inputs
from genre_ensemble.inference.loading import LoadedMembers, load_members
from genre_ensemble.inference.timeline import TimelineError  # imports nothing heavy
from genre_ensemble.members.registry import load_params

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FILE_FAILED, EXIT_NO_MODELS = 0, 1, 2
# From this many files on, a progress bar runs on stderr (when stderr is a terminal).
PROGRESS_FILES = 10


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``predict`` arguments (imports nothing heavy)."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="audio files (wav, flac, ogg, mp3, au, ...) of any length, folders "
                             "(searched recursively for audio files) or glob patterns "
                             "(quote them; ** matches folders at any depth)")
    parser.add_argument("--top", type=_positive, default=3, metavar="N",
                        help="genres to show per file and member (default: 3)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document with every probability on stdout")
    parser.add_argument("--csv", type=Path, default=None, metavar="PATH",
                        help="also write a table, one row per file: path, seconds, top genre "
                             "and probability, every genre's ensemble probability, each "
                             "member's top genre, error")
    parser.add_argument("--batch", type=_positive, default=BATCH_FILES, metavar="N",
                        help=f"files whose windows each model classifies at once (default: "
                             f"{BATCH_FILES})")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, metavar="PATH",
                        help="the params.yaml the models were trained with (default: "
                             "params.yaml); metrics/ensemble.json is read beside it")
    parser.add_argument("--models", type=Path, default=None, metavar="DIR",
                        help="folder with the trained members (default: models/ beside params)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="worker processes for decoding and images (default: "
                             "parallel.n_jobs)")
    parser.add_argument("--timeline", type=Path, default=None, metavar="PATH",
                        help="also write every clip's start, end, genre probabilities and "
                             "members' top genres, as CSV or JSON by the suffix")
    parser.add_argument("--timeline-plot", type=Path, default=None, metavar="PATH.png",
                        help="also draw the genre probabilities over time (PNG, one panel per "
                             "file)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _percent_list(pairs: list[tuple[str, float]], labels: tuple[str, ...]) -> str:
    width = max(len(label) for label in labels)
    return "  ".join(f"{label:<{width}} {probability:6.1%}" for label, probability in pairs)


def format_prediction(path: str, prediction: Prediction, count: int) -> str:
    """The human-readable block of one file: ensemble top-N, then each member's; for a file
    of several clips, one line per stretch of one top genre."""
    lines = [
        f"{path}  ({prediction.seconds:.1f} s, {prediction.clips} clip"
        f"{'s' if prediction.clips != 1 else ''}, {prediction.windows} windows)",
        f"  {'ensemble':<17} {_percent_list(prediction.top(count), prediction.labels)}",
    ]
    for name in prediction.members:
        label = f"{name} (w {prediction.weights[name]:.2f})"
        lines.append(f"  {label:<17} "
                     f"{_percent_list(prediction.top(count, name), prediction.labels)}")
    if prediction.clips > 1:  # one line per genre change
        from genre_ensemble.inference.timeline import format_segments, genre_segments

        for k, line in enumerate(format_segments(genre_segments(prediction))):
            lines.append(f"  {'timeline' if k == 0 else '':<17} {line}")
    return "\n".join(lines) + "\n"


def csv_row(path: str, result: Prediction | FileNotClassifiedError,
            members: LoadedMembers) -> dict[str, Any]:
    """One file's row of the ``--csv`` table: file, seconds, genre and probability (the
    ensemble's top label), every label's ensemble probability, ``<member>_genre`` (each
    member's top label) and error (empty when classified; the other cells are then empty)."""
    row: dict[str, Any] = {"file": path, "seconds": None, "genre": None, "probability": None}
    row.update({label: None for label in members.labels})
    row.update({f"{name}_genre": None for name in members.names})
    if isinstance(result, FileNotClassifiedError):
        return {**row, "error": str(result)}
    (genre, probability), = result.top(1)
    row.update(seconds=round(result.seconds, 3), genre=genre, probability=round(probability, 6))
    row.update({g: round(float(p), 6)
                for g, p in zip(result.labels, result.ensemble, strict=True)})
    row.update({f"{name}_genre": result.top(1, name)[0][0] for name in members.names})
    return {**row, "error": ""}


def run(args: argparse.Namespace) -> int:
    """The ``predict`` command; returns the exit status (0 ok, 1 a file failed, 2 no models)."""
    root = args.params.parent
    # Keras warns when an input length first seen traces a new predict function: expected here.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        _check_timeline_arguments(args)  # before any model loads
        params = load_params(args.params)
        members = load_members(params, args.models or root / MODELS_DIR, root / ENSEMBLE_METRICS,
                               root=root)
        n_jobs = params.parallel.n_jobs if args.jobs is None else args.jobs
        documents, failed = _classify_and_print(args, members, params, n_jobs)
    except (ParamsError, ModelsUnavailableError, TimelineError) as error:
        sys.stderr.write(f"error: {error}\n")
        if args.json:
            sys.stdout.write(json.dumps({"error": str(error), "files": []}) + "\n")
        return EXIT_NO_MODELS
    if args.json:
        payload = {"members": members.weights, "files": documents}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    return EXIT_FILE_FAILED if failed else EXIT_OK


def _classify_and_print(
    args: argparse.Namespace, members: LoadedMembers, params: Params, n_jobs: int
) -> tuple[list[dict[str, Any]], int]:
    """Classify what ``args.files`` names: print each result (or collect it for ``--json``) as
    it comes, write each failure to stderr, then the ``--csv`` table. Returns the JSON
    documents and the number of failures."""
    from tqdm import tqdm

    count = min(args.top, len(members.labels))
    expanded = expand_inputs(args.files)
    documents, rows, failed = [], [], 0
    # the classified files, kept only when a timeline is asked for
    timelines: list[tuple[str, Prediction]] = []
    wants_timeline = getattr(args, "timeline", None) or getattr(args, "timeline_plot", None)
    for argument, reason in expanded.unmatched.items():
        failed += 1
        sys.stderr.write(f"error: {argument}: {reason}\n")
        documents.append({"file": argument, "error": reason})
    # disable=None: no bar when stderr is not a terminal (pipes, logs, tests)
    quiet = len(expanded.files) < PROGRESS_FILES
    with tqdm(total=len(expanded.files), unit="file", desc="predict", file=sys.stderr,
              disable=True if quiet else None, leave=False) as bar:
        for path, result in classify_files(expanded.files, members, params, n_jobs=n_jobs,
                                           batch_files=args.batch):
            rows.append(csv_row(path, result, members))
            if wants_timeline and isinstance(result, Prediction):
                timelines.append((path, result))
            if isinstance(result, FileNotClassifiedError):
                failed += 1
                bar.write(f"error: {path}: {result}", file=sys.stderr)
                documents.append({"file": path, "error": str(result)})
            elif args.json:
                documents.append({"file": path, **result.to_dict(count)})
            else:
                bar.write(format_prediction(path, result, count), file=sys.stdout, end="")
                sys.stdout.flush()
            bar.update()
    if args.csv is not None:
        _write_table(args.csv, rows)
    _write_timelines(args, timelines, members.labels)
    return documents, failed


def _check_timeline_arguments(args: argparse.Namespace) -> None:
    """Refuse a ``--timeline`` suffix that names no format, and a ``--timeline-plot`` that is
    not a PNG, before anything is classified."""
    from genre_ensemble.inference.timeline import check_timeline_path

    if getattr(args, "timeline", None) is not None:
        check_timeline_path(args.timeline)
    plot = getattr(args, "timeline_plot", None)
    if plot is not None and plot.suffix.lower() != ".png":
        raise TimelineError(f"--timeline-plot {plot}: the plot is a PNG, name it .png")


def _write_timelines(args: argparse.Namespace, timelines: list[tuple[str, Prediction]],
                     labels: tuple[str, ...]) -> None:
    """Write ``--timeline`` and draw ``--timeline-plot`` (files that could not be classified
    have no clips; no plot when none was classified)."""
    from genre_ensemble.inference.timeline import plot_timeline, write_timeline

    if getattr(args, "timeline", None) is not None:
        logger.info("timeline of %d file(s): %s", len(timelines),
                    write_timeline(args.timeline, timelines, labels=labels))
    plot = getattr(args, "timeline_plot", None)
    if plot is not None:
        if timelines:
            logger.info("timeline plot: %s", plot_timeline(plot, timelines))
        else:
            logger.warning("no file was classified: no timeline plot drawn")


def _write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from genre_ensemble.core.fileio import write_csv

    write_csv(path, pd.DataFrame(rows))


def main(argv: list[str] | None = None) -> int:
    """``genre-ensemble predict`` without the other sub-commands (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="genre-ensemble predict")
    configure_parser(parser)
    return run(parser.parse_args(argv))
