from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from genre_ensemble.core.errors import AudioError, DatasetError, StageError, UndecodableError
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.corpus.audio import load_clip
from genre_ensemble.corpus.checks import build_manifest
from genre_ensemble.corpus.discovery import find_genre_root, list_clips
from genre_ensemble.corpus.splitting import (
    kfold_split,
    listed_split,
    read_track_list,
    stratified_split,
)
from genre_ensemble.members.registry import parse_params
from genre_ensemble.stages.validate import check_inputs

from .conftest import REPO, SR, tone, write_wav


def fake_gtzan(root: Path, layout: str, clips_per_genre: int = 4) -> Path:
    """A tiny GTZAN copy with the faults real copies have.

    ``layout`` is ``genres`` (Sun .au, the original tarball) or ``genres_original`` (Kaggle
    .wav). Per genre: mono 22.05 kHz clips of 1 s, one stereo 44.1 kHz clip and one 0.9 s
    clip; in jazz a corrupt file (jazz.00054, as in the Kaggle copy), an empty file and a text
    file named .wav.
    """
    extension = ".au" if layout == "genres" else ".wav"
    base = root / layout
    for g, genre in enumerate(GENRES):
        for index in range(clips_per_genre):
            path = base / genre / f"{genre}.{index:05d}{extension}"
            path.parent.mkdir(parents=True, exist_ok=True)
            signal = tone(110.0 * (1 + g) * (1 + index / 10))
            sr = SR
            if index == 1:  # stereo at 44.1 kHz
                signal = np.stack([tone(220.0, sr=44100), tone(330.0, sr=44100)], axis=1)
                sr = 44100
            if index == 2:  # 29.9 s instead of 30 s, scaled down
                signal = signal[: int(0.9 * SR)]
            soundfile.write(
                str(path),
                signal,
                sr,
                subtype="PCM_16",
                format="AU" if extension == ".au" else "WAV",
            )
    jazz = base / "jazz"
    (jazz / f"jazz.00054{extension}").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    (jazz / f"jazz.00055{extension}").write_bytes(b"")
    (jazz / f"jazz.00056{extension}").write_text("this is not audio\n")
    (base / "README.txt").write_text("not a genre folder, just a file\n")
    return root


@pytest.mark.parametrize("layout", ["genres", "genres_original"])
def test_both_layouts_are_found_and_damaged_clips_reported(tmp_path, layout):
    root = fake_gtzan(tmp_path, layout)
    assert find_genre_root(root).name == layout
    clips = list_clips(root)
    assert len(clips) == 10 * 4 + 3
    manifest = build_manifest(clips, progress=False)
    skipped = manifest[manifest["status"] == "skipped"]
    assert sorted(skipped["track"]) == ["jazz.00054", "jazz.00055", "jazz.00056"]
    assert all(reason for reason in skipped["reason"])
    assert "empty" in skipped.set_index("track").loc["jazz.00055", "reason"]
    ok = manifest[manifest["status"] == "ok"]
    assert len(ok) == 40
    assert set(ok["sample_rate"]) == {SR, 44100}


def test_kaggle_copy_under_data_folder(tmp_path):
    fake_gtzan(tmp_path / "Data", "genres_original", clips_per_genre=1)
    assert find_genre_root(tmp_path).parts[-2:] == ("Data", "genres_original")


def test_odd_clips_are_resampled_mixed_down_and_fixed_in_length(tmp_path):
    root = fake_gtzan(tmp_path, "genres_original", clips_per_genre=3)
    stereo = root / "genres_original/blues/blues.00001.wav"
    short = root / "genres_original/blues/blues.00002.wav"
    for path in (stereo, short):
        signal = load_clip(path, sample_rate=SR, seconds=1.0)
        assert signal.shape == (SR,) and signal.dtype == np.float32
    padded = load_clip(short, sample_rate=SR, seconds=1.0)
    assert np.all(padded[int(0.9 * SR) + 10 :] == 0)  # padded with trailing silence
    assert np.any(padded[: int(0.9 * SR)] != 0)


def test_corrupt_silent_and_missing_files_raise_audio_error(tmp_path):
    root = fake_gtzan(tmp_path, "genres_original", clips_per_genre=1)
    for name in ("jazz.00054.wav", "jazz.00055.wav", "jazz.00056.wav", "nope.wav"):
        with pytest.raises(AudioError):
            load_clip(root / "genres_original/jazz" / name, sample_rate=SR, seconds=1.0)
    silent = write_wav(tmp_path / "silent.wav", np.zeros(SR, dtype=np.float32))
    with pytest.raises(AudioError, match="silent"):
        load_clip(silent, sample_rate=SR, seconds=1.0)


def test_a_file_no_decoder_reads_raises_undecodable_error(tmp_path):
    garbage = tmp_path / "song.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    with pytest.raises(UndecodableError, match="^cannot decode"):
        load_clip(garbage, sample_rate=SR, seconds=1.0)
    with pytest.raises(AudioError) as raised:  # an empty file is damaged, not undecodable
        load_clip(write_empty(tmp_path / "empty.wav"), sample_rate=SR, seconds=1.0)
    assert not isinstance(raised.value, UndecodableError)


def write_empty(path):
    path.write_bytes(b"")
    return path


def test_unusable_corpus_folders_give_one_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no genre folders"):
        list_clips(tmp_path)
    root = fake_gtzan(tmp_path / "a", "genres_original", clips_per_genre=1)
    (root / "genres_original/polka").mkdir()
    with pytest.raises(DatasetError, match="polka"):
        list_clips(root)
    root = fake_gtzan(tmp_path / "b", "genres_original", clips_per_genre=1)
    for path in (root / "genres_original/rock").iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match="rock: no audio"):
        list_clips(root)
    (root / "genres_original/rock").rmdir()
    with pytest.raises(DatasetError, match="rock: genre folder missing"):
        list_clips(root)


def _manifest(per_genre: int = 20) -> pd.DataFrame:
    rows = [
        {"track": f"{genre}.{i:05d}", "genre": genre, "path": "", "status": "ok"}
        for genre in GENRES
        for i in range(per_genre)
    ]
    rows[3]["status"] = "skipped"
    return pd.DataFrame(rows)


def test_stratified_split_is_disjoint_stratified_and_seed_stable():
    manifest = _manifest()
    split = stratified_split(manifest, test_size=0.15, val_size=0.3, seed=42)
    assert split.iloc[3] == ""  # skipped clips get no split
    counts = pd.crosstab(manifest["genre"], split)
    assert (counts["test"] == 3).all()  # 15 % of 20 per genre
    assert counts["val"].between(5, 6).all() and counts["train"].between(10, 12).all()
    assert split.equals(stratified_split(manifest, test_size=0.15, val_size=0.3, seed=42))
    assert not split.equals(stratified_split(manifest, test_size=0.15, val_size=0.3, seed=7))
    tracks = {name: set(manifest.loc[split == name, "track"]) for name in ("train", "val", "test")}
    assert not (
        tracks["train"] & tracks["val"]
        or tracks["train"] & tracks["test"]
        or tracks["val"] & tracks["test"]
    )


def test_fault_filtered_lists_parse_and_map_onto_both_layouts(tmp_path):
    lists = {
        split: read_track_list(REPO / "data/splits" / f"fault_filtered_{name}.txt")
        for split, name in (("train", "train"), ("val", "valid"), ("test", "test"))
    }
    assert [len(lists[s]) for s in ("train", "val", "test")] == [443, 197, 290]
    assert all(track.count(".") == 1 for tracks in lists.values() for track in tracks)
    listed = {track for tracks in lists.values() for track in tracks}
    assert len(listed) == 930
    for layout in ("genres", "genres_original"):
        root = fake_gtzan(tmp_path / layout, layout, clips_per_genre=15)
        manifest = build_manifest(list_clips(root), progress=False)
        split, missing = listed_split(manifest, lists)
        usable_listed = manifest[(manifest["status"] == "ok") & manifest["track"].isin(listed)]
        assert (split[usable_listed.index] != "").all()
        assert (split[~manifest["track"].isin(listed)] == "").all()
        # jazz.00054 is on the train list but corrupt in this copy: reported missing
        assert "jazz.00054" in missing
        assert len(missing) == len(listed) - len(usable_listed)


def _run_prepare(workspace: Path, gtzan: Path, method: str) -> subprocess.CompletedProcess:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"].update(source="gtzan", dir=str(gtzan), clip_seconds=1.0)
    raw["windows"]["seconds"] = 0.0
    raw["split"]["method"] = method
    (workspace / "params.yaml").write_text(yaml.safe_dump(raw))
    (workspace / "data").mkdir(exist_ok=True)
    if not (workspace / "data/splits").exists():
        shutil.copytree(REPO / "data/splits", workspace / "data/splits")
    return subprocess.run(
        [sys.executable, "-m", "genre_ensemble.stages.prepare"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("layout", ["genres", "genres_original"])
def test_prepare_stage_on_a_fake_gtzan_copy(tmp_path, layout):
    """The real stage entry point: damaged clips reported and counted, both split methods."""
    gtzan = fake_gtzan(tmp_path / "gtzan", layout, clips_per_genre=15)
    workspace = tmp_path / "repo"
    workspace.mkdir()
    result = _run_prepare(workspace, gtzan, "stratified")
    assert result.returncode == 0, result.stderr
    summary = json.loads((workspace / "metrics/data.json").read_text())
    assert summary["clips"] == 153 and summary["skipped"] == 3 and summary["usable"] == 150
    assert summary["train"] + summary["val"] + summary["test"] == 150
    skipped = pd.read_csv(workspace / "metrics/skipped_clips.csv")
    assert sorted(skipped["track"]) == ["jazz.00054", "jazz.00055", "jazz.00056"]
    assert skipped["reason"].str.len().gt(0).all()

    result = _run_prepare(workspace, gtzan, "fault_filtered")
    assert result.returncode == 0, result.stderr
    summary = json.loads((workspace / "metrics/data.json").read_text())
    manifest = pd.read_csv(workspace / "data/prepared/manifest.csv", keep_default_na=False)
    listed = set(read_track_list(REPO / "data/splits/fault_filtered_train.txt"))
    train = set(manifest.loc[manifest["split"] == "train", "track"])
    assert train and train <= listed
    assert summary["missing_listed"] > 0 and summary["unused"] > 0


def test_prepare_stage_names_the_path_when_a_genre_folder_is_missing(tmp_path):
    gtzan = fake_gtzan(tmp_path / "gtzan", "genres_original", clips_per_genre=2)
    shutil.rmtree(gtzan / "genres_original" / "reggae")
    workspace = tmp_path / "repo"
    workspace.mkdir()
    result = _run_prepare(workspace, gtzan, "stratified")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "reggae: genre folder missing" in result.stderr
    assert not (workspace / "data/prepared").exists()


def test_a_split_too_small_for_every_genre_stops_with_the_key_to_change():
    # 5 clips per genre: 15 % of 50 is 8 test clips, fewer than the 10 genres
    with pytest.raises(DatasetError, match=r"^split.test_size: .* 8 test clips"):
        stratified_split(_manifest(per_genre=5), test_size=0.15, val_size=0.3, seed=42)
    # the same corpus splits once test holds one clip per genre
    split = stratified_split(_manifest(per_genre=5), test_size=0.2, val_size=0.3, seed=42)
    assert (split == "test").sum() == 10
    with pytest.raises(DatasetError, match=r"^split.val_size: .* validation clips"):
        kfold_split(_manifest(per_genre=10), folds=5, fold=0, val_size=0.1, seed=42)


def test_validate_stops_a_synthetic_corpus_too_small_for_its_split(tmp_path, monkeypatch):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["synthetic"]["clips_per_genre"] = 5
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"^params.yaml: split.test_size: .*50 usable clips"):
        check_inputs(parse_params(raw))
    raw["synthetic"]["clips_per_genre"] = 8  # 12 test, 21 validation, 47 training clips
    check_inputs(parse_params(raw))
