"""End to end: the real `dvc repro` on a tiny params override in a temporary copy of the repo,
then a weights-only experiment that must rerun only the ensemble and evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_checked as _run

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def workspace(tiny_workspace) -> tuple[Path, dict]:
    return tiny_workspace


def test_repro_writes_metrics_for_every_member_and_status_is_clean(workspace):
    root, env = workspace
    metrics = json.loads((root / "metrics/metrics.json").read_text())
    assert set(metrics["members"]) == {"stft", "cqt", "chroma", "features"}
    data = json.loads((root / "metrics/data.json").read_text())
    assert metrics["n_test"] == data["test"] == metrics["ensemble"]["n"] >= 10
    assert metrics["n_skipped"] == 0
    for values in [metrics["ensemble"], *metrics["members"].values()]:
        assert 0.0 <= values["accuracy_ci_low"] <= values["accuracy"] <= values["accuracy_ci_high"]
    assert (root / "plots/confusion.png").stat().st_size > 1000
    assert len((root / "metrics/test_clips.csv").read_text().splitlines()) == metrics["n_test"] + 1
    for rep in ("stft", "cqt", "chroma"):
        assert (root / f"models/{rep}.keras").is_file()
        loss = root / f"plots/train/{rep}/plots/metrics/eval/loss.tsv"
        assert len(loss.read_text().splitlines()) == 1 + 2  # header + 2 epochs
    status = _run(["dvc", "status", "--json"], root, env)
    assert json.loads(status.stdout) == {}


def test_weights_only_experiment_reruns_only_ensemble_and_evaluate(workspace):
    root, env = workspace
    result = _run(
        ["dvc", "exp", "run", "-S", "ensemble.method=sum", "-S", "ensemble.weights=[2,1,0.5,1]",
         "--name", "w-2-1-05-1"],
        root,
        env,
    )
    log = result.stdout + result.stderr
    assert "Running stage 'ensemble'" in log and "Running stage 'evaluate'" in log
    for stage in (
        "corpus",
        "prepare",
        "images",
        "train@stft",
        "train@cqt",
        "train@chroma",
        "features",
        "fit_features",
    ):
        assert f"Running stage '{stage}'" not in log, log
    weights = json.loads((root / "metrics/ensemble.json").read_text())["weights"]
    total = 4.5
    assert weights == pytest.approx(
        {"stft": 2 / total, "cqt": 1 / total, "chroma": 0.5 / total, "features": 1 / total}
    )
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], root, env).stdout)
    experiments = {
        rev["name"]: rev["data"]
        for baseline in shown
        for experiment in baseline.get("experiments") or []
        for rev in experiment["revs"]
    }
    params = experiments["w-2-1-05-1"]["params"]["params.yaml"]["data"]
    assert params["ensemble"]["weights"] == [2, 1, 0.5, 1]
    assert "ensemble" in experiments["w-2-1-05-1"]["metrics"]["metrics/metrics.json"]["data"]


def test_no_clip_has_windows_on_both_sides_of_a_split(workspace):
    """Windows inherit their clip's split: the manifest's split, for every image of every rep
    and every row of the features table."""
    import pandas as pd

    root, _ = workspace
    manifest = pd.read_csv(root / "data/prepared/manifest.csv", keep_default_na=False)
    split_of = dict(zip(manifest["track"], manifest["split"], strict=True))
    for rep in ("stft", "cqt", "chroma"):
        index = pd.read_csv(root / f"data/images/{rep}/index.csv", keep_default_na=False)
        assert index.groupby("track")["window"].count().min() > 1  # clips really were cut
        assert (index.groupby("track")["split"].nunique() == 1).all()
        assert (index["split"] == index["track"].map(split_of)).all()
        tracks = {s: set(index.loc[index["split"] == s, "track"]) for s in ("train", "val", "test")}
        assert not (tracks["train"] & tracks["test"] or tracks["val"] & tracks["test"])
        assert not tracks["train"] & tracks["val"]
    features = pd.read_csv(root / "data/features/features.csv", keep_default_na=False)
    assert (features.groupby("track")["split"].nunique() == 1).all()
    assert (features["split"] == features["track"].map(split_of)).all()


# Every stage that computes something, in pipeline order (validate's marker persists, so DVC
# cannot save it to the run-cache: it reruns, in a second, whenever params.yaml changes).
RESTORABLE = ("corpus", "prepare", "images", "train@stft", "train@cqt", "train@chroma",
              "features", "fit_features", "embed@musicnn", "fit_embeddings@musicnn", "ensemble",
              "evaluate")


def _outputs(root: Path) -> dict[str, str]:
    """path -> md5 of every output dvc.lock records."""
    import yaml

    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {out["path"]: out.get("md5") for stage in lock["stages"].values()
            for out in stage.get("outs", [])}


def test_an_experiment_seen_before_is_restored_from_the_run_cache(workspace):
    """The same changes of train, split and evaluate, run as an experiment twice from HEAD:
    the second runs no stage but validate, and gets the first one's bytes."""
    root, env = workspace
    _run(["git", "checkout", "--", "."], root, env)  # HEAD, as the weights test left it
    _run(["dvc", "checkout", "--force"], root, env)
    changes = ["-S", "train.filters=4", "-S", "split.seed=7", "-S", "evaluate.seed=3"]
    first = _run(["dvc", "exp", "run", "-n", "seen-a", *changes], root, env)
    log = first.stdout + first.stderr
    for stage in ("prepare", "images", "train@stft", "evaluate"):
        assert f"Running stage '{stage}'" in log, log
    trained = _outputs(root)
    metrics = (root / "metrics/metrics.json").read_text()
    _run(["git", "checkout", "--", "."], root, env)
    _run(["dvc", "checkout", "--force"], root, env)
    assert _outputs(root) != trained
    second = _run(["dvc", "exp", "run", "-n", "seen-b", *changes], root, env)
    log = second.stdout + second.stderr
    ran = [line for line in log.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'validate':"], log
    for stage in RESTORABLE:
        assert (f"Stage '{stage}' is cached - skipping run" in log
                or f"Stage '{stage}' didn't change" in log), (stage, log)
    assert _outputs(root) == trained  # the models, predictions and tables: the same bytes
    assert (root / "metrics/metrics.json").read_text() == metrics  # the uncached ones too
    assert _run(["git", "status", "--porcelain", "--", "plots", "metrics"], root,
                env).stdout != ""  # the experiment's results, against HEAD's
    _run(["git", "checkout", "--", "."], root, env)
    _run(["dvc", "checkout", "--force"], root, env)
