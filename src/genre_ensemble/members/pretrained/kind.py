"""The pretrained kind: a scikit-learn classifier on clip embeddings of a pretrained network.

The networks are the checkpoints of the musicnn 0.1.0 wheel (:mod:`.weights`): the musicnn
architecture (:mod:`.musicnn`) and a VGG-style one (:mod:`.vgg`), each trained on the Million
Song Dataset (MSD) or MagnaTagATune (MTT). Members: the entries of params section
``pretrained``, name -> settings, so several checkpoints can be members side by side. Stage
``embed@<member>`` embeds every usable clip, ``fit_embeddings@<member>`` fits the classifier.

Opt-in: the weights are a 29 MB download (``make musicnn``) the default run does not need, so
a member's stages write empty placeholders unless it is in ``ensemble.members``. Light:
imports only core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genre_ensemble.core.errors import StageError
from genre_ensemble.core.params import Member, Params, Section, cross_fit_folds

NAME = "pretrained"


@dataclass(frozen=True)
class PretrainedParams:
    """One pretrained member (an entry of params section ``pretrained``)."""

    model: str  # networks.MODELS: a checkpoint of the wheel
    layers: tuple[str, ...]  # per-patch outputs averaged over a clip's patches, concatenated
    classifier: str  # members.classifier.CLASSIFIERS
    seed: int
    cross_fit: int  # 0: fit on train | k >= 2: fit on train + val, predicted out of fold


class PretrainedKind:
    """See the module docstring."""

    name = NAME
    sections = ("pretrained",)
    model_suffix = ".joblib"
    opt_in = True
    curves = False
    images = False

    def parse(self, sections: Mapping[str, Section]) -> tuple[dict[str, Any], list[Member]]:
        members = []
        for name, section in sections["pretrained"].sections().items():
            settings = PretrainedParams(
                model=section.name("model"),
                layers=section.names("layers", what="layer"),
                classifier=section.name("classifier"),
                seed=section.integer("seed", minimum=0),
                cross_fit=cross_fit_folds(section),
            )
            members.append(Member(name, NAME, settings))
        return {"pretrained": {m.name: m.settings for m in members}}, members

    def check(self, params: Params) -> None:
        """No setting of this kind depends on another section."""


KIND = PretrainedKind()


def pretrained_member(params: Params, name: str) -> Member:
    """The pretrained member ``name`` params.yaml declares (its stages' argument).

    Raises
    ------
    StageError
        When params.yaml declares no pretrained member of that name.
    """
    member = params.members.get(name)
    if member is None or member.kind != NAME:
        names = ", ".join(m.name for m in params.of_kind(NAME)) or "none"
        raise StageError(f"{name!r} is not a pretrained member of params.yaml (its pretrained "
                         f"members: {names}); add it under pretrained: or fix dvc.yaml")
    return member
