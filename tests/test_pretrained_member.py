"""The opt-in pretrained members (here the musicnn one): params, the weights check of
`validate`, the placeholders of their stages when not a member, and (with the wheel that
`make musicnn` fetches) stage and predict giving the same probabilities for the same clip,
offline."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from genre_ensemble.core.errors import ModelsUnavailableError, StageError
from genre_ensemble.core.fileio import CSV_FLOAT_FORMAT
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.params import ParamsError
from genre_ensemble.core.paths import (
    CLIPS,
    MANIFEST,
    MODELS_DIR,
    PARAMS_CHECKED,
    PRETRAINED_WEIGHTS_DIR,
    embeddings_path,
    model_path,
    predictions_path,
)
from genre_ensemble.core.tables import probability_matrix, read_predictions, write_predictions
from genre_ensemble.corpus.splitting import usable_clips
from genre_ensemble.corpus.synthetic.render import synthesize_clip
from genre_ensemble.inference.loading import load_members
from genre_ensemble.members.pretrained import musicnn
from genre_ensemble.members.pretrained import weights as musicnn_weights
from genre_ensemble.members.pretrained.embeddings import embed_clip, read_embeddings
from genre_ensemble.members.registry import load_params, parse_params
from genre_ensemble.stages._common import run_stage
from genre_ensemble.stages.embed import embed
from genre_ensemble.stages.ensemble import read_member_tables
from genre_ensemble.stages.evaluate import member_tables
from genre_ensemble.stages.fit_embeddings import fit_embeddings
from genre_ensemble.stages.validate import check_choices, validate
from tests.conftest import REPO, merge_params, write_wav
from tests.test_musicnn import _no_network

MUSICNN_MEMBER = "musicnn"  # the pretrained member params.yaml declares
MUSICNN_WEIGHTS_DIR = PRETRAINED_WEIGHTS_DIR
MUSICNN_EMBEDDINGS = embeddings_path(MUSICNN_MEMBER)
MUSICNN_MODEL = model_path(MUSICNN_MEMBER, ".joblib")
WHEEL = REPO / MUSICNN_WEIGHTS_DIR / musicnn_weights.WHEEL_NAME
needs_weights = pytest.mark.skipif(
    not WHEEL.is_file(), reason="musicnn weights absent: run `make musicnn` (`make test` does)")
SR = 22050
CLIP_SECONDS = 3.0  # one musicnn patch per clip: the smallest clip the member embeds fully
GENRES_USED = GENRES[:3]
SPLITS = ("train", "train", "val", "test")  # per genre


def _params(members: list[str]) -> dict:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    return merge_params(raw, {
        "data": {"clip_seconds": CLIP_SECONDS},
        "synthetic": {"seconds": CLIP_SECONDS},
        "windows": {"seconds": CLIP_SECONDS},
        "ensemble": {"members": members, "method": "sum", "weights": [1] * len(members)},
    })


def _workspace(root: Path, members: list[str]) -> None:
    """params.yaml for ``members`` in ``root``, which becomes the working directory."""
    (root / "params.yaml").write_text(yaml.safe_dump(_params(members), sort_keys=False))
    os.chdir(root)


def _link_weights(root: Path) -> None:
    (root / MUSICNN_WEIGHTS_DIR).mkdir(parents=True)
    (root / MUSICNN_WEIGHTS_DIR / WHEEL.name).symlink_to(WHEEL)


def test_params_section_is_validated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no weights here: a member in ensemble.members would need them
    raw = _params(["stft"])
    params = parse_params(raw)
    assert params.member(MUSICNN_MEMBER).settings.layers == ("mean_pool", "max_pool",
                                                             "penultimate")
    check_choices(params, root=tmp_path)
    key = f"pretrained.{MUSICNN_MEMBER}"
    for override, named in [({"layers": ["logits"]}, f"{key}.layers"),
                            ({"layers": []}, f"{key}.layers"),
                            ({"layers": ["taggram", "taggram"]}, f"{key}.layers"),
                            ({"layers": ["pool5_mean"]}, f"{key}.layers"),  # a vgg layer
                            ({"model": "MSD_resnet"}, f"{key}.model"),
                            ({"classifier": "svm"}, f"{key}.classifier")]:
        changed = merge_params(copy.deepcopy(raw), {"pretrained": {MUSICNN_MEMBER: override}})
        with pytest.raises(ParamsError) as error:  # reading params.yaml, or validate's choices
            check_choices(parse_params(changed), root=tmp_path)
        assert error.value.key == named


def test_validate_stops_with_one_line_when_the_weights_are_missing_or_differ(
        tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(musicnn_weights.DIR_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    _workspace(tmp_path, ["stft", "features"])
    run_stage(validate)  # not a member: no weights needed
    assert PARAMS_CHECKED.is_file()
    PARAMS_CHECKED.unlink()
    _workspace(tmp_path, ["stft", "features", MUSICNN_MEMBER])
    with pytest.raises(SystemExit) as stopped:
        run_stage(validate)
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "`make musicnn`" in message
    assert "Traceback" not in message
    assert not PARAMS_CHECKED.exists()
    (tmp_path / MUSICNN_WEIGHTS_DIR).mkdir(parents=True)
    (tmp_path / MUSICNN_WEIGHTS_DIR / WHEEL.name).write_bytes(b"not the wheel")
    with pytest.raises(SystemExit):
        run_stage(validate)
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "not the pinned" in message and "make musicnn" in message


def test_weights_are_found_from_a_temporary_experiment_copy(tmp_path):
    """DVC runs `--temp` and queued experiments in <repo>/.dvc/tmp/exps/<name>/, a copy without
    the git-ignored .cache/: the wheel is looked for upwards; the variable overrides."""
    copy_dir = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy_dir.mkdir(parents=True)
    assert musicnn_weights.weights_dir(copy_dir, environ={}) == copy_dir / MUSICNN_WEIGHTS_DIR
    (tmp_path / MUSICNN_WEIGHTS_DIR).mkdir(parents=True)
    (tmp_path / MUSICNN_WEIGHTS_DIR / WHEEL.name).write_bytes(b"a wheel")
    assert musicnn_weights.weights_dir(copy_dir, environ={}) == tmp_path / MUSICNN_WEIGHTS_DIR
    assert musicnn_weights.weights_dir(tmp_path, environ={}) == tmp_path / MUSICNN_WEIGHTS_DIR
    # the copy's own wheel, when it has one, comes first
    (copy_dir / MUSICNN_WEIGHTS_DIR).mkdir(parents=True)
    (copy_dir / MUSICNN_WEIGHTS_DIR / WHEEL.name).write_bytes(b"a wheel")
    assert musicnn_weights.weights_dir(copy_dir, environ={}) == copy_dir / MUSICNN_WEIGHTS_DIR
    elsewhere = tmp_path / "shared-cache"
    assert musicnn_weights.weights_dir(
        copy_dir, environ={musicnn_weights.DIR_VARIABLE: str(elsewhere)}) == elsewhere


@needs_weights
def test_validate_in_a_temporary_experiment_copy_uses_the_repository_wheel(
        tmp_path, monkeypatch):
    monkeypatch.delenv(musicnn_weights.DIR_VARIABLE, raising=False)
    _link_weights(tmp_path)
    copy_dir = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy_dir.mkdir(parents=True)
    monkeypatch.chdir(copy_dir)
    _workspace(copy_dir, ["stft", "features", MUSICNN_MEMBER])
    run_stage(validate)
    assert PARAMS_CHECKED.is_file()


def test_stages_write_placeholders_that_no_consumer_takes_for_a_member(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _workspace(tmp_path, ["stft", "features"])  # no manifest, no weights: neither is read
    params = load_params()
    assert not (tmp_path / MUSICNN_WEIGHTS_DIR).exists()
    embed(params, MUSICNN_MEMBER)
    fit_embeddings(params, MUSICNN_MEMBER)
    assert len(read_embeddings(MUSICNN_EMBEDDINGS)) == 0
    assert read_predictions(predictions_path(MUSICNN_MEMBER)).empty
    # a real member's table beside the placeholder: evaluate scores it, not the placeholder
    real = pd.DataFrame({"track": ["a"], "genre": [GENRES[0]], "split": ["test"],
                         **{g: [1.0 if g == GENRES[0] else 0.0] for g in GENRES}})
    write_predictions(predictions_path("features"), real)
    assert set(member_tables(list(params.members))) == {"features"}
    with pytest.raises(StageError, match="holds no predictions"):
        read_member_tables((MUSICNN_MEMBER,))
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "ensemble.json").write_text(
        json.dumps({"method": "sum", "weights": {MUSICNN_MEMBER: 1.0}}))
    as_member = replace(params, ensemble=parse_params(_params([MUSICNN_MEMBER])).ensemble)
    with pytest.raises(ModelsUnavailableError, match="placeholder"):
        load_members(as_member, MODELS_DIR, tmp_path / "metrics" / "ensemble.json")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny workspace (3 genres x 4 clips of 3 s), embedded and fitted by the stages with
    the network refused; the ensemble is the musicnn member alone."""
    if not WHEEL.is_file():
        pytest.skip("musicnn weights absent: run `make musicnn` (`make test` does)")
    root = tmp_path_factory.mktemp("musicnn-member")
    previous = Path.cwd()
    with pytest.MonkeyPatch.context() as patch:
        _no_network(patch)
        _link_weights(root)
        _workspace(root, [MUSICNN_MEMBER])
        rows, signals = [], {}
        for g, genre in enumerate(GENRES_USED):
            for i, split in enumerate(SPLITS):
                track = f"{genre}.{i:05d}"
                signal = synthesize_clip(genre, 10 * g + i, seconds=CLIP_SECONDS, sr=SR)
                path = write_wav(root / "audio" / f"{track}.wav", signal, subtype="FLOAT")
                signals[track] = signal
                rows.append({"path": str(path), "track": track, "genre": genre, "split": split})
        MANIFEST.parent.mkdir(parents=True)
        pd.DataFrame(rows).to_csv(MANIFEST, index=False)
        usable_clips(pd.DataFrame(rows)).to_csv(CLIPS, index=False)  # as `prepare` writes them
        try:
            params = load_params()
            embed(params, MUSICNN_MEMBER)
            fit_embeddings(params, MUSICNN_MEMBER)
        finally:
            os.chdir(previous)
    (root / "metrics").mkdir()
    (root / "metrics" / "ensemble.json").write_text(  # as the ensemble stage records them
        json.dumps({"method": "sum", "weights": {MUSICNN_MEMBER: 1.0},
                    "labels": list(GENRES_USED)}))
    return root, params, signals


@needs_weights
def test_embeddings_have_the_documented_shape_and_are_deterministic(trained):
    root, params, signals = trained
    stored = read_embeddings(root / MUSICNN_EMBEDDINGS)
    assert stored.vectors.shape == (len(signals), musicnn.CLIP_EMBEDDING_SIZE)
    assert stored.vectors.dtype == np.float32 and np.isfinite(stored.vectors).all()
    assert list(stored.keys["track"]) == list(signals)
    track = stored.keys["track"][4]
    again = embed_clip(signals[track], sample_rate=SR,
                       settings=params.member(MUSICNN_MEMBER).settings,
                       weights_dir=root / MUSICNN_WEIGHTS_DIR)
    np.testing.assert_array_equal(again, stored.vectors[4])
    assert np.abs(stored.vectors[0] - stored.vectors[4]).max() > 0  # other genre, other vector


def _stored(probabilities: np.ndarray) -> np.ndarray:
    """``probabilities`` at the precision the pipeline writes its tables with."""
    return np.array([float(CSV_FLOAT_FORMAT % p) for p in probabilities])


@needs_weights
def test_stage_and_predict_give_the_same_probabilities(trained, monkeypatch):
    from genre_ensemble.inference.classify import classify_file

    root, params, signals = trained
    _no_network(monkeypatch)
    table = read_predictions(root / predictions_path(MUSICNN_MEMBER))
    assert set(table["split"]) == {"val", "test"} and len(table) == 2 * len(GENRES_USED)
    assert (root / MUSICNN_MODEL).is_file()
    members = load_members(params, root / MODELS_DIR, root / "metrics" / "ensemble.json",
                           root=root)
    pipeline = dict(zip(table["track"], probability_matrix(table), strict=True))
    first, second = sorted(pipeline)[:2]
    for track in (first, second):
        prediction = classify_file(root / "audio" / f"{track}.wav", members, params)
        assert prediction.clips == 1
        np.testing.assert_array_equal(_stored(prediction.members[MUSICNN_MEMBER]),
                                      pipeline[track])
        np.testing.assert_array_equal(_stored(prediction.ensemble), pipeline[track])
    # a file of two clips: the member's vector is the mean over its clips
    both = np.concatenate([signals[first], signals[second]])
    path = write_wav(root / "two_clips.wav", both, subtype="FLOAT")
    prediction = classify_file(path, members, params)
    assert prediction.clips == 2
    # the stored tables hold 6 significant digits: half a unit of the 6th digit per clip
    np.testing.assert_allclose(prediction.members[MUSICNN_MEMBER],
                               (pipeline[first] + pipeline[second]) / 2, rtol=5e-6, atol=1e-12)


@needs_weights
def test_predict_without_the_weights_stops_with_one_line(trained, tmp_path):
    root, params, _ = trained
    with pytest.raises(ModelsUnavailableError) as error:
        load_members(params, root / MODELS_DIR, root / "metrics" / "ensemble.json",
                     root=tmp_path / "nowhere")
    assert "\n" not in str(error.value) and "pretrained.weights --dir" in str(error.value)


@needs_weights
def test_two_pretrained_checkpoints_sit_side_by_side(tmp_path, monkeypatch):
    """Two members of the pretrained kind (MSD musicnn, MTT vgg), one cross-fitted: each has
    its own stages' outputs, the ensemble stage combines both, and predict answers with both."""
    from genre_ensemble.inference.classify import classify_file
    from genre_ensemble.stages.ensemble import ensemble

    _no_network(monkeypatch)
    _link_weights(tmp_path)
    members = [MUSICNN_MEMBER, "vgg"]
    raw = merge_params(_params(members), {"pretrained": {"vgg": {"model": "MTT_vgg",
                                                                 "cross_fit": 2}}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    rows = []
    for g, genre in enumerate(GENRES_USED):
        for i, split in enumerate(SPLITS):
            track = f"{genre}.{i:05d}"
            signal = synthesize_clip(genre, 10 * g + i, seconds=CLIP_SECONDS, sr=SR)
            path = write_wav(tmp_path / "audio" / f"{track}.wav", signal, subtype="FLOAT")
            rows.append({"path": str(path), "track": track, "genre": genre, "split": split})
    MANIFEST.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(MANIFEST, index=False)
    usable_clips(pd.DataFrame(rows)).to_csv(CLIPS, index=False)
    params = load_params()
    for name in members:
        embed(params, name)
        fit_embeddings(params, name)
    musicnn_table = read_predictions(predictions_path(MUSICNN_MEMBER))
    vgg_table = read_predictions(predictions_path("vgg"))
    assert set(musicnn_table["split"]) == {"val", "test"}
    assert set(vgg_table["split"]) == {"train", "val", "test"}  # its train rows out of fold
    assert read_embeddings(embeddings_path("vgg")).vectors.shape[1] == 768
    ensemble(params)
    recorded = json.loads((tmp_path / "metrics" / "ensemble.json").read_text())
    assert recorded["weights"] == {MUSICNN_MEMBER: 0.5, "vgg": 0.5}
    assert recorded["labels"] == list(GENRES_USED)
    loaded = load_members(params, MODELS_DIR, tmp_path / "metrics" / "ensemble.json",
                          root=tmp_path)
    prediction = classify_file(tmp_path / "audio" / f"{GENRES_USED[0]}.00003.wav", loaded,
                               params)
    assert set(prediction.members) == set(members)
    np.testing.assert_allclose(
        prediction.ensemble,
        (prediction.members[MUSICNN_MEMBER] + prediction.members["vgg"]) / 2, atol=1e-6)
    test_row = vgg_table[vgg_table["track"] == f"{GENRES_USED[0]}.00003"]
    np.testing.assert_allclose(_stored(prediction.members["vgg"]),
                               probability_matrix(test_row)[0], atol=1e-5)
