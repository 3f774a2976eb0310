"""Pretrained musicnn embeddings: a Keras 3 port of musicnn (Pons & Serra, 2019).

The network is rebuilt layer by layer after ``musicnn/models.py`` of the musicnn 0.1.0
package and filled with the variables of its checkpoints (see
:mod:`genre_ensemble.members.pretrained.weights`), so neither the package nor TensorFlow's legacy
``tf.compat.v1.layers`` is needed. Differences from musicnn's own extractor, both on purpose:

- the log compression ``log10(10000 * mel + 1)`` is computed in float32; the extractor casts
  the mel spectrogram to float16 first, which overflows to infinity (float16 max 65504, so
  any mel power above 6.55) on ordinary full-scale recordings;
- a signal shorter than one patch (3 s) is repeat-padded (musicnn's training did the same,
  ``pad_short: repeat-pad`` in its config) instead of failing.

TensorFlow and Keras are imported on first use, and each built network is cached per process.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genre_ensemble.members.pretrained.weights import (
    DEFAULT_DIR,
    assign_checkpoint,
    read_checkpoint,
)

logger = logging.getLogger(__name__)

# musicnn's front end (musicnn/configuration.py): log-mel at 16 kHz
SAMPLE_RATE = 16000  # Hz
N_FFT = 512  # samples
HOP_LENGTH = 256  # samples
N_MELS = 96
# 3 s patches: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
N_FRAMES = 187
# librosa.load's default resampler, which musicnn's extractor relies on
RES_TYPE = "soxr_hq"

# Outputs of the network per patch; the clip embedding concatenates CLIP_LAYERS.
LAYERS: tuple[str, ...] = ("mean_pool", "max_pool", "penultimate", "taggram")
CLIP_LAYERS: tuple[str, ...] = ("mean_pool", "max_pool", "penultimate")
CLIP_EMBEDDING_SIZE = 1706  # 753 + 753 + 200 for MSD_musicnn and MTT_musicnn


def log_mel(signal: np.ndarray, sr: int) -> np.ndarray:
    """musicnn's input representation: log-compressed mel power spectrogram, in float32.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio, amplitude in [-1, 1].
    sr : int
        Its sample rate, Hz; resampled to 16 kHz as ``librosa.load`` would.

    Returns
    -------
    np.ndarray, shape (n_frames, 96), float32
        ``log10(10000 * mel + 1)``, one row per 16 ms hop (256 samples at 16 kHz).
    """
    import librosa

    audio = np.asarray(signal, dtype=np.float32)
    if sr != SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=SAMPLE_RATE, res_type=RES_TYPE)
    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                         n_fft=N_FFT, n_mels=N_MELS).T
    return np.log10(np.float32(10000) * mel.astype(np.float32) + np.float32(1))


def split_patches(spectrogram: np.ndarray, *, n_frames: int = N_FRAMES,
                  hop_frames: int = N_FRAMES) -> np.ndarray:
    """Cut a spectrogram into patches as musicnn's ``batch_data`` does.

    Parameters
    ----------
    spectrogram : np.ndarray, shape (n_total_frames, n_mels)
    n_frames : int
        Patch length in frames (187 = 3 s).
    hop_frames : int
        Start-to-start distance in frames; the default (= ``n_frames``) gives no overlap.
        A trailing remainder shorter than a patch is dropped, as in musicnn.

    Returns
    -------
    np.ndarray, shape (n_patches, n_frames, n_mels)
        At least one patch: a spectrogram shorter than ``n_frames`` is tiled to that length.
    """
    if len(spectrogram) == 0:
        raise ValueError("empty spectrogram: the signal has no samples")
    if len(spectrogram) < n_frames:
        repeats = -(-n_frames // len(spectrogram))  # ceiling division
        spectrogram = np.tile(spectrogram, (repeats, 1))[:n_frames]
    starts = range(0, len(spectrogram) - n_frames + 1, hop_frames)
    return np.stack([spectrogram[s:s + n_frames] for s in starts])


def mel_patches(signal: np.ndarray, sr: int, *, hop_frames: int = N_FRAMES) -> np.ndarray:
    """The network's inputs for one signal: 3 s log-mel patches.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Sample rate, Hz.
    hop_frames : int
        Patch start-to-start distance in 16 ms frames (default 187: no overlap).

    Returns
    -------
    np.ndarray, shape (n_patches, 187, 96), float32
        A 30 s clip gives 10 patches (1876 frames).
    """
    return split_patches(log_mel(signal, sr), hop_frames=hop_frames)


# ---------------------------------------------------------------------------------------------
# The network. Keras layers carry the checkpoint's variable scopes as names (conv2d,
# batch_normalization_3, dense_1, ...), in the order musicnn's graph created them, so that the
# weights are assigned by name; kernel shapes are taken from the checkpoint.


def _conv(x, weights: dict[str, np.ndarray], name: str, *, padding: str):
    from keras import layers

    kernel = weights[f"{name}/kernel"]
    return layers.Conv2D(kernel.shape[-1], kernel.shape[:2], padding=padding,
                         activation="relu", name=name)(x)


def _batch_norm(x, name: str):
    from keras import layers

    # tf.compat.v1.layers.batch_normalization's epsilon, which Keras 3 shares (1e-3)
    return layers.BatchNormalization(epsilon=1e-3, name=name)(x)


def _pad_time(x):
    from keras import layers

    # musicnn pads 3 frames each side of the time axis only, then convolves 7 frames "valid"
    return layers.ZeroPadding2D(((3, 3), (0, 0)))(x)


def _frequency_max(x):
    from keras import ops

    # max_pooling2d over the whole (remaining) frequency axis, then squeeze: (T, F, C) -> (T, C)
    return ops.max(x, axis=2)


def _frontend(normalized, weights: dict[str, np.ndarray]) -> list:
    """Timbral (7 x 38 and 7 x 67 "valid" on time-padded input) and temporal (128, 64 and 32
    frames x 1 bin, "same") blocks: conv + ReLU -> batch norm -> max over frequency."""
    padded = _pad_time(normalized)
    timbral = [_frequency_max(_batch_norm(_conv(padded, weights, conv, padding="valid"), bn))
               for conv, bn in (("conv2d", "batch_normalization_1"),
                                ("conv2d_1", "batch_normalization_2"))]
    temporal = [_frequency_max(_batch_norm(_conv(normalized, weights, conv, padding="same"), bn))
                for conv, bn in (("conv2d_2", "batch_normalization_3"),
                                 ("conv2d_3", "batch_normalization_4"),
                                 ("conv2d_4", "batch_normalization_5"))]
    return timbral + temporal


def _midend_layer(x, weights: dict[str, np.ndarray], conv: str, bn: str):
    """(T, C) -> (T, filters): a 7-frame conv over all channels (musicnn's conv2d with a
    (7, C) kernel on the time-padded (T, C, 1) map), ReLU, batch norm."""
    from keras import ops

    expanded = ops.expand_dims(x, -1)
    out = _batch_norm(_conv(_pad_time(expanded), weights, conv, padding="valid"), bn)
    return ops.squeeze(out, axis=2)  # (T, 1, filters) -> (T, filters), musicnn's transpose


def _backend(features, weights: dict[str, np.ndarray]) -> dict:
    """Temporal max and mean pooling, batch norm, dense + ReLU + batch norm (penultimate),
    dense (logits)."""
    from keras import layers, ops

    max_pool = ops.max(features, axis=1)
    mean_pool = ops.mean(features, axis=1)
    # musicnn concatenates (C, 1) max and mean maps on the last axis and flattens: interleaved
    pooled = ops.reshape(ops.stack([max_pool, mean_pool], axis=-1), (-1, 2 * features.shape[-1]))
    pooled = _batch_norm(pooled, "batch_normalization_9")
    hidden = layers.Dense(weights["dense/kernel"].shape[1], activation="relu",
                          name="dense")(pooled)
    penultimate = _batch_norm(hidden, "batch_normalization_10")
    logits = layers.Dense(weights["dense_1/kernel"].shape[1], name="dense_1")(penultimate)
    return {"mean_pool": mean_pool, "max_pool": max_pool, "penultimate": penultimate,
            "taggram": ops.sigmoid(logits)}


def build_network(weights: dict[str, np.ndarray], *, n_frames: int = N_FRAMES):
    """The musicnn network as a Keras 3 functional model, with ``weights`` loaded.

    Parameters
    ----------
    weights : dict
        Checkpoint variables from :func:`genre_ensemble.members.pretrained.weights.read_checkpoint`.
    n_frames : int
        Patch length in frames.

    Returns
    -------
    keras.Model
        Input ``(batch, n_frames, 96)`` log-mel patches; outputs a dict of ``mean_pool``
        (batch, 753), ``max_pool`` (batch, 753), ``penultimate`` (batch, 200) and ``taggram``
        (batch, 50: tag probabilities). Call it with ``training=False`` (batch norm uses the
        trained moving statistics, dropout is off).
    """
    import keras
    from keras import layers, ops

    inputs = keras.Input((n_frames, N_MELS), name="log_mel")
    normalized = _batch_norm(ops.expand_dims(inputs, -1), "batch_normalization")
    frontend = ops.concatenate(_frontend(normalized, weights), axis=-1)  # (T, 561)
    cnn1 = _midend_layer(frontend, weights, "conv2d_5", "batch_normalization_6")
    cnn2 = layers.Add()([_midend_layer(cnn1, weights, "conv2d_6", "batch_normalization_7"),
                         cnn1])
    cnn3 = layers.Add()([_midend_layer(cnn2, weights, "conv2d_7", "batch_normalization_8"),
                         cnn2])
    features = ops.concatenate([frontend, cnn1, cnn2, cnn3], axis=-1)  # (T, 753), dense links
    model = keras.Model(inputs, _backend(features, weights), name="musicnn")
    assign_checkpoint(model, weights)
    return model


@functools.lru_cache(maxsize=4)
def _cached_network(model: str, folder: Path):
    import tensorflow as tf

    network = build_network(read_checkpoint(model, folder=folder))
    # one traced graph for any number of patches: about 30 % less CPU per call than eager
    # Keras on one core (XLA would save more but compiles again for every batch size)
    infer = tf.function(lambda patches: network(patches, training=False),
                        input_signature=[tf.TensorSpec((None, N_FRAMES, N_MELS), tf.float32)])
    logger.info("musicnn network %s built from %s", model, folder)
    return network, infer


def load_network(model: str = "MSD_musicnn", *, weights_dir: str | Path = DEFAULT_DIR):
    """The pretrained network, built once per process and model.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn"}
        Checkpoint: trained on the Million Song Dataset or MagnaTagATune (50 tags each).
    weights_dir : str or Path
        Folder holding the musicnn wheel; a one-line
        :class:`~genre_ensemble.members.pretrained.weights.MissingWeightsError` says how to fill it.

    Returns
    -------
    keras.Model
        See :func:`build_network`.
    """
    return _cached_network(model, Path(weights_dir).resolve())[0]


def embed_patches(patches: np.ndarray, *, model: str = "MSD_musicnn",
                  weights_dir: str | Path = DEFAULT_DIR) -> dict[str, np.ndarray]:
    """Per-patch outputs of the network.

    Parameters
    ----------
    patches : np.ndarray, shape (n_patches, 187, 96)
        From :func:`mel_patches`.
    model, weights_dir
        See :func:`load_network`.

    Returns
    -------
    dict
        ``mean_pool`` (n_patches, 753), ``max_pool`` (n_patches, 753), ``penultimate``
        (n_patches, 200), ``taggram`` (n_patches, 50), all float32.
    """
    _, infer = _cached_network(model, Path(weights_dir).resolve())
    outputs = infer(np.asarray(patches, dtype=np.float32))
    return {name: np.asarray(outputs[name], dtype=np.float32) for name in LAYERS}


def embed(signal: np.ndarray, sr: int, *, model: str = "MSD_musicnn",
          weights_dir: str | Path = DEFAULT_DIR, hop_frames: int = N_FRAMES
          ) -> dict[str, np.ndarray]:
    """musicnn's outputs for each 3 s patch of a signal.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Sample rate, Hz.
    model, weights_dir
        See :func:`load_network`.
    hop_frames : int
        Patch start-to-start distance in 16 ms frames (default: no overlap).

    Returns
    -------
    dict
        See :func:`embed_patches`; ``n_patches`` is 10 for a 30 s clip.
    """
    return embed_patches(mel_patches(signal, sr, hop_frames=hop_frames), model=model,
                         weights_dir=weights_dir)


def clip_embedding(signal: np.ndarray, sr: int, *, model: str = "MSD_musicnn",
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
        (1706,) for the default layers: mean_pool 753, max_pool 753, penultimate 200.
    """
    unknown = [name for name in layers if name not in LAYERS]
    if unknown:
        raise ValueError(f"unknown musicnn layers {unknown}; choose from {', '.join(LAYERS)}")
    outputs = embed(signal, sr, model=model, weights_dir=weights_dir)
    return np.concatenate([outputs[name].mean(axis=0) for name in layers]).astype(np.float32)
