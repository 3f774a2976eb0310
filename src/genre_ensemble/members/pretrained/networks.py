"""The pretrained networks a member can embed clips with: params
``pretrained.<member>.model``, a checkpoint of the musicnn wheel, and the architecture it has.

Each architecture module (:mod:`.musicnn`, :mod:`.vgg`) builds its network from a checkpoint
and gives each 3 s patch's outputs by name (its ``LAYERS``); a member's clip embedding is the
mean over the clip's patches of the layers its settings name, concatenated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genre_ensemble.core.params import Choices
from genre_ensemble.members.pretrained import musicnn, vgg


@dataclass(frozen=True)
class Architecture:
    """A network family of the wheel: its per-patch outputs and how a clip is embedded."""

    name: str
    layers: tuple[str, ...]  # the per-patch outputs a member may pool
    clip_embedding: Callable[..., np.ndarray]  # (signal, sr, *, model, layers, weights_dir)


MUSICNN = Architecture("musicnn", musicnn.LAYERS, musicnn.clip_embedding)
VGG = Architecture("vgg", vgg.LAYERS, vgg.clip_embedding)

# params pretrained.<member>.model: checkpoint -> its architecture
MODELS: Choices[Architecture] = Choices("pretrained.<member>.model", {
    "MSD_musicnn": MUSICNN,  # musicnn trained on the Million Song Dataset's tags
    "MTT_musicnn": MUSICNN,  # musicnn trained on MagnaTagATune
    "MSD_vgg": VGG,  # a VGG-style network on the same patches, Million Song Dataset
    "MTT_vgg": VGG,  # the same, MagnaTagATune
})


def check_layers(model: str, layers: Sequence[str], *, key: str) -> None:
    """``layers`` are outputs of ``model``'s architecture.

    Raises
    ------
    genre_ensemble.core.params.ParamsError
        Naming ``key`` and the layers the architecture has.
    """
    from genre_ensemble.core.params import ParamsError

    architecture = MODELS.pick(model, key=key.rpartition(".")[0] + ".model")
    for layer in layers:
        if layer not in architecture.layers:
            raise ParamsError(key, f"names layer {layer!r}, which {model} does not have",
                              f"use only: {', '.join(architecture.layers)}")


def clip_embedding(signal: np.ndarray, sr: int, *, model: str, layers: Sequence[str],
                   weights_dir: str | Path) -> np.ndarray:
    """One vector per clip (see :func:`genre_ensemble.members.pretrained.musicnn.clip_embedding`).

    Returns
    -------
    np.ndarray, shape (sum of the layers' sizes,), float32
    """
    return MODELS.pick(model).clip_embedding(signal, sr, model=model, layers=layers,
                                             weights_dir=weights_dir)
