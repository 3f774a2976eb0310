"""Read and validate ``params.yaml`` into typed, immutable settings.

Every stage calls :func:`load_params` once, before any heavy work. A wrong value raises
:class:`ParamsError`, whose message is one sentence naming the key and the fix.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from genre_ensemble.members import MEMBERS, MUSICNN_LAYERS, MUSICNN_MODELS
from genre_ensemble.paths import PARAMS_FILE

ARCHITECTURES: tuple[str, ...] = ("paper", "deep")
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
# TensorFlow's CPU kernels for training and prediction (genre_ensemble.runtime pins them)
CPU_KERNELS: tuple[str, ...] = ("eigen", "onednn")
IMAGE_STYLES: tuple[str, ...] = ("clean", "figure")
DATA_SOURCES: tuple[str, ...] = ("synthetic", "gtzan")
SPLIT_METHODS: tuple[str, ...] = ("stratified", "fault_filtered", "kfold")
# report: list near-identical clips only | together: also move each group into one split
DUPLICATE_MODES: tuple[str, ...] = ("report", "together")
ENSEMBLE_METHODS: tuple[str, ...] = ("sum", "learned")
FEATURE_CLASSIFIERS: tuple[str, ...] = ("logistic", "random_forest", "gradient_boosting")
JOBLIB_BACKENDS: tuple[str, ...] = ("loky", "threading", "multiprocessing", "dask")
# cluster backends are optional installs: the module they need and the package that brings it
CLUSTER_BACKEND_MODULES: dict[str, str] = {"dask": "dask.distributed"}
CLUSTER_BACKEND_PACKAGES: dict[str, str] = {"dask": "dask[distributed]"}


class ParamsError(ValueError):
    """A params.yaml value is missing or wrong; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        super().__init__(f"params.yaml: {key} {problem}; {fix}.")


@dataclass(frozen=True)
class DataParams:
    source: str
    gtzan_dir: Path
    sample_rate: int
    clip_seconds: float


@dataclass(frozen=True)
class SyntheticParams:
    seed: int
    clips_per_genre: int
    seconds: float
    difficulty: float


@dataclass(frozen=True)
class SplitParams:
    method: str
    test_size: float
    val_size: float
    seed: int
    folds: int  # kfold only: number of folds
    fold: int  # kfold only: the test fold, 0 .. folds - 1
    calibration: float  # fraction of the validation clips held out for learned weights
    duplicates: str
    duplicate_threshold: float


@dataclass(frozen=True)
class SegmentParams:
    seconds: float
    overlap: float


@dataclass(frozen=True)
class StftParams:
    n_fft: int
    hop_length: int


@dataclass(frozen=True)
class CqtParams:
    hop_length: int
    fmin: str
    n_bins: int
    bins_per_octave: int


@dataclass(frozen=True)
class ChromaParams:
    hop_length: int
    n_chroma: int


@dataclass(frozen=True)
class ImageParams:
    style: str
    height: int
    width: int
    top_db: float
    n_jobs: int
    backend: str
    stft: StftParams
    cqt: CqtParams
    chroma: ChromaParams


@dataclass(frozen=True)
class SpecAugmentParams:
    time_masks: int
    freq_masks: int
    max_fraction: float


@dataclass(frozen=True)
class TrainParams:
    architecture: str
    filters: int
    dropout: float
    optimizer: str
    learning_rate: float
    momentum: float
    lr_schedule: str
    epochs: int
    batch_size: int
    windows_per_clip: int  # training windows per clip and epoch, drawn afresh; 0: all
    early_stopping: int
    seed: int
    threads: int  # TensorFlow intra-op threads: results depend on it, so it is fixed here
    cpu_kernels: str  # eigen | onednn: which CPU kernels TensorFlow runs (other weights)
    spec_augment: SpecAugmentParams


@dataclass(frozen=True)
class DescriptorParams:
    """Frame settings of the feature member's descriptors (stage ``features``)."""

    n_mfcc: int  # MFCCs per frame
    n_fft: int  # STFT window, samples
    hop_length: int  # samples between frames


@dataclass(frozen=True)
class FeatureParams:
    descriptors: DescriptorParams
    classifier: str
    seed: int


@dataclass(frozen=True)
class MusicnnParams:
    """The pretrained-musicnn member (stages ``musicnn_embeddings`` and ``fit_musicnn``)."""

    model: str  # checkpoint of the musicnn wheel
    layers: tuple[str, ...]  # per-patch outputs averaged over a clip's patches, concatenated
    classifier: str
    seed: int


@dataclass(frozen=True)
class EnsembleParams:
    members: tuple[str, ...]
    method: str
    weights: tuple[float, ...]


@dataclass(frozen=True)
class EvaluateParams:
    bootstrap: int
    seed: int


@dataclass(frozen=True)
class Params:
    data: DataParams
    synthetic: SyntheticParams
    split: SplitParams
    segments: SegmentParams
    images: ImageParams
    train: TrainParams
    features: FeatureParams
    musicnn: MusicnnParams
    ensemble: EnsembleParams
    evaluate: EvaluateParams


class _Section:
    """Typed access to one mapping of params.yaml that names the full key in every error."""

    def __init__(self, raw: Any, prefix: str) -> None:
        if not isinstance(raw, Mapping):
            raise ParamsError(prefix, "is missing or not a mapping", f"add a '{prefix}:' section")
        self.raw = raw
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def get(self, name: str) -> Any:
        if name not in self.raw:
            raise ParamsError(self.key(name), "is missing", "add it (see README, 'Parameters')")
        return self.raw[name]

    def section(self, name: str) -> _Section:
        return _Section(self.raw.get(name), self.key(name))

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(self.key(name), f"is {value!r}", "use a whole number")
        if minimum is not None and value < minimum:
            raise ParamsError(self.key(name), f"is {value}", f"use a value >= {minimum}")
        if maximum is not None and value > maximum:
            raise ParamsError(self.key(name), f"is {value}", f"use a value <= {maximum}")
        return value

    def number(
        self,
        name: str,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ParamsError(self.key(name), f"is {value!r}", "use a number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            bounds = (
                f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
            )
            raise ParamsError(self.key(name), f"is {value}", f"use a value in {bounds}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.get(name)
        if value not in choices:
            raise ParamsError(self.key(name), f"is {value!r}", f"use one of: {', '.join(choices)}")
        return value

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise ParamsError(self.key(name), f"is {value!r}", "use a non-empty string")
        return value


def _data(section: _Section) -> DataParams:
    return DataParams(
        source=section.choice("source", DATA_SOURCES),
        gtzan_dir=Path(section.text("gtzan_dir")),
        sample_rate=section.integer("sample_rate", minimum=4000),
        clip_seconds=section.number("clip_seconds", low=0.5),
    )


def _synthetic(section: _Section) -> SyntheticParams:
    return SyntheticParams(
        seed=section.integer("seed", minimum=0),
        clips_per_genre=section.integer("clips_per_genre", minimum=3),
        seconds=section.number("seconds", low=0.5),
        difficulty=section.number("difficulty", low=0.0, high=1.0),
    )


def _split(section: _Section) -> SplitParams:
    folds = section.integer("folds", minimum=2)
    fold = section.integer("fold", minimum=0)
    if fold >= folds:
        raise ParamsError(
            section.key("fold"),
            f"is {fold} but split.folds is {folds} (folds are numbered 0 .. {folds - 1})",
            f"use a fold below {folds} or raise split.folds",
        )
    return SplitParams(
        method=section.choice("method", SPLIT_METHODS),
        test_size=section.number("test_size", low=0.0, high=1.0, low_open=True, high_open=True),
        val_size=section.number("val_size", low=0.0, high=1.0, low_open=True, high_open=True),
        seed=section.integer("seed", minimum=0),
        folds=folds,
        fold=fold,
        calibration=section.number("calibration", low=0.0, high=1.0, high_open=True),
        duplicates=section.choice("duplicates", DUPLICATE_MODES),
        duplicate_threshold=section.number("duplicate_threshold", low=0.0, high=1.0,
                                           low_open=True),
    )


def _segments(section: _Section) -> SegmentParams:
    seconds = section.number("seconds", low=0.0)
    overlap = section.number("overlap", low=0.0, high=1.0, high_open=True)
    return SegmentParams(seconds=seconds, overlap=overlap)


def _images(section: _Section) -> ImageParams:
    stft, cqt, chroma = section.section("stft"), section.section("cqt"), section.section("chroma")
    n_fft = stft.integer("n_fft", minimum=64)
    fmin = cqt.text("fmin")
    # local: only this check needs it; outside the try, so that a missing librosa is reported
    # as such and not as a wrong note name
    import librosa

    try:
        librosa.note_to_hz(fmin)
    except Exception as error:  # librosa raises ParameterError for a malformed note name
        raise ParamsError(cqt.key("fmin"), f"is {fmin!r}", "use a note name such as C1") from error
    backend = section.choice("backend", JOBLIB_BACKENDS)
    cluster_module = CLUSTER_BACKEND_MODULES.get(backend)
    if cluster_module and importlib.util.find_spec(cluster_module.split(".")[0]) is None:
        raise ParamsError(
            section.key("backend"),
            f"is {backend!r} but {cluster_module} is not installed",
            f"pip install '{CLUSTER_BACKEND_PACKAGES[backend]}' or use loky",
        )
    return ImageParams(
        style=section.choice("style", IMAGE_STYLES),
        height=section.integer("height", minimum=16),
        width=section.integer("width", minimum=16),
        top_db=section.number("top_db", low=1.0),
        n_jobs=section.integer("n_jobs", minimum=-1),
        backend=backend,
        stft=StftParams(n_fft=n_fft, hop_length=stft.integer("hop_length", minimum=16)),
        cqt=CqtParams(
            hop_length=cqt.integer("hop_length", minimum=16),
            fmin=fmin,
            n_bins=cqt.integer("n_bins", minimum=12),
            bins_per_octave=cqt.integer("bins_per_octave", minimum=12),
        ),
        chroma=ChromaParams(
            hop_length=chroma.integer("hop_length", minimum=16),
            n_chroma=chroma.integer("n_chroma", minimum=12),
        ),
    )


def _train(section: _Section) -> TrainParams:
    augment = section.section("spec_augment")
    return TrainParams(
        architecture=section.choice("architecture", ARCHITECTURES),
        filters=section.integer("filters", minimum=1),
        dropout=section.number("dropout", low=0.0, high=1.0, high_open=True),
        optimizer=section.choice("optimizer", OPTIMIZERS),
        learning_rate=section.number("learning_rate", low=0.0, low_open=True),
        momentum=section.number("momentum", low=0.0, high=1.0, high_open=True),
        lr_schedule=section.choice("lr_schedule", LR_SCHEDULES),
        epochs=section.integer("epochs", minimum=1),
        batch_size=section.integer("batch_size", minimum=1),
        windows_per_clip=section.integer("windows_per_clip", minimum=0),
        early_stopping=section.integer("early_stopping", minimum=0),
        seed=section.integer("seed", minimum=0),
        threads=section.integer("threads", minimum=1),
        cpu_kernels=section.choice("cpu_kernels", CPU_KERNELS),
        spec_augment=SpecAugmentParams(
            time_masks=augment.integer("time_masks", minimum=0),
            freq_masks=augment.integer("freq_masks", minimum=0),
            max_fraction=augment.number("max_fraction", low=0.0, high=0.5),
        ),
    )


def _descriptors(section: _Section) -> DescriptorParams:
    n_fft = section.integer("n_fft", minimum=64)
    hop_length = section.integer("hop_length", minimum=16)
    if hop_length > n_fft:
        raise ParamsError(
            section.key("hop_length"),
            f"is {hop_length}, longer than {section.key('n_fft')} ({n_fft}), so samples between "
            "frames would never be analysed",
            "use a hop no longer than the FFT window",
        )
    return DescriptorParams(
        # librosa's mel spectrogram has 128 bands: at most one MFCC per band
        n_mfcc=section.integer("n_mfcc", minimum=1, maximum=128),
        n_fft=n_fft,
        hop_length=hop_length,
    )


def _features(section: _Section) -> FeatureParams:
    return FeatureParams(
        descriptors=_descriptors(section.section("descriptors")),
        classifier=section.choice("classifier", FEATURE_CLASSIFIERS),
        seed=section.integer("seed", minimum=0),
    )


def _musicnn(section: _Section) -> MusicnnParams:
    layers = section.get("layers")
    key = section.key("layers")
    if not isinstance(layers, list) or not layers:
        raise ParamsError(
            key, f"is {layers!r}", f"list one or more of: {', '.join(MUSICNN_LAYERS)}"
        )
    for layer in layers:
        if layer not in MUSICNN_LAYERS:
            raise ParamsError(
                key, f"names unknown layer {layer!r}", f"use only: {', '.join(MUSICNN_LAYERS)}"
            )
    if len(set(layers)) != len(layers):
        raise ParamsError(key, f"repeats a layer in {layers}", "list each layer once")
    return MusicnnParams(
        model=section.choice("model", MUSICNN_MODELS),
        layers=tuple(layers),
        classifier=section.choice("classifier", FEATURE_CLASSIFIERS),
        seed=section.integer("seed", minimum=0),
    )


def _ensemble(section: _Section) -> EnsembleParams:
    members = section.get("members")
    key = section.key("members")
    if not isinstance(members, list) or not members:
        raise ParamsError(key, f"is {members!r}", f"list one or more of: {', '.join(MEMBERS)}")
    for member in members:
        if member not in MEMBERS:
            raise ParamsError(
                key, f"names unknown member {member!r}", f"use only: {', '.join(MEMBERS)}"
            )
    if len(set(members)) != len(members):
        raise ParamsError(key, f"repeats a member in {members}", "list each member once")
    method = section.choice("method", ENSEMBLE_METHODS)
    weights = section.get("weights")
    weights_key = section.key("weights")
    if method == "learned":
        if weights is not None:
            raise ParamsError(
                weights_key,
                f"is {weights!r} but ensemble.method is 'learned', which fits its own weights",
                "set it to null, or set ensemble.method to sum to use fixed weights",
            )
        weights = [1.0] * len(members)
    if weights is None:
        weights = [1.0] * len(members)
    if not isinstance(weights, list) or len(weights) != len(members):
        raise ParamsError(
            weights_key,
            f"is {weights!r}",
            f"give one weight per member of ensemble.members ({len(members)}: {members})",
        )
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, int | float) or math.isnan(weight):
            raise ParamsError(weights_key, f"holds {weight!r}", "use numbers only")
        if weight < 0:
            raise ParamsError(weights_key, f"holds negative weight {weight}", "use weights >= 0")
    if sum(weights) <= 0:
        raise ParamsError(weights_key, "is all zero", "give at least one member a weight > 0")
    return EnsembleParams(
        members=tuple(members), method=method, weights=tuple(float(w) for w in weights)
    )


def _evaluate(section: _Section) -> EvaluateParams:
    return EvaluateParams(
        bootstrap=section.integer("bootstrap", minimum=0),
        seed=section.integer("seed", minimum=0),
    )


def _cross_checks(params: Params) -> None:
    """Checks that involve more than one key."""
    segment = params.segments
    clip_seconds = params.data.clip_seconds
    if segment.seconds > clip_seconds:
        raise ParamsError(
            "segments.seconds",
            f"is {segment.seconds} s, longer than data.clip_seconds ({clip_seconds} s)",
            "use a window no longer than the clip, or 0 for whole clips",
        )
    if 0 < segment.seconds < 0.5:
        raise ParamsError(
            "segments.seconds", f"is {segment.seconds}", "use 0 (whole clips) or at least 0.5 s"
        )
    if params.split.test_size + params.split.val_size * (1 - params.split.test_size) >= 0.95:
        raise ParamsError(
            "split.val_size",
            "leaves almost nothing for training together with split.test_size",
            "lower split.test_size or split.val_size",
        )
    if params.ensemble.method == "learned" and params.split.calibration == 0:
        raise ParamsError(
            "split.calibration",
            "is 0 but ensemble.method is 'learned', which fits its weights on calibration clips",
            "hold some validation clips out, e.g. split.calibration: 0.5",
        )
    if params.data.source == "synthetic" and params.synthetic.seconds < clip_seconds:
        raise ParamsError(
            "data.clip_seconds",
            f"is {clip_seconds} s but synthetic clips last {params.synthetic.seconds} s",
            "set data.clip_seconds to synthetic.seconds (or less)",
        )
    nyquist = params.data.sample_rate / 2
    import librosa

    top_bin_hz = librosa.note_to_hz(params.images.cqt.fmin) * 2 ** (
        (params.images.cqt.n_bins - 1) / params.images.cqt.bins_per_octave
    )
    if top_bin_hz >= nyquist:
        raise ParamsError(
            "images.cqt.n_bins",
            f"reaches {top_bin_hz:.0f} Hz, above the Nyquist frequency ({nyquist:.0f} Hz)",
            "lower images.cqt.n_bins or raise data.sample_rate",
        )


def parse_params(raw: Any) -> Params:
    """Validate a parsed params.yaml mapping and return typed settings.

    Parameters
    ----------
    raw : mapping
        The YAML document as loaded by ``yaml.safe_load``.

    Returns
    -------
    Params

    Raises
    ------
    ParamsError
        On the first missing or wrong value.
    """
    if not isinstance(raw, Mapping):
        raise ParamsError("params.yaml", "is empty or not a mapping", "restore it from git")

    def section(name: str) -> _Section:
        return _Section(raw.get(name), name)

    params = Params(
        data=_data(section("data")),
        synthetic=_synthetic(section("synthetic")),
        split=_split(section("split")),
        segments=_segments(section("segments")),
        images=_images(section("images")),
        train=_train(section("train")),
        features=_features(section("features")),
        musicnn=_musicnn(section("musicnn")),
        ensemble=_ensemble(section("ensemble")),
        evaluate=_evaluate(section("evaluate")),
    )
    _cross_checks(params)
    return params


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read ``path`` and validate it; see :func:`parse_params`."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(str(path), "does not exist", "run from the repository root")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(str(path), f"is not valid YAML ({error})", "fix the syntax") from error
    return parse_params(raw)
