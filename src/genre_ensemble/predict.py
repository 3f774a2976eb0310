"""Classify audio files with the trained ensemble: ``genre-ensemble predict song.mp3 ...``.

How a file is cut
-----------------
The members were trained on clips of ``data.clip_seconds`` seconds, each cut into windows of
``segments.seconds`` (one image per window and representation, each clip's spectrograms
scaled to that clip's own peak). A file is classified the same way:

- a file no longer than ``data.clip_seconds`` is padded with trailing silence to that length,
  exactly as the pipeline pads its clips, so a pipeline-length clip gets the very probabilities
  the pipeline's own evaluation path gives it;
- a longer file (a whole song) is cut into consecutive chunks of ``data.clip_seconds``, the
  last one ending at the file's end (it overlaps the one before rather than being padded), and
  chunks that are digital silence are skipped. Every chunk is treated as one pipeline clip.

Each member averages its softmax over all windows of all chunks (the pipeline's track-level
decision); the ensemble is the weighted sum of the members' vectors with the weights recorded
in ``metrics/ensemble.json`` (normalised, learned ones included).

Nothing heavy is imported with this module: Keras and TensorFlow load only when a CNN member is
loaded, librosa and scikit-learn only when audio is processed. Keras models load in safe mode
(no code from a model file runs); ``models/features.joblib`` is a pickle written by the
pipeline's ``fit_features`` stage and must be trusted like any pipeline output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genre_ensemble.genres import GENRES
from genre_ensemble.params import FEATURE_MEMBER, REPRESENTATIONS, Params, ParamsError, load_params

if TYPE_CHECKING:
    from genre_ensemble.images import ImageJob

logger = logging.getLogger(__name__)

ENSEMBLE_JSON = Path("metrics") / "ensemble.json"
MODELS_DIR = Path("models")
EXIT_OK, EXIT_FILE_FAILED, EXIT_NO_MODELS = 0, 1, 2
BATCH_SIZE = 256  # windows per forward pass, as in training.train_member


class ModelsUnavailableError(Exception):
    """The trained members or ensemble weights are missing or do not fit params.yaml."""


@dataclass(frozen=True)
class LoadedMembers:
    """The trained members of the ensemble and their weights.

    Attributes
    ----------
    weights : dict
        ``member -> weight`` in ``ensemble.members`` order, summing to 1.
    networks : dict
        ``representation -> keras.Model`` for the CNN members.
    features : sklearn Pipeline or None
        The feature-based member, when it is in the ensemble.
    """

    weights: dict[str, float]
    networks: dict[str, Any]
    features: Any | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)


@dataclass(frozen=True)
class MemberInputs:
    """What the members need for one file: window images and window features.

    Small and picklable, so worker processes can prepare it while the models predict.
    """

    images: dict[str, np.ndarray]  # representation -> (n_windows, height, width, channels) uint8
    features: np.ndarray | None  # (n_windows, n_features), or None without a features member
    seconds: float  # length of the decoded audio
    chunks: int  # clips of data.clip_seconds the audio was cut into
    windows: int  # windows per member (images per representation)


@dataclass(frozen=True)
class Prediction:
    """One file's genre probabilities, per member and for the ensemble (GENRES order)."""

    ensemble: np.ndarray
    members: dict[str, np.ndarray]
    weights: dict[str, float]
    seconds: float
    chunks: int
    windows: int

    def top(self, count: int, member: str | None = None) -> list[tuple[str, float]]:
        """The ``count`` most probable genres of the ensemble (or of ``member``), best first."""
        probabilities = self.ensemble if member is None else self.members[member]
        order = np.argsort(-probabilities, kind="stable")[:count]
        return [(GENRES[i], float(probabilities[i])) for i in order]

    def to_dict(self, count: int) -> dict[str, Any]:
        """JSON-ready summary: top genres and every probability, per member and ensemble."""

        def describe(member: str | None) -> dict[str, Any]:
            probabilities = self.ensemble if member is None else self.members[member]
            top = self.top(count, member)
            return {
                "top": [{"genre": genre, "probability": round(p, 6)} for genre, p in top],
                "probabilities": {
                    genre: round(float(p), 6)
                    for genre, p in zip(GENRES, probabilities, strict=True)
                },
            }

        return {
            "seconds": round(self.seconds, 3),
            "chunks": self.chunks,
            "windows": self.windows,
            "ensemble": describe(None),
            "members": {
                name: {"weight": round(self.weights[name], 6), **describe(name)}
                for name in self.members
            },
        }


# ---------------------------------------------------------------------------------------------
# Loading the trained members


def ensemble_weights(path: str | Path, members: Sequence[str]) -> dict[str, float]:
    """The normalised weights the ``ensemble`` stage used, for ``members`` in that order.

    Raises
    ------
    ModelsUnavailableError
        If the file is missing or was written for other members than ``members``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelsUnavailableError(
            f"no ensemble weights at {path}: run `dvc repro` (or `dvc pull`) first"
        )
    try:
        recorded = json.loads(path.read_text())["weights"]
        weights = {str(name): float(value) for name, value in recorded.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelsUnavailableError(
            f"{path} is not the ensemble stage's output ({error})"
        ) from error
    if set(weights) != set(members):
        raise ModelsUnavailableError(
            f"{path} holds weights for {sorted(weights)} but params.yaml's ensemble.members is "
            f"{list(members)}: run `dvc repro` to retrain the ensemble"
        )
    total = sum(weights[name] for name in members)
    if not total > 0:
        raise ModelsUnavailableError(f"{path}: the ensemble weights sum to {total}")
    return {name: weights[name] / total for name in members}


def member_path(models_dir: str | Path, member: str) -> Path:
    """Where the pipeline saves ``member``: ``<rep>.keras`` or ``features.joblib``."""
    suffix = ".joblib" if member == FEATURE_MEMBER else ".keras"
    return Path(models_dir) / f"{member}{suffix}"


def _expected_image_shape(params: Params) -> tuple[int, int, int]:
    channels = 3 if params.images.style == "figure" else 1
    return params.images.height, params.images.width, channels


@contextmanager
def _native_stderr_held() -> Iterator[None]:
    """Hold back what native code writes to file descriptor 2 (TensorFlow's start-up banner,
    which no setting silences); it is replayed if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _load_network(path: Path, params: Params) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_held():
        from genre_ensemble.training import load_model  # imports Keras and TensorFlow

    try:
        model = load_model(path)
    except Exception as error:  # corrupt file, or a layer safe mode refuses to deserialise
        raise ModelsUnavailableError(f"cannot load {path}: {error}") from error
    expected = _expected_image_shape(params)
    shape = tuple(model.input_shape[1:])
    if shape != expected:
        raise ModelsUnavailableError(
            f"{path} takes {shape} images but params.yaml's images settings give {expected}: "
            "run `dvc repro` to retrain it"
        )
    return model


def _load_features_model(path: Path) -> Any:
    import joblib

    try:
        return joblib.load(path)
    except Exception as error:
        raise ModelsUnavailableError(f"cannot load {path}: {error}") from error


def load_members(
    params: Params,
    models_dir: str | Path = MODELS_DIR,
    weights_path: str | Path = ENSEMBLE_JSON,
) -> LoadedMembers:
    """Load every member of ``params.ensemble.members`` and the ensemble's weights.

    Every file is checked before TensorFlow is imported, so a workspace that was never
    trained fails in a fraction of a second.

    Raises
    ------
    ModelsUnavailableError
        With one sentence naming what is missing and how to get it.
    """
    members = params.ensemble.members
    paths = {member: member_path(models_dir, member) for member in members}
    missing = [path for path in paths.values() if not path.is_file()]
    if len(missing) == len(paths):
        raise ModelsUnavailableError(
            f"no trained models in {Path(models_dir)}/: run `dvc repro` (or `dvc pull`) first"
        )
    if missing:
        raise ModelsUnavailableError(
            f"{', '.join(map(str, missing))} missing (params.yaml's ensemble.members lists "
            f"{list(members)}): run `dvc repro` (or `dvc pull`) first"
        )
    weights = ensemble_weights(weights_path, members)
    networks = {m: _load_network(paths[m], params) for m in members if m in REPRESENTATIONS}
    features = _load_features_model(paths[FEATURE_MEMBER]) if FEATURE_MEMBER in paths else None
    return LoadedMembers(weights=weights, networks=networks, features=features)


# ---------------------------------------------------------------------------------------------
# Audio -> member inputs (the pipeline's own cutting and rendering)


def image_job(params: Params, names: Sequence[str] = REPRESENTATIONS) -> ImageJob:
    """The images stage's job for ``params`` (same cutting, same rendering)."""
    from genre_ensemble.images import ImageJob

    return ImageJob(
        sample_rate=params.data.sample_rate,
        clip_seconds=params.data.clip_seconds,
        images=params.images,
        segments=params.segments,
        names=tuple(names),
    )


def split_chunks(signal: np.ndarray, sr: int, clip_seconds: float) -> list[np.ndarray]:
    """Cut a signal into the pipeline-length clips it is classified from.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
    clip_seconds : float
        ``data.clip_seconds``.

    Returns
    -------
    list of np.ndarray, each shape (round(clip_seconds * sr),)
        One clip padded with silence for a signal no longer than a clip; otherwise
        consecutive clips, the last one ending at the signal's end, silent clips left out
        (unless all are silent).
    """
    from genre_ensemble.audio import fix_length, is_silent

    size = int(round(clip_seconds * sr))
    if signal.shape[0] <= size:
        return [fix_length(signal, size)]
    starts = list(range(0, signal.shape[0] - size + 1, size))
    if starts[-1] + size < signal.shape[0]:
        starts.append(signal.shape[0] - size)
    chunks = [signal[start : start + size] for start in starts]
    audible = [chunk for chunk in chunks if not is_silent(chunk)]
    return audible or chunks


def chunk_inputs(
    chunks: Sequence[np.ndarray], params: Params, members: Sequence[str], *, seconds: float
) -> MemberInputs:
    """Window images and features of pipeline-length chunks at ``data.sample_rate``.

    ``seconds`` is the length of the audio the chunks were cut from (reported only).
    """
    from genre_ensemble.images import signal_images

    names = [m for m in members if m in REPRESENTATIONS]
    job = image_job(params, names)
    images: dict[str, list[np.ndarray]] = {name: [] for name in names}
    rows: list[list[float]] = []
    for chunk in chunks:
        if names:
            for name, windows in signal_images(chunk, job).items():
                images[name].extend(windows)
        if FEATURE_MEMBER in members:
            rows.extend(list(row.values()) for row in _window_features(chunk, params))
    stacked = {name: np.stack(windows) for name, windows in images.items()}
    features = np.asarray(rows, dtype=np.float64) if FEATURE_MEMBER in members else None
    windows = len(features) if features is not None else len(next(iter(stacked.values())))
    return MemberInputs(
        images=stacked, features=features, seconds=seconds, chunks=len(chunks), windows=windows
    )


def _window_features(chunk: np.ndarray, params: Params) -> list[dict[str, float]]:
    from genre_ensemble.features import window_features

    return window_features(
        chunk,
        params.data.sample_rate,
        window_seconds=params.segments.seconds,
        overlap=params.segments.overlap,
    )


def signal_inputs(
    signal: np.ndarray, sr: int, params: Params, members: Sequence[str]
) -> MemberInputs:
    """Resample a mono signal to ``data.sample_rate``, cut it and prepare every member's input.

    Raises
    ------
    genre_ensemble.audio.AudioError
        If the signal is empty or digital silence.
    """
    from genre_ensemble.audio import conform

    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1:
        raise ValueError(f"expected a mono signal, got shape {signal.shape}")
    signal = conform(signal, sr, sample_rate=params.data.sample_rate, seconds=None)
    chunks = split_chunks(signal, params.data.sample_rate, params.data.clip_seconds)
    return chunk_inputs(chunks, params, members, seconds=signal.shape[0] / params.data.sample_rate)


def file_inputs(path: str | Path, params: Params, members: Sequence[str]) -> MemberInputs:
    """Decode a file like the pipeline does (mono, ``data.sample_rate``) and prepare inputs.

    Raises
    ------
    genre_ensemble.audio.AudioError
        Missing, empty, undecodable or silent file.
    """
    from genre_ensemble.audio import load_clip

    signal = load_clip(path, sample_rate=params.data.sample_rate, seconds=None)
    seconds = signal.shape[0] / params.data.sample_rate
    if seconds < params.data.clip_seconds:
        logger.warning(
            "%s lasts %.1f s, less than the %g s clips the members were trained on: padded with "
            "silence (as the pipeline pads its clips)", path, seconds, params.data.clip_seconds,
        )
    chunks = split_chunks(signal, params.data.sample_rate, params.data.clip_seconds)
    return chunk_inputs(chunks, params, members, seconds=seconds)


# ---------------------------------------------------------------------------------------------
# Member inputs -> probabilities


def _features_probabilities(model: Any, features: np.ndarray) -> np.ndarray:
    expected = getattr(model, "n_features_in_", features.shape[1])
    if features.shape[1] != expected:
        raise ModelsUnavailableError(
            f"the features model takes {expected} descriptors but this code computes "
            f"{features.shape[1]}: run `dvc repro` to refit it"
        )
    probabilities = np.zeros((len(features), len(GENRES)))
    probabilities[:, model.classes_] = model.predict_proba(features)  # as features.fit_predict
    return probabilities


def _network_probabilities(model: Any, images: np.ndarray) -> np.ndarray:
    """Softmax of every window, in batches like ``model.predict`` but without its per-call
    set-up (tracing a new predict function per input length costs more than the network)."""
    return np.concatenate([
        np.asarray(model.predict_on_batch(images[start : start + BATCH_SIZE]))
        for start in range(0, len(images), BATCH_SIZE)
    ])


def predict_inputs(inputs: MemberInputs, members: LoadedMembers) -> Prediction:
    """Every member's window-averaged probabilities and their weighted soft vote.

    The same computation as the pipeline: ``model.predict`` on the windows, the mean over a
    clip's windows (:func:`genre_ensemble.predictions.clip_probabilities`), then
    :func:`genre_ensemble.ensemble.weighted_sum` with the recorded weights.
    """
    from genre_ensemble.ensemble import weighted_sum

    per_member: dict[str, np.ndarray] = {}
    for name in members.names:
        if name == FEATURE_MEMBER:
            windows = _features_probabilities(members.features, inputs.features)
        else:
            windows = _network_probabilities(members.networks[name], inputs.images[name])
        per_member[name] = np.asarray(windows, dtype=np.float64).mean(axis=0)
    combined = weighted_sum(list(per_member.values()), list(members.weights.values()))
    return Prediction(
        ensemble=combined,
        members=per_member,
        weights=dict(members.weights),
        seconds=inputs.seconds,
        chunks=inputs.chunks,
        windows=inputs.windows,
    )


def classify_signal(
    signal: np.ndarray, sr: int, members: LoadedMembers, params: Params
) -> Prediction:
    """Classify a mono signal at any sample rate (see the module docstring for the cutting).

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
    sr : int
        Its sample rate; it is resampled to ``data.sample_rate`` when different.
    members : LoadedMembers
        From :func:`load_members`.
    params : Params
        The settings the members were trained with.
    """
    return predict_inputs(signal_inputs(signal, sr, params, members.names), members)


def classify_file(path: str | Path, members: LoadedMembers, params: Params) -> Prediction:
    """Classify one audio file (any format :func:`genre_ensemble.audio.decode` reads)."""
    return predict_inputs(file_inputs(path, params, members.names), members)


def _prepare(path: str, params: Params, members: tuple[str, ...]) -> MemberInputs | str:
    """Worker: the inputs of one file, or the reason it cannot be classified."""
    from genre_ensemble.audio import AudioError

    if not Path(path).is_file():
        return "no such file"
    try:
        return file_inputs(path, params, members)
    except AudioError as error:
        reason = str(error)
        if reason.startswith("cannot decode"):  # both decoders refused it: say so plainly
            return "not an audio file (no installed decoder recognises its format)"
        return reason


def classify_files(
    paths: Sequence[str | Path], members: LoadedMembers, params: Params, *, n_jobs: int = 1
) -> Iterator[tuple[str, Prediction | str]]:
    """Classify files in order; decoding and images run in ``n_jobs`` worker processes.

    Yields
    ------
    (path, Prediction or str)
        A string is the reason a file could not be classified; the others go on.
    """
    from joblib import Parallel, delayed

    names = [str(path) for path in paths]
    n_jobs = 1 if len(names) < 2 else n_jobs
    tasks = (delayed(_prepare)(name, params, members.names) for name in names)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)  # keeps the order
    for name, inputs in zip(names, results, strict=True):
        yield name, inputs if isinstance(inputs, str) else predict_inputs(inputs, members)


# ---------------------------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``predict`` arguments (imports nothing heavy)."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="audio files (wav, flac, ogg, mp3, au, ...) of any length")
    parser.add_argument("--top", type=_positive, default=3, metavar="N",
                        help="genres to show per file and member (default: 3)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document with every probability on stdout")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), metavar="PATH",
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
        members = load_members(params, args.models or root / MODELS_DIR, root / ENSEMBLE_JSON)
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
        if isinstance(result, str):
            failed += 1
            sys.stderr.write(f"error: {path}: {result}\n")
            documents.append({"file": path, "error": result})
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
