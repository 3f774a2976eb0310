"""Each member kind's implementation as generic code calls it (:class:`~genre_ensemble.
members.base.Predictor`), keyed by kind name: inference and stage ``validate`` use it.

Kept apart from :mod:`genre_ensemble.members.registry` because it reaches into every kind's
implementation (Keras, librosa, scikit-learn), which the other stages must not depend on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genre_ensemble.core.params import Member
from genre_ensemble.members.cnn.kind import NAME as CNN
from genre_ensemble.members.cnn.predictor import PREDICTOR as CNN_PREDICTOR
from genre_ensemble.members.descriptors.kind import NAME as DESCRIPTORS
from genre_ensemble.members.descriptors.predictor import PREDICTOR as DESCRIPTORS_PREDICTOR
from genre_ensemble.members.pretrained.kind import NAME as PRETRAINED
from genre_ensemble.members.pretrained.predictor import PREDICTOR as PRETRAINED_PREDICTOR

if TYPE_CHECKING:  # the protocol, for the annotations only
    from genre_ensemble.members.base import Predictor

PREDICTORS: dict[str, Predictor] = {
    CNN: CNN_PREDICTOR,
    DESCRIPTORS: DESCRIPTORS_PREDICTOR,
    PRETRAINED: PRETRAINED_PREDICTOR,
}


def predictor_of(member: Member) -> Predictor:
    """The implementation of ``member``'s kind."""
    return PREDICTORS[member.kind]
