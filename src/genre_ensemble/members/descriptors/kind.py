"""The descriptors kind: hand-made audio descriptors of every window and a scikit-learn
classifier on them.

One member, ``features``: stage ``features`` computes the descriptors of every window of every
usable clip, stage ``fit_features`` fits the classifier on the training windows (or, with
``cross_fit``, on the train and val windows, those predicted out of fold) and predicts the
others. Settings: params section ``features``. Light: imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genre_ensemble.core.params import Member, Params, ParamsError, Section, cross_fit_folds

NAME = "descriptors"
MEMBER = "features"  # the member's name, as ensemble.members lists it


@dataclass(frozen=True)
class DescriptorParams:
    """Frame settings of the descriptors (stage ``features``)."""

    n_mfcc: int  # MFCCs per frame
    n_fft: int  # STFT window, samples
    hop_length: int  # samples between frames


@dataclass(frozen=True)
class FeatureParams:
    descriptors: DescriptorParams
    classifier: str  # members.classifier.CLASSIFIERS
    cross_fit: int  # 0: fit on train | k >= 2: fit on train + val, those predicted out of fold
    seed: int


def _descriptors(section: Section) -> DescriptorParams:
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


class DescriptorsKind:
    """See the module docstring."""

    name = NAME
    sections = ("features",)
    model_suffix = ".joblib"
    opt_in = False
    curves = False
    images = False

    def parse(self, sections: Mapping[str, Section]) -> tuple[dict[str, Any], list[Member]]:
        section = sections["features"]
        settings = FeatureParams(
            descriptors=_descriptors(section.section("descriptors")),
            classifier=section.name("classifier"),
            cross_fit=cross_fit_folds(section),
            seed=section.integer("seed", minimum=0),
        )
        return {"features": settings}, [Member(MEMBER, NAME, settings)]

    def check(self, params: Params) -> None:
        """No setting of this kind depends on another section."""


KIND = DescriptorsKind()
