from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from genre_ensemble.params import ParamsError, load_params, parse_params

from .conftest import REPO


@pytest.fixture
def raw() -> dict:
    """The committed params with a 3-member equal-sum ensemble, whatever the defaults are."""
    loaded = yaml.safe_load((REPO / "params.yaml").read_text())
    loaded["ensemble"].update(members=["stft", "cqt", "chroma"], method="sum", weights=[1, 1, 1])
    return loaded


def test_committed_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert len(params.ensemble.weights) == len(params.ensemble.members)
    assert params.images.cqt.n_bins == 96 and params.images.cqt.fmin == "C1"


def _with(raw: dict, dotted: str, value) -> dict:
    changed = copy.deepcopy(raw)
    *parents, last = dotted.split(".")
    node = changed
    for key in parents:
        node = node[key]
    node[last] = value
    return changed


BAD_VALUES = [
    ("ensemble.weights", [1, 1], "ensemble.weights"),  # wrong length
    ("ensemble.weights", [1, -1, 1], "ensemble.weights"),  # negative
    ("ensemble.weights", [0, 0, 0], "ensemble.weights"),  # all zero
    ("ensemble.members", ["stft", "mfcc"], "ensemble.members"),  # unknown member
    ("ensemble.method", "vote", "ensemble.method"),
    ("split.test_size", 0.0, "split.test_size"),
    ("split.test_size", 1.2, "split.test_size"),
    ("split.val_size", 1.0, "split.val_size"),
    ("images.height", 8, "images.height"),
    ("images.width", 15, "images.width"),
    ("images.style", "fancy", "images.style"),
    ("images.cqt.fmin", "H9", "images.cqt.fmin"),
    ("images.cqt.n_bins", 140, "images.cqt.n_bins"),  # above Nyquist
    ("train.epochs", 0, "train.epochs"),
    ("train.architecture", "resnet", "train.architecture"),
    ("train.learning_rate", -0.1, "train.learning_rate"),
    ("train.cpu_kernels", "mkl", "train.cpu_kernels"),
    ("train.windows_per_clip", -1, "train.windows_per_clip"),
    ("train.windows_per_clip", 2.5, "train.windows_per_clip"),
    ("data.source", "youtube", "data.source"),
    ("segments.seconds", 11.0, "segments.seconds"),  # window longer than the clip
    ("segments.overlap", 1.0, "segments.overlap"),  # overlap >= window
    ("synthetic.difficulty", 1.5, "synthetic.difficulty"),
    ("features.descriptors.n_mfcc", 0, "features.descriptors.n_mfcc"),
    ("features.descriptors.n_mfcc", 129, "features.descriptors.n_mfcc"),  # above the mel bands
    ("features.descriptors.n_fft", 32, "features.descriptors.n_fft"),
    ("features.descriptors.hop_length", 4096, "features.descriptors.hop_length"),  # > n_fft
]


@pytest.mark.parametrize(("key", "value", "named"), BAD_VALUES)
def test_bad_value_names_the_key(raw, key, value, named):
    with pytest.raises(ParamsError) as caught:
        parse_params(_with(raw, key, value))
    message = str(caught.value)
    assert named in message
    assert message.count("\n") == 0


def test_learned_method_refuses_explicit_weights(raw):
    changed = _with(_with(raw, "ensemble.method", "learned"), "split.calibration", 0.5)
    with pytest.raises(ParamsError, match="ensemble.weights"):
        parse_params(changed)
    assert parse_params(_with(changed, "ensemble.weights", None)).ensemble.method == "learned"


def test_learned_method_needs_calibration_clips(raw):
    changed = _with(_with(raw, "ensemble.method", "learned"), "ensemble.weights", None)
    with pytest.raises(ParamsError, match="split.calibration is 0"):
        parse_params(_with(changed, "split.calibration", 0.0))


def test_missing_section_is_named(raw):
    del raw["train"]
    with pytest.raises(ParamsError, match="train"):
        parse_params(raw)


def test_stage_stops_with_one_line_and_no_partial_output(raw, tmp_path):
    """A wrong value stops a stage before any work: exit 2, one line, nothing written."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_with(raw, "ensemble.weights", [1, 1])))
    result = subprocess.run(
        [sys.executable, "-m", "genre_ensemble.stages.ensemble"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ensemble.weights" in lines[0] and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
