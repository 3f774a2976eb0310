"""Pretrained vgg embeddings: a Keras 3 port of musicnn's vgg baseline (Pons & Serra, 2019).

The musicnn 0.1.0 wheel ships, next to its two musicnn checkpoints, ``MSD_vgg`` and
``MTT_vgg``: a VGG-style CNN on the same 3 s log-mel patches (187 frames x 96 mel bands, see
:mod:`genre_ensemble.members.pretrained.musicnn`), trained on the Million Song Dataset and on
MagnaTagATune, 50 tags each. ``musicnn/models.py`` (``vgg(x, is_training, num_classes,
num_filters)``, which ``define_model`` calls with 128 filters for both) builds:

======================  ===================================================  ===============
block                   layers                                               output (T, F, C)
======================  ===================================================  ===============
input                   batch norm over the whole patch (one channel)        187 x 96 x 1
1 (``1CNN``)            3 x 3 conv "same" + ReLU, batch norm, max pool 4 x 1 92 x 48 x 128
                        stride 2 x 2 ("valid": every other mel band kept)
2 (``2CNN``)            3 x 3 conv + ReLU, batch norm, max pool 2 x 2 / 2    46 x 24 x 128
3 (``3CNN``)            same                                                 23 x 12 x 128
4 (``4CNN``)            same                                                 11 x 6 x 128
5 (``5CNN``)            3 x 3 conv + ReLU, batch norm, max pool 4 x 4 / 4    2 x 1 x 128
output (``dense``)      flatten (256), dense to 50 logits; sigmoid: taggram  50
======================  ===================================================  ===============

Dropout (0.25 after pools 1-4, 0.5 before the dense layer) is off at inference and left out.
Because the dense layer reads the flattened 2 x 1 x 128 pool5 map, the network only accepts
patches of 130 to 193 frames (musicnn's extractor insists on 3 s, 187 frames).

Per-patch outputs (:data:`LAYERS`). musicnn's extractor returns the feature maps pool1..pool5
themselves; they are position-bound and large (pool1: 565 248 values per patch), so the port
reduces each one, as musicnn's own back end reduces its feature map, to ``pool<k>_mean`` and
``pool<k>_max`` (128 values each): mean and max of each filter over time and frequency, i.e.
how much of a learned pattern a patch holds and how strongly it occurs anywhere, invariant to
where in the patch it is. pool5 has only two positions (2 x 1), so ``pool5_mean`` and
``pool5_max`` together are the whole pool5 map up to the order of its two halves (the pair is
max and 2 * mean - max): what the tag layer reads, the vgg counterpart of musicnn's
``penultimate``. ``taggram`` is the 50 tag probabilities.

:data:`CLIP_LAYERS`, the default clip embedding, is pool3, pool4 and pool5, mean and max each (768
values): the three deepest maps, mid-level patterns (pool3, pool4: 23 x 12 and 11 x 6 positions, so
their mean and max are real summaries) and what the tags are computed from (pool5), the counterpart
of musicnn's default ``mean_pool``, ``max_pool``, ``penultimate``. A probe on real GTZAN audio
(``bench/results/vgg_port_check.json``, ``layer_probe``: standardised logistic regression,
stratified 5-fold CV; 409 excerpts of 2-3 s and 100 whole clips) backs it: with MSD_vgg (excerpts /
whole clips) 77.9 % / 90.5 %, against 75.1 % / 88.5 % for pool4 + pool5 and 68-71 % / 84-89 % for
pool3, pool4 or pool5 alone; all five pools (1280 values) give 78.8 % / 89.0 %, no clear gain for
1.7 times the size, and pool1 or pool2 alone are the weakest (50-65 % on the excerpts). The taggram
alone is compact but weaker (71.1 % / 86.0 %; MTT_vgg 59.1 % / 73.0 %) and adds at most a point to
pool4 + pool5, so it is left out as in musicnn's default. MSD_vgg beats MTT_vgg on the excerpts for
every multi-pool set (by 5-7 points), as MSD_musicnn beats MTT_musicnn. The sets are small and the
same clips chose and scored the layers: a guide, not a result.

Weights are assigned by the checkpoint's variable names (the Keras layers carry them), with a
check that none is left unused; TensorFlow and Keras are imported on first use, and each built
network is cached per process.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genre_ensemble.members.pretrained.musicnn import N_FRAMES, N_MELS, mel_patches
from genre_ensemble.members.pretrained.weights import (
    DEFAULT_DIR,
    assign_checkpoint,
    read_checkpoint,
)

logger = logging.getLogger(__name__)

N_FILTERS = 128  # define_model's num_filters for MSD_vgg and MTT_vgg
# (conv scope, batch-norm scope, pool size, pool strides) per block, as in musicnn/models.py
BLOCKS: tuple[tuple[str, str, tuple[int, int], tuple[int, int]], ...] = (
    ("1CNN", "batch_normalization_1", (4, 1), (2, 2)),
    ("2CNN", "batch_normalization_2", (2, 2), (2, 2)),
    ("3CNN", "batch_normalization_3", (2, 2), (2, 2)),
    ("4CNN", "batch_normalization_4", (2, 2), (2, 2)),
    ("5CNN", "batch_normalization_5", (4, 4), (4, 4)),
)
# musicnn's extractor's features for the vgg models: (T, F, C) maps per patch (187 frames)
FEATURE_MAPS: tuple[str, ...] = tuple(f"pool{k}" for k in range(1, len(BLOCKS) + 1))
MAP_SHAPES: dict[str, tuple[int, int, int]] = {
    "pool1": (92, 48, N_FILTERS), "pool2": (46, 24, N_FILTERS), "pool3": (23, 12, N_FILTERS),
    "pool4": (11, 6, N_FILTERS), "pool5": (2, 1, N_FILTERS)}

# Per-patch vectors; the clip embedding concatenates CLIP_LAYERS (see the module docstring).
LAYERS: tuple[str, ...] = (*(f"{pool}_{stat}" for pool in FEATURE_MAPS
                             for stat in ("mean", "max")), "taggram")
CLIP_LAYERS: tuple[str, ...] = ("pool3_mean", "pool3_max", "pool4_mean", "pool4_max",
                                "pool5_mean", "pool5_max")
CLIP_EMBEDDING_SIZE = 768  # 6 x 128
LAYER_SIZES: dict[str, int] = {name: (50 if name == "taggram" else N_FILTERS) for name in LAYERS}


# ---------------------------------------------------------------------------------------------
# The network. Keras layers carry the checkpoint's variable scopes as names (1CNN .. 5CNN,
# batch_normalization .. batch_normalization_5, dense), so that the weights go by name.


def _conv(x, weights: dict[str, np.ndarray], name: str):
    from keras import layers

    kernel = weights[f"{name}/kernel"]
    return layers.Conv2D(kernel.shape[-1], kernel.shape[:2], padding="same",
                         activation="relu", name=name)(x)


def _batch_norm(x, name: str):
    from keras import layers

    # tf.compat.v1.layers.batch_normalization's epsilon, which Keras 3 shares (1e-3)
    return layers.BatchNormalization(epsilon=1e-3, name=name)(x)


def _pooled_size(n_frames: int) -> int:
    """Values in the flattened pool5 map for ``n_frames``-frame patches ("valid" pooling)."""
    time, frequency = n_frames, N_MELS
    for _, _, size, strides in BLOCKS:
        time = (time - size[0]) // strides[0] + 1
        frequency = (frequency - size[1]) // strides[1] + 1
    return max(time, 0) * max(frequency, 0) * N_FILTERS


def build_network(weights: dict[str, np.ndarray], *, n_frames: int = N_FRAMES,
                  feature_maps: bool = False):
    """The vgg network as a Keras 3 functional model, with ``weights`` loaded.

    Parameters
    ----------
    weights : dict
        Checkpoint variables from :func:`read_checkpoint` (``MSD_vgg`` or ``MTT_vgg``).
    n_frames : int
        Patch length in 16 ms frames: 187 (3 s) as trained; 130 to 193 fit the dense layer.
    feature_maps : bool
        Also output the pool maps ``pool1`` .. ``pool5``, shaped (batch, T, F, 128) as in the
        table of the module docstring: what musicnn's extractor returns, for checks (pool1 is
        565 248 values per patch, so off by default).

    Returns
    -------
    keras.Model
        Input ``(batch, n_frames, 96)`` log-mel patches; outputs a dict of ``pool1_mean``,
        ``pool1_max`` .. ``pool5_mean``, ``pool5_max`` (batch, 128 each: a filter's mean or
        max over time and frequency) and ``taggram`` (batch, 50: tag probabilities). Call it
        with ``training=False`` (batch norm uses the trained moving statistics).

    Raises
    ------
    ValueError
        When ``n_frames`` does not give the 256 values the dense layer reads, or a checkpoint
        variable has no layer.
    """
    import keras
    from keras import layers, ops

    flat_size = _pooled_size(n_frames)
    if flat_size != weights["dense/kernel"].shape[0]:
        raise ValueError(f"vgg patches of {n_frames} frames give {flat_size} pool5 values, the "
                         f"dense layer reads {weights['dense/kernel'].shape[0]}: use 130 to 193 "
                         f"frames ({N_FRAMES} = 3 s as trained)")
    inputs = keras.Input((n_frames, N_MELS), name="log_mel")
    x = _batch_norm(ops.expand_dims(inputs, -1), "batch_normalization")
    outputs, maps = {}, {}
    for pool, (conv, bn, size, strides) in zip(FEATURE_MAPS, BLOCKS, strict=True):
        x = _batch_norm(_conv(x, weights, conv), bn)
        x = layers.MaxPooling2D(size, strides, padding="valid", name=pool)(x)
        maps[pool] = x
        # mean over frequency, then time (the same value, equal counts): one float32 reduction
        # over all 92 x 48 pool1 positions loses up to 1e-5 of the largest mean where positive
        # and negative values cancel, two shorter ones about 1e-7
        outputs[f"{pool}_mean"] = ops.mean(ops.mean(x, axis=2), axis=1)
        outputs[f"{pool}_max"] = ops.max(x, axis=(1, 2))
    # flatten in (T, F, C) order, as tf.compat.v1.layers.flatten does on NHWC maps
    logits = layers.Dense(weights["dense/kernel"].shape[1], name="dense")(layers.Flatten()(x))
    outputs["taggram"] = ops.sigmoid(logits)
    if feature_maps:
        outputs.update(maps)
    model = keras.Model(inputs, outputs, name="vgg")
    assign_checkpoint(model, weights)
    return model


@functools.lru_cache(maxsize=4)
def _cached_network(model: str, folder: Path):
    import tensorflow as tf

    network = build_network(read_checkpoint(model, folder=folder))
    # one traced graph for any number of patches (as the musicnn port does)
    infer = tf.function(lambda patches: network(patches, training=False),
                        input_signature=[tf.TensorSpec((None, N_FRAMES, N_MELS), tf.float32)])
    logger.info("vgg network %s built from %s", model, folder)
    return network, infer


def load_network(model: str = "MSD_vgg", *, weights_dir: str | Path = DEFAULT_DIR):
    """The pretrained network, built once per process and model.

    Parameters
    ----------
    model : {"MSD_vgg", "MTT_vgg"}
        Checkpoint: trained on the Million Song Dataset or MagnaTagATune (50 tags each).
    weights_dir : str or Path
        Folder holding the musicnn wheel (the same one the musicnn member reads).

    Returns
    -------
    keras.Model
        See :func:`build_network`.
    """
    return _cached_network(model, Path(weights_dir).resolve())[0]


def embed_patches(patches: np.ndarray, *, model: str = "MSD_vgg",
                  weights_dir: str | Path = DEFAULT_DIR) -> dict[str, np.ndarray]:
    """Per-patch outputs of the network.

    Parameters
    ----------
    patches : np.ndarray, shape (n_patches, 187, 96)
        Log-mel patches from :func:`mel_patches`.
    model, weights_dir
        See :func:`load_network`.

    Returns
    -------
    dict
        ``pool1_mean`` .. ``pool5_max`` (n_patches, 128 each) and ``taggram`` (n_patches, 50),
        all float32.
    """
    _, infer = _cached_network(model, Path(weights_dir).resolve())
    outputs = infer(np.asarray(patches, dtype=np.float32))
    return {name: np.asarray(outputs[name], dtype=np.float32) for name in LAYERS}


def embed(signal: np.ndarray, sr: int, *, model: str = "MSD_vgg",
          weights_dir: str | Path = DEFAULT_DIR, hop_frames: int = N_FRAMES
          ) -> dict[str, np.ndarray]:
    """The vgg outputs for each 3 s patch of a signal.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio, amplitude in [-1, 1].
    sr : int
        Sample rate, Hz (resampled to 16 kHz).
    model, weights_dir
        See :func:`load_network`.
    hop_frames : int
        Patch start-to-start distance in 16 ms frames (default 187: no overlap, as musicnn's
        extractor without ``input_overlap``).

    Returns
    -------
    dict
        See :func:`embed_patches`; ``n_patches`` is 10 for a 30 s clip, 1 for a signal shorter
        than 3 s (repeat-padded).
    """
    return embed_patches(mel_patches(signal, sr, hop_frames=hop_frames), model=model,
                         weights_dir=weights_dir)


def clip_embedding(signal: np.ndarray, sr: int, *, model: str = "MSD_vgg",
                   layers: Sequence[str] = CLIP_LAYERS,
                   weights_dir: str | Path = DEFAULT_DIR) -> np.ndarray:
    """One vector per clip: each layer's outputs averaged over the patches, concatenated.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Sample rate, Hz.
    model, weights_dir
        See :func:`load_network`.
    layers : sequence of str
        Which of :data:`LAYERS`, in this order.

    Returns
    -------
    np.ndarray, shape (sum of the layers' sizes,), float32
        (768,) for the default layers: pool3_mean, pool3_max .. pool5_mean, pool5_max.
    """
    unknown = [name for name in layers if name not in LAYERS]
    if unknown:
        raise ValueError(f"unknown vgg layers {unknown}; choose from {', '.join(LAYERS)}")
    outputs = embed(signal, sr, model=model, weights_dir=weights_dir)
    return np.concatenate([outputs[name].mean(axis=0) for name in layers]).astype(np.float32)
