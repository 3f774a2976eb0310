"""The CNN kind: one network trained from scratch per image of the audio (the paper's members).

Members: one per representation of :data:`REPRESENTATIONS` (dB STFT, dB constant-Q, chroma),
named after it; stage ``images`` renders every representation's window images in one pass
(one STFT and one CQT per clip), stage ``train@<member>`` trains and predicts one member.
Settings: params sections ``images`` (how the images look) and ``train`` (how every CNN
member is trained). Light: imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genre_ensemble.core.params import Member, Params, ParamsError, Section

NAME = "cnn"
# The images, in pipeline order; each is a member of its own (dvc.yaml's train stages and the
# images stage's outputs list the same names, which tests/test_dvc_deps.py checks).
REPRESENTATIONS: tuple[str, ...] = ("stft", "cqt", "chroma")


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
    style: str  # representations.STYLES
    height: int
    width: int
    top_db: float
    stft: StftParams
    cqt: CqtParams
    chroma: ChromaParams

    def hop_length(self, representation: str) -> int:
        """Samples between the frames (columns) of ``representation``."""
        return getattr(self, representation).hop_length


@dataclass(frozen=True)
class SpecAugmentParams:
    time_masks: int
    freq_masks: int
    max_fraction: float


@dataclass(frozen=True)
class TrainParams:
    architecture: str  # networks.ARCHITECTURES
    filters: int
    dropout: float
    optimizer: str  # networks.OPTIMIZERS
    learning_rate: float
    momentum: float
    lr_schedule: str  # networks.SCHEDULES
    epochs: int
    batch_size: int
    windows_per_clip: int  # training windows per clip and epoch, drawn afresh; 0: all
    early_stopping: int
    seed: int
    threads: int  # TensorFlow intra-op threads: results depend on it, so it is fixed here
    cpu_kernels: str  # runtime.CPU_KERNELS: which CPU kernels TensorFlow runs (other weights)
    spec_augment: SpecAugmentParams


def _images(section: Section) -> ImageParams:
    stft, cqt, chroma = section.section("stft"), section.section("cqt"), section.section("chroma")
    fmin = cqt.text("fmin")
    # local: only this check needs it; outside the try, so that a missing librosa is reported
    # as such and not as a wrong note name
    import librosa

    try:
        librosa.note_to_hz(fmin)
    except Exception as error:  # librosa raises ParameterError for a malformed note name
        raise ParamsError(cqt.key("fmin"), f"is {fmin!r}", "use a note name such as C1") from error
    return ImageParams(
        style=section.name("style"),
        height=section.integer("height", minimum=16),
        width=section.integer("width", minimum=16),
        top_db=section.number("top_db", low=1.0),
        stft=StftParams(n_fft=stft.integer("n_fft", minimum=64),
                        hop_length=stft.integer("hop_length", minimum=16)),
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


def _train(section: Section) -> TrainParams:
    augment = section.section("spec_augment")
    return TrainParams(
        architecture=section.name("architecture"),
        filters=section.integer("filters", minimum=1),
        dropout=section.number("dropout", low=0.0, high=1.0, high_open=True),
        optimizer=section.name("optimizer"),
        learning_rate=section.number("learning_rate", low=0.0, low_open=True),
        momentum=section.number("momentum", low=0.0, high=1.0, high_open=True),
        lr_schedule=section.name("lr_schedule"),
        epochs=section.integer("epochs", minimum=1),
        batch_size=section.integer("batch_size", minimum=1),
        windows_per_clip=section.integer("windows_per_clip", minimum=0),
        early_stopping=section.integer("early_stopping", minimum=0),
        seed=section.integer("seed", minimum=0),
        threads=section.integer("threads", minimum=1),
        cpu_kernels=section.name("cpu_kernels"),
        spec_augment=SpecAugmentParams(
            time_masks=augment.integer("time_masks", minimum=0),
            freq_masks=augment.integer("freq_masks", minimum=0),
            max_fraction=augment.number("max_fraction", low=0.0, high=0.5),
        ),
    )


class CnnKind:
    """See the module docstring."""

    name = NAME
    sections = ("images", "train")
    model_suffix = ".keras"
    opt_in = False
    curves = True
    images = True

    def parse(self, sections: Mapping[str, Section]) -> tuple[dict[str, Any], list[Member]]:
        settings = {"images": _images(sections["images"]), "train": _train(sections["train"])}
        return settings, [Member(name, NAME, name) for name in REPRESENTATIONS]

    def check(self, params: Params) -> None:
        nyquist = params.data.sample_rate / 2
        import librosa

        cqt = params.images.cqt
        top_bin_hz = librosa.note_to_hz(cqt.fmin) * 2 ** ((cqt.n_bins - 1) / cqt.bins_per_octave)
        if top_bin_hz >= nyquist:
            raise ParamsError(
                "images.cqt.n_bins",
                f"reaches {top_bin_hz:.0f} Hz, above the Nyquist frequency ({nyquist:.0f} Hz)",
                "lower images.cqt.n_bins or raise data.sample_rate",
            )


KIND = CnnKind()
