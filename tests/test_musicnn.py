"""The pretrained musicnn member: front end, network, offline weights and the missing-weights
message. The network tests need the wheel that `make musicnn` downloads (`make test` does)."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from genre_ensemble.members.pretrained import musicnn
from genre_ensemble.members.pretrained import weights as musicnn_weights
from genre_ensemble.members.pretrained.weights import MissingWeightsError
from tests.conftest import REPO, tone

WEIGHTS_DIR = REPO / musicnn_weights.DEFAULT_DIR
needs_weights = pytest.mark.skipif(
    not (WEIGHTS_DIR / musicnn_weights.WHEEL_NAME).is_file(),
    reason="musicnn weights absent: run `make musicnn` (`make test` does)")
SR = 22050


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _noise(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.1, int(seconds * SR)).astype(np.float32)


@pytest.fixture(scope="module")
def network():
    """The MSD network, read and built with the network refused (so no lazy fetch hides)."""
    with pytest.MonkeyPatch.context() as patch:
        _no_network(patch)
        musicnn._cached_network.cache_clear()
        return musicnn.load_network("MSD_musicnn", weights_dir=WEIGHTS_DIR)


def test_mel_patches_count_and_float32_range():
    # a full-scale square wave: mel power far above 6.55, where musicnn's float16 cast overflows
    square = np.sign(tone(220.0, seconds=7.0)).astype(np.float32)
    patches = musicnn.mel_patches(square, SR)
    n_frames = 1 + int(7.0 * musicnn.SAMPLE_RATE) // musicnn.HOP_LENGTH  # centred frames
    assert patches.shape == (n_frames // musicnn.N_FRAMES, musicnn.N_FRAMES, musicnn.N_MELS)
    assert patches.dtype == np.float32
    assert np.isfinite(patches).all()
    # 10000 * mel exceeds float16's largest value here: musicnn's float16 cast gives infinity
    assert patches.max() > np.log10(float(np.finfo(np.float16).max) + 1)


def test_patches_do_not_overlap_and_short_signals_are_repeat_padded():
    spectrogram = np.arange(500 * 3, dtype=np.float32).reshape(500, 3)
    patches = musicnn.split_patches(spectrogram, n_frames=187)
    assert patches.shape == (2, 187, 3)
    np.testing.assert_array_equal(patches[1], spectrogram[187:374])
    short = musicnn.split_patches(spectrogram[:100], n_frames=187)
    assert short.shape == (1, 187, 3)
    np.testing.assert_array_equal(short[0, 100:], spectrogram[:87])
    with pytest.raises(ValueError, match="empty"):
        musicnn.split_patches(spectrogram[:0])


def test_resampling_matches_a_native_16k_signal():
    signal16k = tone(440.0, seconds=4.0, sr=musicnn.SAMPLE_RATE)
    signal22k = tone(440.0, seconds=4.0, sr=SR)
    native, resampled = musicnn.log_mel(signal16k, musicnn.SAMPLE_RATE), musicnn.log_mel(
        signal22k, SR)
    assert native.shape == resampled.shape
    peak_band = native.mean(axis=0).argmax()
    assert resampled.mean(axis=0).argmax() == peak_band
    np.testing.assert_allclose(resampled[10:-10], native[10:-10], atol=0.05)


@needs_weights
def test_embed_shapes_and_determinism(network):
    signal = _noise(7.0, seed=1)
    first = musicnn.embed(signal, SR, weights_dir=WEIGHTS_DIR)
    second = musicnn.embed(signal.copy(), SR, weights_dir=WEIGHTS_DIR)
    n_patches = len(musicnn.mel_patches(signal, SR))
    sizes = {"mean_pool": 753, "max_pool": 753, "penultimate": 200, "taggram": 50}
    assert {name: out.shape for name, out in first.items()} == {
        name: (n_patches, size) for name, size in sizes.items()}
    for name in sizes:
        assert first[name].dtype == np.float32 and np.isfinite(first[name]).all()
        np.testing.assert_array_equal(first[name], second[name])
    assert ((first["taggram"] > 0) & (first["taggram"] < 1)).all()


@needs_weights
def test_batch_norm_in_inference_mode_patches_are_independent(network):
    patches = musicnn.mel_patches(_noise(7.0, seed=2), SR)
    together = musicnn.embed_patches(patches, weights_dir=WEIGHTS_DIR)
    alone = musicnn.embed_patches(patches[1:2], weights_dir=WEIGHTS_DIR)
    for name in musicnn.LAYERS:
        np.testing.assert_allclose(together[name][1], alone[name][0], rtol=1e-4, atol=1e-5)


@needs_weights
def test_clip_embedding_is_the_patch_mean_and_tells_sounds_apart(network):
    noise = _noise(7.0, seed=3)
    embedding = musicnn.clip_embedding(noise, SR, weights_dir=WEIGHTS_DIR)
    assert embedding.shape == (musicnn.CLIP_EMBEDDING_SIZE,)
    outputs = musicnn.embed(noise, SR, weights_dir=WEIGHTS_DIR)
    expected = np.concatenate([outputs[name].mean(axis=0) for name in musicnn.CLIP_LAYERS])
    np.testing.assert_allclose(embedding, expected, rtol=1e-6)
    chord = sum(tone(f, seconds=7.0) for f in (220.0, 277.2, 329.6)) / 3
    other = musicnn.clip_embedding(chord, SR, weights_dir=WEIGHTS_DIR)
    assert np.abs(other - embedding).max() > 0.1 * np.abs(embedding).max()
    penultimate = musicnn.clip_embedding(noise, SR, layers=("penultimate",),
                                         weights_dir=WEIGHTS_DIR)
    np.testing.assert_allclose(penultimate, embedding[-200:], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown musicnn layers"):
        musicnn.clip_embedding(noise, SR, layers=("logits",), weights_dir=WEIGHTS_DIR)


@needs_weights
def test_embedding_and_setup_check_stay_offline(network, monkeypatch):
    _no_network(monkeypatch)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("fetch ran pip although the wheel is present")

    monkeypatch.setattr(musicnn_weights.subprocess, "run", no_subprocess)
    assert musicnn_weights.fetch(WEIGHTS_DIR) == WEIGHTS_DIR / musicnn_weights.WHEEL_NAME
    embedding = musicnn.clip_embedding(_noise(3.5, seed=4), SR, weights_dir=WEIGHTS_DIR)
    assert np.isfinite(embedding).all()


@needs_weights
def test_checkpoint_has_both_models_and_no_optimiser_state():
    for model in ("MSD_musicnn", "MTT_musicnn"):
        weights = musicnn_weights.read_checkpoint(model, folder=WEIGHTS_DIR)
        assert weights["conv2d/kernel"].shape[:2] == (7, int(0.4 * musicnn.N_MELS))
        assert not [name for name in weights if "Adam" in name or "power" in name]
    with pytest.raises(ValueError, match="unknown checkpoint"):
        musicnn_weights.read_checkpoint("MSD_resnet", folder=WEIGHTS_DIR)


def test_missing_weights_is_one_line_saying_how_to_get_them(tmp_path: Path, monkeypatch):
    with pytest.raises(MissingWeightsError) as custom:
        musicnn.load_network(weights_dir=tmp_path / "nowhere")
    message = str(custom.value)
    assert "\n" not in message
    fix = f"python -m genre_ensemble.members.pretrained.weights --dir {tmp_path / 'nowhere'}"
    assert fix in message
    monkeypatch.chdir(tmp_path)  # the default folder is relative: now empty
    with pytest.raises(MissingWeightsError) as default:
        musicnn.clip_embedding(_noise(1.0, seed=5), SR)
    assert "\n" not in str(default.value) and "`make musicnn`" in str(default.value)
