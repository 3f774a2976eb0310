"""Any labelled folder of music (``data.source: folder``): made-up labels flow through training,
metrics, the report and predict; bad folders stop with one line naming the folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.workspace import dvc_repro, fresh_clone, git_commit

from .conftest import REPO, SR, TINY, write_wav

LABELS = ("fast", "slow")
CLIP_SECONDS = 3.0


def _clicks(rate: float, seed: int, seconds: float = CLIP_SECONDS) -> np.ndarray:
    """Decaying noise bursts ``rate`` times a second over a soft tone: fast or slow music."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    signal = 0.1 * np.sin(2 * np.pi * (180 + 40 * rng.random()) * t)
    phase = (t * rate + rng.random()) % 1.0
    signal += 0.6 * np.exp(-phase * 30) * rng.standard_normal(t.size)
    return np.clip(signal, -1, 1).astype(np.float32)


def labelled_folder(root: Path, clips: int = 8) -> Path:
    """``root/fast`` and ``root/slow``, each clip in an album folder of its own (nesting)."""
    for index in range(clips):
        write_wav(root / "fast" / f"album{index % 3}" / f"song {index}.wav",
                  _clicks(8.0, seed=index))
        write_wav(root / "slow" / f"song-{index}.wav", _clicks(1.5, seed=100 + index))
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory) -> tuple[Path, dict]:
    """The real pipeline in a fresh clone, on a labelled folder with two made-up labels."""
    music = labelled_folder(tmp_path_factory.mktemp("music"))
    overrides = {**TINY, "data": {"source": "folder", "dir": str(music),
                                  "clip_seconds": CLIP_SECONDS},
                 "split": {"test_size": 0.25, "val_size": 0.3}}
    root, env = fresh_clone(tmp_path_factory.mktemp("folder-repo"), overrides)
    dvc_repro(root, env, timeout=900)
    git_commit(root, "a run on a labelled folder", env)
    return root, env


@pytest.mark.slow
def test_the_labels_come_from_the_folder_and_reach_every_output(folder_run):
    root, env = folder_run
    manifest = pd.read_csv(root / "data/prepared/manifest.csv", keep_default_na=False)
    assert sorted(set(manifest["genre"])) == list(LABELS)
    assert any("album1__song" in track for track in manifest["track"])  # nested, unique names
    ensemble = json.loads((root / "metrics/ensemble.json").read_text())
    assert ensemble["labels"] == list(LABELS)
    for member in ("stft", "features"):
        table = pd.read_csv(root / f"data/predictions/{member}.csv")
        assert list(table.columns) == ["track", "genre", "split", *LABELS]
    per_genre = json.loads((root / "metrics/per_genre.json").read_text())
    assert {record["genre"] for record in per_genre} == set(LABELS)
    outcomes = pd.read_csv(root / "metrics/test_clips.csv")
    assert set(outcomes["ensemble"]) <= set(LABELS) and set(outcomes["genre"]) == set(LABELS)
    metrics = json.loads((root / "metrics/metrics.json").read_text())
    assert metrics["ensemble"]["n"] == len(outcomes)

    from genre_ensemble.report import build_report

    page = build_report(root, [], examples=2, charts="static")
    assert "fast" in page and "slow" in page and "blues" not in page

    new = write_wav(root / "new" / "fast one.wav", _clicks(8.0, seed=999))
    result = subprocess.run(
        [sys.executable, "-m", "genre_ensemble.cli", "predict", str(new), "--json",
         "--params", str(root / "params.yaml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)["files"][0]
    assert set(document["ensemble"]["probabilities"]) == set(LABELS)
    assert sum(document["ensemble"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def _stage(workspace: Path, stage: str, music: Path, **data) -> subprocess.CompletedProcess:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update(source="folder", dir=str(music), clip_seconds=1.0, **data)
    raw["windows"]["seconds"] = 0.0
    (workspace / "params.yaml").write_text(yaml.safe_dump(raw))
    return subprocess.run([sys.executable, "-m", f"genre_ensemble.stages.{stage}"],
                          cwd=workspace, capture_output=True, text=True, timeout=300)


def _tones(folder: Path, count: int) -> None:
    for index in range(count):
        write_wav(folder / f"{index}.wav", _clicks(3.0, seed=index, seconds=1.0))


@pytest.mark.parametrize(
    ("make", "stage", "named"),
    [
        (lambda root: _tones(root / "only", 20), "validate", "two or more label folders"),
        (lambda root: (_tones(root / "a", 20), (root / "b" / "sub").mkdir(parents=True)),
         "prepare", "b: label folder without audio files"),
        (lambda root: (_tones(root / "a", 20), _tones(root / "b", 2)), "prepare",
         "b: label 'b' has 2 usable clips, fewer than the 3 the split needs"),
    ],
    ids=["one label", "an empty label folder", "too few clips"],
)
def test_a_bad_labelled_folder_stops_with_one_line_naming_it(tmp_path, make, stage, named):
    music = tmp_path / "music"
    make(music)
    workspace = tmp_path / "repo"
    (workspace / "data").mkdir(parents=True)
    result = _stage(workspace, stage, music)
    assert result.returncode == 2, result.stderr
    # progress lines may come first (the clip check reads every file); the stop is one line
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    assert named in errors[0] and str(music) in errors[0], result.stderr
    assert not (workspace / "data" / "prepared").exists()
