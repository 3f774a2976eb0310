"""The registry of member kinds, and params.yaml read with every kind's sections.

Kinds are keyed by name; a member names its kind (:class:`genre_ensemble.core.params.Member`),
and ``params.members`` holds every member params.yaml declares, in pipeline order: the CNN
members, the descriptors member, then the pretrained ones in params.yaml's order. Light: the
kinds' ``kind.py`` modules only (their implementations are in
:mod:`genre_ensemble.members.predictors`), so every stage may import this.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from genre_ensemble.core.params import Member, Params, read_params
from genre_ensemble.core.params import parse_params as parse_with
from genre_ensemble.core.paths import PARAMS_FILE
from genre_ensemble.members.cnn.kind import KIND as CNN
from genre_ensemble.members.descriptors.kind import KIND as DESCRIPTORS
from genre_ensemble.members.pretrained.kind import KIND as PRETRAINED

if TYPE_CHECKING:  # the protocol, for the annotations only
    from genre_ensemble.members.base import MemberKind

KINDS: dict[str, MemberKind] = {kind.name: kind for kind in (CNN, DESCRIPTORS, PRETRAINED)}


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read ``path`` and validate all of it, every kind's sections included.

    Raises
    ------
    genre_ensemble.core.params.ParamsError
        On the first missing, wrong or unknown key, naming it and the fix.
    """
    return parse_params(read_params(path))


def parse_params(raw: Any) -> Params:
    """Validate a parsed params.yaml mapping with every kind's sections
    (:func:`genre_ensemble.core.params.parse_params` with :data:`KINDS`)."""
    return parse_with(raw, list(KINDS.values()))


def kind_of(member: Member) -> MemberKind:
    """The kind of ``member``."""
    return KINDS[member.kind]


def is_placeholder(member: Member, params: Params) -> bool:
    """Whether ``member``'s stages write only a placeholder: an opt-in member that is not in
    ``ensemble.members`` (its stages then need nothing, e.g. no pretrained weights)."""
    return kind_of(member).opt_in and member.name not in params.ensemble.members
