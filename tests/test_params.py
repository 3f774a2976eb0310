from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from genre_ensemble.core.params import ParamsError
from genre_ensemble.members.registry import load_params, parse_params
from genre_ensemble.stages.validate import check_choices

from .conftest import REPO


def validated(raw: dict):
    """What stage validate checks: params.yaml read (types, ranges, unknown keys), then every
    choice against the table that implements it."""
    params = parse_params(raw)
    check_choices(params, root=REPO)
    return params


@pytest.fixture
def raw() -> dict:
    """The committed params with a 3-member equal-sum ensemble, whatever the defaults are."""
    loaded = yaml.safe_load((REPO / "params.yaml").read_text())
    loaded["ensemble"].update(members=["stft", "cqt", "chroma"], method="sum", weights=[1, 1, 1])
    return loaded


def test_committed_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.ensemble.method == "selected" and params.ensemble.weights is None
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
    ("windows.seconds", 11.0, "windows.seconds"),  # window longer than the clip
    ("windows.overlap", 1.0, "windows.overlap"),  # overlap >= window
    ("parallel.n_jobs", -2, "parallel.n_jobs"),
    ("parallel.backend", "ray", "parallel.backend"),
    ("split.duplicates", "drop", "split.duplicates"),
    ("train.optimizer", "rmsprop", "train.optimizer"),
    ("train.lr_schedule", "step", "train.lr_schedule"),
    ("features.classifier", "svm", "features.classifier"),
    ("synthetic.difficulty", 1.5, "synthetic.difficulty"),
    ("features.descriptors.n_mfcc", 0, "features.descriptors.n_mfcc"),
    ("features.descriptors.n_mfcc", 129, "features.descriptors.n_mfcc"),  # above the mel bands
    ("features.descriptors.n_fft", 32, "features.descriptors.n_fft"),
    ("features.descriptors.hop_length", 4096, "features.descriptors.hop_length"),  # > n_fft
    ("features.cross_fit", 1, "features.cross_fit"),  # one fold predicts nothing out of fold
    ("features.cross_fit", -2, "features.cross_fit"),
    ("pretrained.musicnn.cross_fit", 1, "pretrained.musicnn.cross_fit"),
    ("ensemble.folds", 1, "ensemble.folds"),
    ("ensemble.seed", -1, "ensemble.seed"),
]


@pytest.mark.parametrize(("key", "value", "named"), BAD_VALUES)
def test_bad_value_names_the_key(raw, key, value, named):
    with pytest.raises(ParamsError) as caught:
        validated(_with(raw, key, value))
    message = str(caught.value)
    assert named in message
    assert message.count("\n") == 0


def test_learned_method_refuses_explicit_weights(raw):
    changed = _with(_with(raw, "ensemble.method", "learned"), "split.calibration", 0.5)
    with pytest.raises(ParamsError, match="ensemble.weights"):
        validated(changed)
    assert validated(_with(changed, "ensemble.weights", None)).ensemble.method == "learned"


def test_selected_method_fits_its_own_weights(raw):
    changed = _with(raw, "ensemble.method", "selected")
    with pytest.raises(ParamsError, match="ensemble.weights"):
        validated(changed)
    assert validated(_with(changed, "ensemble.weights", None)).ensemble.method == "selected"


def test_learned_method_needs_calibration_clips(raw):
    changed = _with(_with(raw, "ensemble.method", "learned"), "ensemble.weights", None)
    with pytest.raises(ParamsError, match="split.calibration is 0"):
        validated(_with(changed, "split.calibration", 0.0))


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


TYPOS = [
    (("train", "learning_rat"), 0.5,
     "train.learning_rat is not a setting; did you mean train.learning_rate?"),
    (("train", "epoch"), 5, "train.epoch is not a setting; did you mean train.epochs?"),
    (("segment",), {"seconds": 3.0}, "segment is not a setting; did you mean windows"),
    (("images", "cqt", "hop"), 256,
     "images.cqt.hop is not a setting; did you mean images.cqt.hop_length?"),
    (("pretrained", "musicnn", "layer"), ["taggram"],
     "pretrained.musicnn.layer is not a setting; did you mean pretrained.musicnn.layers?"),
    (("trian",), {"epochs": 3}, "trian is not a setting; did you mean train?"),
    (("data", "gtzan_dir"), "data/gtzan", "data.gtzan_dir is not a setting any more; it was "
                                          "renamed: use data.dir"),
    (("ensemble", "zzz"), 1, "ensemble.zzz is not a setting; the settings under ensemble are: "),
]


@pytest.mark.parametrize(("where", "value", "expected"), TYPOS)
def test_a_key_that_is_not_a_setting_names_it_and_the_closest_valid_key(raw, where, value,
                                                                        expected):
    changed = copy.deepcopy(raw)
    node = changed
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value  # beside the real keys, as a hand edit or `-S +key=` leaves it
    with pytest.raises(ParamsError) as caught:
        parse_params(changed)
    message = str(caught.value)
    assert message.startswith(f"params.yaml: {expected}") and "\n" not in message


def test_every_key_of_the_committed_params_is_read():
    """The strictness has no blind spot: removing any leaf key of params.yaml is an error
    (every setting is read by some parser), so adding one no parser reads is caught too."""
    committed = yaml.safe_load((REPO / "params.yaml").read_text())

    def leaves(node: dict, prefix: tuple = ()):
        for key, value in node.items():
            if isinstance(value, dict) and value:
                yield from leaves(value, (*prefix, key))
            else:
                yield (*prefix, key)

    for path in leaves(committed):
        changed = copy.deepcopy(committed)
        node = changed
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        with pytest.raises(ParamsError, match="is missing"):
            parse_params(changed)
