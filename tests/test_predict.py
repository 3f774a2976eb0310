"""`genre-ensemble predict` against the pipeline's own evaluation path.

A module fixture builds a tiny trained workspace by running the real stage functions (images,
features, train, fit_features, ensemble) on synthetic training clips plus
the audio files the tests classify, which go through the pipeline as test-split clips. Predict
must then give those files the probabilities the pipeline wrote for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.members.cnn.kind import REPRESENTATIONS

from .conftest import REPO, merge_params

pytest.importorskip("keras")

SR = 22050
CLIP_SECONDS = 5.0
MEMBERS = [*REPRESENTATIONS, "features"]
SMALL = {
    "data": {"clip_seconds": CLIP_SECONDS},
    "synthetic": {"seconds": CLIP_SECONDS},
    "windows": {"seconds": 2.5, "overlap": 0.5},
    "images": {"height": 32, "width": 32},
    "parallel": {"n_jobs": 1},
    "train": {"architecture": "paper", "filters": 4, "epochs": 1, "batch_size": 16,
              "early_stopping": 0, "lr_schedule": "constant"},
    # unequal, unnormalised weights (learned ones end up in metrics/ensemble.json the same way;
    # on this tiny corpus they put everything on one member, which would test less)
    "ensemble": {"members": MEMBERS, "method": "sum", "weights": [0.5, 1.0, 2.0, 1.5]},
}
# The files the tests classify: name -> (seconds, sample rate, channels, soundfile subtype).
INPUTS = {
    "short.wav": (2.0, SR, 1, "PCM_16"),
    "stereo.flac": (CLIP_SECONDS, 44100, 2, "PCM_16"),
    "clip.ogg": (CLIP_SECONDS, SR, 1, "VORBIS"),
    "clip.mp3": (CLIP_SECONDS, SR, 1, "MPEG_LAYER_III"),
    "clip.au": (CLIP_SECONDS, 16000, 1, "PCM_16"),
    "long.wav": (41.0, SR, 1, "FLOAT"),
}
LONG_STARTS = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 36.0]  # the last clip ends at 41 s


def _write_inputs(folder: Path) -> dict[str, Path]:
    """The files to classify, from synthetic music of a few genres."""
    from genre_ensemble.corpus.synthetic import synthesize_clip

    paths = {}
    for number, (name, (seconds, sr, channels, subtype)) in enumerate(INPUTS.items()):
        audio = np.stack([synthesize_clip(GENRES[(number + c) % 10], 900 + number, seconds=seconds,
                                          sr=sr) for c in range(channels)], axis=1)
        paths[name] = folder / name
        soundfile.write(str(paths[name]), 0.8 * audio, sr, subtype=subtype)
    return paths


def _long_chunks(long_path: Path, folder: Path) -> list[Path]:
    """The pipeline-length clips predict cuts the long file into, each as its own file."""
    from genre_ensemble.corpus.audio import load_clip

    signal = load_clip(long_path, sample_rate=SR, seconds=None)
    size = int(CLIP_SECONDS * SR)
    paths = []
    for number, start in enumerate(LONG_STARTS):
        chunk = signal[int(start * SR) : int(start * SR) + size]
        assert len(chunk) == size
        paths.append(folder / f"long.c{number:02d}.wav")
        soundfile.write(str(paths[-1]), chunk, SR, subtype="FLOAT")  # float32: bit-exact
    return paths


def _manifest(workspace: Path, inputs: list[Path]) -> pd.DataFrame:
    """Synthetic training clips (train, train, val per genre) plus ``inputs`` as test clips."""
    from genre_ensemble.corpus.synthetic import synthesize_clip

    rows = []
    for genre in GENRES:
        for number, split in enumerate(["train", "train", "val"]):
            path = workspace / "audio" / f"{genre}.{number:05d}.wav"
            soundfile.write(str(path), synthesize_clip(genre, 10 * number + 1,
                                                       seconds=CLIP_SECONDS), SR)
            rows.append({"track": path.stem, "genre": genre, "path": str(path), "split": split})
    for path in inputs:
        rows.append({"track": path.name, "genre": "rock", "path": str(path), "split": "test"})
    return pd.DataFrame(rows).assign(status="ok", reason="")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A trained workspace: params.yaml, models/, metrics/ensemble.json and the pipeline's
    predictions for every input file, made by the real stage functions."""
    from genre_ensemble.members.registry import load_params
    from genre_ensemble.stages.ensemble import ensemble
    from genre_ensemble.stages.features import features
    from genre_ensemble.stages.fit_features import fit_features
    from genre_ensemble.stages.images import images
    from genre_ensemble.stages.train import train

    root = tmp_path_factory.mktemp("trained")
    (root / "audio").mkdir()
    (root / "data" / "prepared").mkdir(parents=True)
    raw = merge_params(yaml.safe_load((REPO / "params.yaml").read_text()), SMALL)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    inputs = _write_inputs(root / "audio")
    chunks = _long_chunks(inputs["long.wav"], root / "audio")
    _manifest(root, [*inputs.values(), *chunks]).to_csv(
        root / "data" / "prepared" / "manifest.csv", index=False
    )
    params = load_params(root / "params.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the stages write to paths relative to the repository root
        images(params)
        features(params)
        fit_features(params)
        for representation in REPRESENTATIONS:
            train(params, representation)
        ensemble(params)
    return root


def _pipeline_rows(workspace: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(workspace / "data" / table, keep_default_na=False).set_index("track")


def _predict_json(workspace: Path, files: list[Path], *extra: str) -> dict:
    from genre_ensemble.inference.predict import main

    return main([*map(str, files), "--params", str(workspace / "params.yaml"), "--json", *extra])


def test_predict_matches_the_pipelines_evaluation_path(workspace, capsys):
    files = [workspace / "audio" / name for name in INPUTS if name != "long.wav"]
    assert _predict_json(workspace, files, "--top", "10") == 0
    result = json.loads(capsys.readouterr().out)
    recorded = json.loads((workspace / "metrics" / "ensemble.json").read_text())["weights"]
    assert result["members"] == pytest.approx(recorded, abs=1e-12)
    pipeline = _pipeline_rows(workspace, "ensemble/predictions.csv")
    members = {m: _pipeline_rows(workspace, f"predictions/{m}.csv") for m in MEMBERS}
    for path, document in zip(files, result["files"], strict=True):
        assert document["file"] == str(path)
        assert document["clips"] == 1
        got = [document["ensemble"]["probabilities"][g] for g in GENRES]
        np.testing.assert_allclose(got, pipeline.loc[path.name, list(GENRES)], atol=1e-5,
                                   err_msg=path.name)
        for member, table in members.items():
            got = [document["members"][member]["probabilities"][g] for g in GENRES]
            np.testing.assert_allclose(got, table.loc[path.name, list(GENRES)], atol=1e-5,
                                       err_msg=f"{path.name} {member}")
        top = document["ensemble"]["top"]
        assert len(top) == 10
        assert [t["probability"] for t in top] == sorted((t["probability"] for t in top),
                                                         reverse=True)


def test_a_long_file_is_the_mean_of_its_pipeline_length_clips(workspace):
    from genre_ensemble.inference.classify import classify_file
    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    params = load_params(workspace / "params.yaml")
    members = load_members(params, workspace / "models", workspace / "metrics/ensemble.json")
    prediction = classify_file(workspace / "audio" / "long.wav", members, params)
    assert prediction.clips == len(LONG_STARTS)
    assert prediction.seconds == pytest.approx(41.0)
    pipeline = _pipeline_rows(workspace, "ensemble/predictions.csv")
    chunks = pipeline.loc[[f"long.c{n:02d}.wav" for n in range(len(LONG_STARTS))], list(GENRES)]
    np.testing.assert_allclose(prediction.ensemble, chunks.mean(axis=0), atol=1e-5)


def test_classify_signal_resamples_and_mixes_like_the_file_path(workspace):
    from genre_ensemble.inference.classify import classify_file, classify_signal
    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    params = load_params(workspace / "params.yaml")
    members = load_members(params, workspace / "models", workspace / "metrics/ensemble.json")
    path = workspace / "audio" / "stereo.flac"
    stereo, sr = soundfile.read(str(path), dtype="float32")
    from_signal = classify_signal(stereo.mean(axis=1), sr, members, params)
    np.testing.assert_allclose(from_signal.ensemble,
                               classify_file(path, members, params).ensemble, atol=1e-6)
    assert sum(p for _, p in from_signal.top(10)) == pytest.approx(1.0)


def test_bad_inputs_fail_alone_with_one_message_each(workspace, tmp_path, capsys):
    from genre_ensemble.cli import main

    (tmp_path / "text.wav").write_text("these are words, not samples\n")
    (tmp_path / "empty.flac").write_bytes(b"")
    soundfile.write(str(tmp_path / "silent.wav"), np.zeros(3 * SR, dtype=np.float32), SR)
    good = workspace / "audio" / "clip.ogg"
    bad = {
        tmp_path / "missing.mp3": "no such file",
        tmp_path / "text.wav": "not an audio file",
        tmp_path / "empty.flac": "empty file",
        tmp_path / "silent.wav": "silent",
    }
    files = [*bad, good]
    status = main(["predict", *map(str, files), "--params", str(workspace / "params.yaml"),
                   "--jobs", "2", "--top", "2"])
    captured = capsys.readouterr()
    assert status == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad)
    for (path, reason), line in zip(bad.items(), errors, strict=True):
        assert line.startswith(f"error: {path}: {reason}"), line
    assert captured.out.startswith(f"{good}  (5.0 s, 1 clip, 3 windows)\n  ensemble ")
    assert captured.out.count("%") == 2 * (1 + len(MEMBERS))  # top 2, ensemble and each member


def test_untrained_workspace_exits_2_without_loading_tensorflow(workspace, tmp_path):
    (tmp_path / "params.yaml").write_text((workspace / "params.yaml").read_text())
    code = (
        "import sys; from genre_ensemble.inference.predict import main; "
        f"status = main([{str(workspace / 'audio' / 'clip.ogg')!r}, '--params', "
        f"{str(tmp_path / 'params.yaml')!r}]); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; sys.exit(status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")}, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: no trained models in {tmp_path / 'models'}/: run `dvc repro` (or `dvc pull`) first"
    )
    assert result.stdout == ""


def test_missing_ensemble_weights_and_stale_models_are_reported(workspace, tmp_path, capsys):
    from genre_ensemble.inference.predict import main

    clip = str(workspace / "audio" / "clip.ogg")
    raw = yaml.safe_load((workspace / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    models = ["--models", str(workspace / "models")]
    assert main([clip, "--params", str(tmp_path / "params.yaml"), *models, "--json"]) == 2
    captured = capsys.readouterr()
    assert "no ensemble weights at" in captured.err
    assert json.loads(captured.out)["files"] == []
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "ensemble.json").write_text(
        (workspace / "metrics" / "ensemble.json").read_text()
    )
    raw["images"]["height"] = 48  # the CNNs were trained on 32 x 32 images
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert main([clip, "--params", str(tmp_path / "params.yaml"), *models]) == 2
    assert "run `dvc repro` to retrain it" in capsys.readouterr().err


def test_importing_the_command_loads_no_tensorflow():
    code = ("import sys, genre_ensemble.inference.predict; "
            "sys.exit(sorted(m for m in ('tensorflow', 'keras', 'librosa', 'sklearn') "
            "if m in sys.modules) != [])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 0


# --- predict as a batch tool -------------------------------------------------------------

def _members_and_params(workspace: Path, **data: float):
    """The fixture's members and params, ``data`` settings overridden (the CNNs do not depend
    on the clip length, only on the windows)."""
    import dataclasses

    from genre_ensemble.inference.loading import load_members
    from genre_ensemble.members.registry import load_params

    params = load_params(workspace / "params.yaml")
    params = dataclasses.replace(params, data=dataclasses.replace(params.data, **data))
    members = load_members(params, workspace / "models", workspace / "metrics/ensemble.json")
    return members, params


def test_arguments_expand_to_folders_recursively_and_globs(tmp_path):
    from genre_ensemble.inference.filelist import expand_inputs

    for name in ["a/one.wav", "a/deep/two.FLAC", "a/notes.txt", "b/three.mp3", "c/x.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    expanded = expand_inputs([str(tmp_path / "a"), str(tmp_path / "*" / "*.mp3"),
                              str(tmp_path / "a" / "one.wav"), str(tmp_path / "c"),
                              str(tmp_path / "nothing*.wav"), str(tmp_path / "missing.wav")])
    assert expanded.files == [str(tmp_path / "a/deep/two.FLAC"), str(tmp_path / "a/one.wav"),
                              str(tmp_path / "b/three.mp3"), str(tmp_path / "missing.wav")]
    assert expanded.unmatched == {str(tmp_path / "c"): "no audio files in this folder",
                                  str(tmp_path / "nothing*.wav"): "no file matches this pattern"}
    recursive = expand_inputs([str(tmp_path / "**" / "*.wav")])
    assert recursive.files == [str(tmp_path / "a/one.wav")]


def test_csv_has_one_row_per_file_and_broken_files_stay_quiet(workspace, tmp_path, capfd):
    from genre_ensemble.inference.predict import main

    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    for name in ["clip.ogg", "short.wav"]:
        (folder / "sub" / name).write_bytes((workspace / "audio" / name).read_bytes())
    # random bytes named .mp3: libsndfile's MPEG decoder prints "Note: Illegal Audio-MPEG-Header"
    (folder / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(20000))
    table = tmp_path / "out" / "genres.csv"
    table.parent.mkdir()
    status = main([str(folder), "--params", str(workspace / "params.yaml"), "--csv", str(table),
                   "--jobs", "1"])
    captured = capfd.readouterr()
    assert status == 1
    assert captured.err.splitlines() == [
        f"error: {folder / 'noise.mp3'}: not an audio file (no installed decoder recognises its "
        "format)"
    ], captured.err
    rows = pd.read_csv(table, keep_default_na=False)
    assert list(rows.columns) == ["file", "seconds", "genre", "probability", *GENRES,
                                  *(f"{m}_genre" for m in MEMBERS), "error"]
    assert list(rows["file"]) == [str(folder / "noise.mp3"), str(folder / "sub/clip.ogg"),
                                  str(folder / "sub/short.wav")]
    assert rows["error"].tolist()[0].startswith("not an audio file")
    good = rows.iloc[1:]
    assert (good["error"] == "").all()
    np.testing.assert_allclose(good[list(GENRES)].astype(float).sum(axis=1), 1.0, atol=1e-4)
    for _, row in good.iterrows():
        probabilities = row[list(GENRES)].astype(float)
        assert row["genre"] == probabilities.idxmax()
        assert float(row["probability"]) == pytest.approx(probabilities.max())
        assert all(row[f"{m}_genre"] in GENRES for m in MEMBERS)
    assert good["seconds"].astype(float).tolist() == pytest.approx([CLIP_SECONDS, 2.0])


def test_a_pipeline_length_file_is_exactly_the_pipelines_clip(workspace, tmp_path):
    """GTZAN's clips last 30.013 s: with 30 s clips they must be one clip, trimmed like the
    pipeline trims, not a clip plus a near-duplicate one."""
    from threadpoolctl import threadpool_limits

    from genre_ensemble.core.parallel import parallel_map
    from genre_ensemble.corpus.audio import load_clip
    from genre_ensemble.inference.classify import classify_file
    from genre_ensemble.inference.inputs import file_inputs
    from genre_ensemble.members.classifier import feature_columns
    from genre_ensemble.members.cnn.images import ImageJob, signal_images
    from genre_ensemble.stages.features import _clip_rows

    members, params = _members_and_params(workspace, clip_seconds=30.0)
    rng = np.random.default_rng(3)
    t = np.arange(int(30.013 * SR)) / SR
    audio = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * t)) + 0.05 * rng.standard_normal(t.size)
    long_path = tmp_path / "gtzan-like.wav"
    soundfile.write(str(long_path), audio.astype(np.float32), SR, subtype="FLOAT")
    trimmed_path = tmp_path / "trimmed.wav"
    soundfile.write(str(trimmed_path), audio[: 30 * SR].astype(np.float32), SR, subtype="FLOAT")

    # two BLAS threads in the caller (the default on 2 cores) must not change a bit: the stages
    # compute every clip with one
    with threadpool_limits(limits=2):
        inputs = file_inputs(long_path, params, [members.members[n] for n in members.names])
    assert inputs.clips == 1
    clip = load_clip(long_path, sample_rate=SR, seconds=30.0)  # the pipeline's decoding
    pipeline_images = signal_images(clip, ImageJob.from_params(params, names=REPRESENTATIONS))
    for name in REPRESENTATIONS:
        (rows,) = inputs.rows[name]
        assert np.array_equal(rows, np.stack(pipeline_images[name])), name
    # the features stage's own per-clip function, run as the stage runs it
    clip_row = {"path": str(long_path), "track": "gtzan-like", "genre": GENRES[0], "split": "test"}
    (rows,) = parallel_map(partial(_clip_rows, params=params), [clip_row], progress=False)
    table = pd.DataFrame(rows)
    (features,) = inputs.rows["features"]
    assert np.array_equal(features, table[feature_columns(table)].to_numpy())
    got, trimmed = classify_file(long_path, members, params), classify_file(trimmed_path,
                                                                            members, params)
    assert np.array_equal(got.ensemble, trimmed.ensemble)
    for name in members.names:
        assert np.array_equal(got.members[name], trimmed.members[name]), name


def test_only_a_shortfall_that_matters_warns(caplog):
    from genre_ensemble.inference.inputs import warn_if_short

    with caplog.at_level("WARNING", logger="genre_ensemble.inference.inputs"):
        assert not warn_if_short("gtzan.wav", seconds=29.98, clip_seconds=30.0)
        assert not warn_if_short("long.wav", seconds=31.0, clip_seconds=30.0)
        assert caplog.records == []
        assert warn_if_short("short.wav", seconds=20.0, clip_seconds=30.0)
    (record,) = caplog.records
    assert "short.wav lasts 20.00 s, 10.00 s less than the 30 s clips" in record.getMessage()


def test_batched_results_equal_one_by_one_results(workspace):
    from genre_ensemble.inference.classify import classify_file, classify_files

    members, params = _members_and_params(workspace)
    files = [workspace / "audio" / name for name in INPUTS]
    batched = dict(classify_files(files, members, params, batch_files=4))
    for path in files:
        alone = classify_file(path, members, params)
        np.testing.assert_allclose(batched[str(path)].ensemble, alone.ensemble, rtol=0,
                                   atol=1e-6, err_msg=path.name)
        for name in members.names:
            np.testing.assert_allclose(batched[str(path)].members[name], alone.members[name],
                                       rtol=0, atol=1e-6, err_msg=f"{path.name} {name}")
