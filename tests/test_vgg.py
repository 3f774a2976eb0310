"""The Keras 3 vgg port: checkpoint, network outputs, and musicnn's own values.

Needs the project's environment and the musicnn wheel (``make musicnn``), not the legacy one:
the reference values in ``tests/data/vgg_reference.npz`` were recorded once by
``python -m bench.vgg_port_check`` from musicnn's extractor on two closed-form patches
(:func:`bench.vgg_port_check.reference_patches`).
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from bench.vgg_port_check import reference_patches
from genre_ensemble.members.pretrained import vgg
from genre_ensemble.members.pretrained import weights as wheel

from .conftest import REPO

WEIGHTS_DIR = REPO / wheel.DEFAULT_DIR
REFERENCE = Path(__file__).resolve().parent / "data" / "vgg_reference.npz"
MODELS = ("MSD_vgg", "MTT_vgg")
needs_weights = pytest.mark.skipif(
    not (WEIGHTS_DIR / wheel.WHEEL_NAME).is_file(),
    reason="musicnn weights absent: run `make musicnn` (`make test` does)")
# The port matched the extractor to 1.4e-6 of the largest value (5e-7 on these patches, see
# vgg_port_check.json); the margin leaves room for other CPUs' kernels and summation orders.
RELATIVE_TOLERANCE = 2e-5


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def weights() -> dict[str, dict[str, np.ndarray]]:
    with pytest.MonkeyPatch.context() as patch:
        _no_network(patch)
        return {model: vgg.read_checkpoint(model, folder=WEIGHTS_DIR) for model in MODELS}


@pytest.fixture(scope="module")
def maps_network(weights):
    """MSD_vgg with the pool maps as outputs too."""
    return vgg.build_network(weights["MSD_vgg"], feature_maps=True)


def _random_patches(count: int, seed: int) -> np.ndarray:
    # log-mel-like values: log10(10000 * mel + 1) of ordinary audio lies in about [0, 5]
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 4.0, (count, vgg.N_FRAMES, vgg.N_MELS)).astype(np.float32)


@needs_weights
def test_checkpoints_have_the_vgg_variables_and_no_optimiser_state(weights):
    for model, variables in weights.items():
        assert len(variables) == 36, model  # 5 convs x 2, 6 batch norms x 4, dense x 2
        assert variables["1CNN/kernel"].shape == (3, 3, 1, vgg.N_FILTERS)
        for k in range(2, 6):
            assert variables[f"{k}CNN/kernel"].shape == (3, 3, vgg.N_FILTERS, vgg.N_FILTERS)
        assert variables["dense/kernel"].shape == (2 * 1 * vgg.N_FILTERS, 50)
        assert not [name for name in variables if "Adam" in name or "power" in name]
        assert all(value.dtype == np.float32 for value in variables.values())
    with pytest.raises(ValueError, match="unknown checkpoint"):
        vgg.read_checkpoint("MSD_resnet", folder=WEIGHTS_DIR)


@needs_weights
def test_every_checkpoint_variable_is_used(weights):
    network = vgg.build_network(weights["MTT_vgg"])  # builds: nothing left unused
    assigned = {f"{layer.name}/{variable.name}" for layer in network.layers
                for variable in layer.weights}
    assert assigned == set(weights["MTT_vgg"])
    np.testing.assert_array_equal(network.get_layer("3CNN").get_weights()[0],
                                  weights["MTT_vgg"]["3CNN/kernel"])
    extra = dict(weights["MTT_vgg"], **{"6CNN/kernel": np.zeros((3, 3, 128, 128), np.float32)})
    with pytest.raises(ValueError, match="without a layer"):
        vgg.build_network(extra)


@needs_weights
def test_patch_lengths_outside_the_dense_layer_are_refused(weights):
    with pytest.raises(ValueError, match="130 to 193 frames"):
        vgg.build_network(weights["MSD_vgg"], n_frames=194)
    short = vgg.build_network(weights["MSD_vgg"], n_frames=130)
    outputs = short(_random_patches(1, seed=5)[:, :130], training=False)
    assert tuple(outputs["taggram"].shape) == (1, 50)


@needs_weights
def test_output_names_and_shapes_on_random_patches(maps_network):
    patches = _random_patches(3, seed=1)
    outputs = {k: np.asarray(v) for k, v in maps_network(patches, training=False).items()}
    assert set(outputs) == set(vgg.LAYERS) | set(vgg.FEATURE_MAPS)
    for name in vgg.LAYERS:
        assert outputs[name].shape == (3, vgg.LAYER_SIZES[name]), name
        assert outputs[name].dtype == np.float32 and np.isfinite(outputs[name]).all()
    assert ((outputs["taggram"] > 0) & (outputs["taggram"] < 1)).all()
    for pool in vgg.FEATURE_MAPS:
        maps = outputs[pool]
        assert maps.shape == (3, *vgg.MAP_SHAPES[pool])
        # in float64: numpy's float32 mean over two strided axes is the less exact one here
        np.testing.assert_allclose(outputs[f"{pool}_mean"],
                                   maps.astype(np.float64).mean(axis=(1, 2)), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_array_equal(outputs[f"{pool}_max"], maps.max(axis=(1, 2)))
    # pool5 is 2 x 1: its mean and max hold both halves (max and 2 * mean - max)
    halves = np.sort(outputs["pool5"][:, :, 0, :], axis=1)
    np.testing.assert_allclose(2 * outputs["pool5_mean"] - outputs["pool5_max"], halves[:, 0],
                               rtol=1e-5, atol=1e-5)


@needs_weights
def test_embed_patches_is_batch_independent_and_deterministic(weights, monkeypatch):
    _no_network(monkeypatch)
    patches = _random_patches(4, seed=2)
    together = vgg.embed_patches(patches, weights_dir=WEIGHTS_DIR)
    again = vgg.embed_patches(patches.copy(), weights_dir=WEIGHTS_DIR)
    alone = vgg.embed_patches(patches[2:3], weights_dir=WEIGHTS_DIR)
    assert set(together) == set(vgg.LAYERS)
    for name in vgg.LAYERS:
        np.testing.assert_array_equal(together[name], again[name])
        np.testing.assert_allclose(together[name][2], alone[name][0], rtol=1e-4, atol=1e-5)


@needs_weights
@pytest.mark.parametrize("model", ["MSD_vgg", "MTT_vgg"])
def test_port_reproduces_musicnns_extractor(weights, model):
    patches = reference_patches()
    with np.load(REFERENCE) as reference:
        assert float(reference["patches_sum"]) == pytest.approx(
            patches.astype(np.float64).sum(), rel=1e-9)  # the same patches as recorded
        expected = {name: reference[f"{model}/{name}"] for name in vgg.LAYERS}
    network = vgg.build_network(weights[model])
    outputs = {k: np.asarray(v) for k, v in network(patches, training=False).items()}
    for name in vgg.LAYERS:
        assert outputs[name].shape == expected[name].shape == (2, vgg.LAYER_SIZES[name])
        scale = np.abs(expected[name]).max()
        difference = np.abs(outputs[name] - expected[name]).max()
        assert difference <= RELATIVE_TOLERANCE * scale, (name, difference, scale)
    # the two patches give different tags: the values are not a constant
    assert np.abs(expected["taggram"][0] - expected["taggram"][1]).max() > 0.05


@needs_weights
def test_clip_embedding_is_the_patch_mean_of_the_default_layers(monkeypatch):
    _no_network(monkeypatch)
    sr = 22050
    signal = np.random.default_rng(3).normal(0.0, 0.1, int(7.0 * sr)).astype(np.float32)
    embedding = vgg.clip_embedding(signal, sr, weights_dir=WEIGHTS_DIR)
    assert embedding.shape == (vgg.CLIP_EMBEDDING_SIZE,) and embedding.dtype == np.float32
    outputs = vgg.embed(signal, sr, weights_dir=WEIGHTS_DIR)
    assert len(outputs["taggram"]) == 2  # 7 s: two 3 s patches, the remainder dropped
    expected = np.concatenate([outputs[name].mean(axis=0) for name in vgg.CLIP_LAYERS])
    np.testing.assert_allclose(embedding, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown vgg layers"):
        vgg.clip_embedding(signal, sr, layers=("pool6_mean",), weights_dir=WEIGHTS_DIR)
