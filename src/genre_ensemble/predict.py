"""The ``predict`` command: ``genre-ensemble predict song.mp3 ...`` classifies audio files with
the trained ensemble and prints each file's genres (or one JSON document).

The work is done by :mod:`genre_ensemble.loading` (the trained members),
:mod:`genre_ensemble.inputs` (audio -> member inputs, cut like the pipeline's clips) and
:mod:`genre_ensemble.classify` (probabilities and the soft vote); this module only parses the
arguments and prints. Nothing heavy is imported with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from genre_ensemble.classify import FileNotClassifiedError, Prediction, classify_files
from genre_ensemble.genres import GENRES
from genre_ensemble.loading import LoadedMembers, ModelsUnavailableError, load_members
from genre_ensemble.params import Params, ParamsError, load_params
from genre_ensemble.paths import ENSEMBLE_METRICS, MODELS_DIR, PARAMS_FILE

EXIT_OK, EXIT_FILE_FAILED, EXIT_NO_MODELS = 0, 1, 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``predict`` arguments (imports nothing heavy)."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="audio files (wav, flac, ogg, mp3, au, ...) of any length")
    parser.add_argument("--top", type=_positive, default=3, metavar="N",
                        help="genres to show per file and member (default: 3)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document with every probability on stdout")
    parser.add_argument("--params", type=Path, default=PARAMS_FILE, metavar="PATH",
                        help="the params.yaml the models were trained with (default: "
                             "params.yaml); metrics/ensemble.json is read beside it")
    parser.add_argument("--models", type=Path, default=None, metavar="DIR",
                        help="folder with the trained members (default: models/ beside params)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="worker processes for decoding and images (default: images.n_jobs)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _percent_list(pairs: list[tuple[str, float]]) -> str:
    width = max(len(genre) for genre in GENRES)
    return "  ".join(f"{genre:<{width}} {probability:6.1%}" for genre, probability in pairs)


def format_prediction(path: str, prediction: Prediction, count: int) -> str:
    """The human-readable block of one file: ensemble top-N, then each member's."""
    lines = [
        f"{path}  ({prediction.seconds:.1f} s, {prediction.chunks} clip"
        f"{'s' if prediction.chunks != 1 else ''}, {prediction.windows} windows)",
        f"  {'ensemble':<17} {_percent_list(prediction.top(count))}",
    ]
    for name in prediction.members:
        label = f"{name} (w {prediction.weights[name]:.2f})"
        lines.append(f"  {label:<17} {_percent_list(prediction.top(count, name))}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """The ``predict`` command; returns the exit status (0 ok, 1 a file failed, 2 no models)."""
    root = args.params.parent
    # Keras warns when an input length first seen traces a new predict function: expected here.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        params = load_params(args.params)
        members = load_members(params, args.models or root / MODELS_DIR, root / ENSEMBLE_METRICS)
        n_jobs = params.images.n_jobs if args.jobs is None else args.jobs
        documents, failed = _classify_and_print(args, members, params, n_jobs)
    except (ParamsError, ModelsUnavailableError) as error:
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
    """Classify ``args.files``: print each result (or collect it for ``--json``) as it comes,
    write each failure to stderr. Returns the JSON documents and the number of failures."""
    count = min(args.top, len(GENRES))
    documents, failed = [], 0
    for path, result in classify_files(args.files, members, params, n_jobs=n_jobs):
        if isinstance(result, FileNotClassifiedError):
            failed += 1
            sys.stderr.write(f"error: {path}: {result}\n")
            documents.append({"file": path, "error": str(result)})
        elif args.json:
            documents.append({"file": path, **result.to_dict(count)})
        else:
            sys.stdout.write(format_prediction(path, result, count))
            sys.stdout.flush()
    return documents, failed


def main(argv: list[str] | None = None) -> int:
    """``genre-ensemble predict`` without the other sub-commands (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="genre-ensemble predict")
    configure_parser(parser)
    return run(parser.parse_args(argv))
