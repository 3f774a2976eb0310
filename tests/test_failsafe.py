"""A failed or interrupted run leaves the workspace as it was (or as valid as a finished run).

On the real pipeline in a temporary clone (the shared tiny workspace): a wrong value in each
params.yaml section stops `dvc repro` before DVC touches any output; `SIGKILL` during the images
stage and during training, then `dvc repro`, ends clean; a stage that fails half-way for another
reason leaves the earlier stages' outputs intact. Every test restores the workspace it found.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from genre_ensemble.core.fileio import PARTIAL_PREFIX, atomic_path, remove_partials, write_text
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.members.cnn.imagestore import ARRAY_SUFFIX

from .conftest import merge_params, run_checked, tone, write_wav

# One wrong value per params.yaml section, a key that is not a setting (the typos a hand edit
# or `dvc exp run -S +key=...` leaves), and path settings that do not exist: each the edit
# (dotted key -> value) and the text its one-line error must start with.
BAD_VALUES = {
    "data": ({"data.source": "gtzan"}, "data.dir"),  # no GTZAN copy in data/gtzan
    "synthetic": ({"synthetic.difficulty": 2}, "synthetic.difficulty"),
    "split": ({"split.test_size": 1.5}, "split.test_size"),
    "windows": ({"windows.overlap": 1.0}, "windows.overlap"),
    "parallel": ({"parallel.backend": "ray"}, "parallel.backend"),
    "images": ({"images.height": 4}, "images.height"),
    "train": ({"train.optimizer": "rmsprop"}, "train.optimizer"),
    "features": ({"features.classifier": "svm"}, "features.classifier"),
    "pretrained": ({"pretrained.musicnn.layers": ["logits"]}, "pretrained.musicnn.layers"),
    "ensemble": ({"ensemble.weights": [1, 1, 1]}, "ensemble.weights"),
    "evaluate": ({"evaluate.bootstrap": -1}, "evaluate.bootstrap"),
    "typo: a key beside its setting": (
        {"train.learning_rat": 0.5},
        "train.learning_rat is not a setting; did you mean train.learning_rate?"),
    "typo: a key instead of its setting": (
        {"train.epoch": 5}, "train.epoch is not a setting; did you mean train.epochs?"),
    "typo: a misspelt section": (
        {"segment": {"seconds": 3.0}}, "segment is not a setting; did you mean windows"),
    # DVC hashes every dependency of a stage, ${data.dir} of prepare included, whatever source
    # reads it: a folder that is not there stops validate, not DVC half-way
    "data.dir absolute, synthetic source": ({"data.dir": "/nonexistent"}, "data.dir"),
    "data.dir relative, synthetic source": ({"data.dir": "no/such/folder"}, "data.dir"),
    "data.dir absolute, gtzan source": (
        {"data.source": "gtzan", "data.dir": "/nonexistent"}, "data.dir"),
    "data.dir relative, folder source": (
        {"data.source": "folder", "data.dir": "no/such/folder"}, "data.dir"),
}

# Written by DVC itself on every command (locks, logs, site cache), not workspace state.
VOLATILE = (".git", ".dvc/tmp", ".dvc/cache", ".cache")


def _tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except DVC's and git's own bookkeeping."""
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(VOLATILE) and "__pycache__" not in relative:
            digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _state(root: Path, env: dict) -> tuple[str, dict, dict[str, str]]:
    """git status, dvc status and every file's digest."""
    git = run_checked(["git", "status", "--porcelain"], root, env).stdout
    dvc = json.loads(run_checked(["dvc", "status", "--json"], root, env).stdout)
    return git, dvc, _tree_digest(root)


def _set_params(root: Path, override: dict) -> None:
    """Apply nested (``merge_params``) or dotted (``{"train.epochs": 3}``) overrides, as a hand
    edit would: a dotted key that is not in params.yaml is added beside the real ones."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in override.items():
        if "." not in key and isinstance(value, dict) and key in params:
            merge_params(params, {key: value})
            continue
        *parents, last = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _assert_clean(root: Path, env: dict) -> None:
    assert run_checked(["git", "status", "--porcelain"], root, env).stdout == ""
    assert json.loads(run_checked(["dvc", "status", "--json"], root, env).stdout) == {}


@pytest.fixture
def clean_workspace(tiny_workspace):
    """The tiny workspace, clean before the test and restored to HEAD after it."""
    root, env = tiny_workspace
    _assert_clean(root, env)
    yield root, env
    run_checked(["git", "checkout", "--", "."], root, env)
    run_checked(["dvc", "checkout", "--force"], root, env)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_a_wrong_value_stops_repro_before_any_output_is_touched(clean_workspace, case):
    root, env = clean_workspace
    override, expected = BAD_VALUES[case]
    _set_params(root, override)
    before = _state(root, env)
    result = subprocess.run(["dvc", "repro"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: params.yaml: {expected}"), (
        result.stderr)
    assert "Running stage 'validate'" in result.stdout
    assert "Running stage" not in result.stdout.replace("Running stage 'validate'", "")
    assert _state(root, env) == before  # git status, dvc status and every byte as they were


def _start_repro(root: Path, env: dict, stage: str, log: Path) -> subprocess.Popen:
    """`dvc repro --force --single-item STAGE` in its own process group, output to ``log``."""
    with log.open("w") as handle:
        return subprocess.Popen(
            ["dvc", "repro", "--force", "--single-item", stage],
            cwd=root,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_when(process: subprocess.Popen, ready, timeout: float = 240.0) -> None:
    """SIGKILL the whole process group as soon as ``ready()`` is true."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the stage finished before it could be interrupted"
        assert time.monotonic() < deadline, "the stage never reached the point to interrupt"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.slow
def test_sigkill_during_images_then_repro_ends_clean(clean_workspace, tmp_path):
    root, env = clean_workspace
    images = root / "data" / "images"
    process = _start_repro(root, env, "images", tmp_path / "log")
    _kill_when(process, lambda: any(images.glob(f"{PARTIAL_PREFIX}*/*{ARRAY_SUFFIX}")))
    assert any(images.glob(f"{PARTIAL_PREFIX}*"))  # killed mid-write: debris is there...
    assert run_checked(["git", "status", "--porcelain"], root, env).stdout == ""  # ...ignored
    run_checked(["dvc", "repro"], root, env)
    _assert_clean(root, env)
    for name in ("stft", "cqt", "chroma"):
        index = (images / name / "index.csv").read_text().splitlines()[1:]
        assert index and all((images / name / row.split(",")[0]).is_file() for row in index)


@pytest.mark.slow
def test_sigkill_during_training_then_repro_ends_clean(clean_workspace, tmp_path):
    root, env = clean_workspace
    log = tmp_path / "log"
    process = _start_repro(root, env, "train@stft", log)
    _kill_when(process, lambda: "Epoch 1/" in log.read_text())
    assert not (root / "models" / "stft.keras").exists()  # DVC removed it; training was cut
    run_checked(["dvc", "repro"], root, env)
    _assert_clean(root, env)  # retrained to the same bytes, curves and metrics included


@pytest.mark.slow
def test_a_stage_failing_half_way_leaves_earlier_outputs_intact(clean_workspace):
    root, env = clean_workspace
    # valid params, but a GTZAN copy whose rock folder holds no audio: `prepare` must fail
    gtzan = root / "data" / "gtzan-broken" / "genres"
    for number, genre in enumerate(GENRES):
        if genre != "rock":
            write_wav(gtzan / genre / f"{genre}.00000.wav", tone(110.0 * (number + 1)))
    (gtzan / "rock").mkdir(parents=True)
    _set_params(root, {"data": {"source": "gtzan", "dir": "data/gtzan-broken"}})
    result = subprocess.run(["dvc", "repro"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "Running stage 'prepare'" in result.stdout and "rock" in result.stderr
    assert "Running stage 'images'" not in result.stdout
    # the stages before it finished: their outputs are there and recorded in dvc.lock
    assert (root / "data" / "synthetic" / "NOT_GENERATED.txt").is_file()
    status = json.loads(run_checked(["dvc", "status", "--json"], root, env).stdout)
    assert "validate" not in status and "corpus" not in status
    assert "prepare" in status
    shutil.rmtree(gtzan.parent)


def test_an_interrupted_atomic_write_leaves_only_ignored_debris_that_the_next_stage_removes(
    tmp_path,
):
    target = tmp_path / "metrics" / "metrics.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temp:
        temp.write_text("{half")
        raise KeyboardInterrupt
    assert not target.exists() and not list(target.parent.iterdir())  # cleaned on the way out
    # a SIGKILL skips the clean-up: simulate its leftovers, then a stage start
    (tmp_path / "data" / "images").mkdir(parents=True)
    left = [
        tmp_path / "data" / "images" / f"{PARTIAL_PREFIX}stft.abc123",
        tmp_path / "metrics" / f"{PARTIAL_PREFIX}metrics.json.x1y2.json",
    ]
    left[0].mkdir()
    (left[0] / "blues.00000.w00.png").write_bytes(b"png")
    left[1].write_text("{half")
    write_text(tmp_path / "metrics" / "data.json", "{}\n")
    kept = tmp_path / "data" / "images" / "partial.txt"  # the prefix alone is not enough
    kept.write_text("mine")
    removed = remove_partials([tmp_path / "data", tmp_path / "metrics"])
    assert sorted(removed) == sorted(left)
    assert not any(path.exists() for path in left)
    assert kept.is_file() and (tmp_path / "metrics" / "data.json").is_file()


def test_git_and_dvc_ignore_the_temporaries(repo):
    for ignore_file in (".gitignore", ".dvcignore"):
        patterns = (repo / ignore_file).read_text().splitlines()
        assert f"{PARTIAL_PREFIX}*" in patterns, ignore_file
    result = subprocess.run(
        ["git", "check-ignore", "-q", f"data/images/{PARTIAL_PREFIX}stft.abc123/x.png"],
        cwd=repo, capture_output=True,
    )
    assert result.returncode == 0
