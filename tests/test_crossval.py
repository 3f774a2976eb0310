"""k-fold splits, per-clip outcomes, experiments -> variants, the sweep command, and a real
`dvc exp` round trip in a tiny repository (no TensorFlow, seconds)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import textwrap

import pandas as pd
import pytest
import yaml

from genre_ensemble.core.errors import DatasetError
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.params import ParamsError
from genre_ensemble.core.tables import KEY_COLUMNS
from genre_ensemble.corpus.splitting import assign_splits, calibration_split, kfold_split
from genre_ensemble.evaluation.outcomes import clip_outcomes
from genre_ensemble.experiments import sweeps
from genre_ensemble.experiments.crossval import group_variants, select_experiments
from genre_ensemble.experiments.runs import Experiment, finished_experiments, load_experiments
from genre_ensemble.members.registry import parse_params

from .conftest import REPO, workspace_env


def _manifest(per_genre: int = 12, skipped: tuple[int, ...] = (3, 50)) -> pd.DataFrame:
    rows = [
        {"track": f"{genre}.{i:05d}", "genre": genre, "path": "", "status": "ok"}
        for genre in GENRES
        for i in range(per_genre)
    ]
    for index in skipped:
        rows[index]["status"] = "skipped"
    return pd.DataFrame(rows)


def test_kfold_folds_partition_the_usable_clips_stratified_and_seeded():
    manifest = _manifest()
    usable = manifest["status"] == "ok"
    splits = [kfold_split(manifest, folds=4, fold=k, val_size=0.3, seed=42) for k in range(4)]
    test_count = sum((split == "test").astype(int) for split in splits)
    assert (test_count[usable] == 1).all()  # every usable clip is tested exactly once
    assert (test_count[~usable] == 0).all()
    for split in splits:
        assert (split[~usable] == "").all() and (split[usable] != "").all()  # one split each
        per_genre = manifest.loc[split == "test", "genre"].value_counts()
        assert per_genre.reindex(list(GENRES), fill_value=0).between(2, 4).all()
        val_per_genre = manifest.loc[split == "val", "genre"].value_counts()
        assert val_per_genre.reindex(list(GENRES), fill_value=0).between(2, 3).all()
    again = kfold_split(manifest, folds=4, fold=2, val_size=0.3, seed=42)
    assert again.equals(splits[2])
    assert not kfold_split(manifest, folds=4, fold=2, val_size=0.3, seed=7).equals(splits[2])


def test_kfold_refuses_more_folds_than_a_genre_has_clips():
    with pytest.raises(DatasetError, match="split.folds is 12 .* lower split.folds"):
        kfold_split(_manifest(per_genre=12), folds=12, fold=0, val_size=0.3, seed=0)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"fold": 5, "folds": 5}, "split.fold"),
        ({"fold": -1}, "split.fold"),
        ({"folds": 1, "fold": 0}, "split.folds"),
        ({"folds": 2.5}, "split.folds"),
        ({"method": "loo"}, "split.method"),
    ],
)
def test_fold_params_are_checked_with_one_sentence(raw, changes, named):
    from genre_ensemble.stages.validate import check_choices

    raw["split"].update(changes)
    with pytest.raises(ParamsError) as caught:  # reading params.yaml, or validate's choices
        check_choices(parse_params(raw), root=REPO)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_prepare_assigns_the_kfold_split(raw):
    raw["split"].update(method="kfold", folds=3, fold=1)
    params = parse_params(raw)
    manifest = _manifest()
    split, missing = assign_splits(manifest, params.split, lists_dir=REPO / "data/splits")
    assert missing == []
    assert split.equals(kfold_split(manifest, folds=3, fold=1, val_size=0.3, seed=42))


# ---------------------------------------------------------------------------------------------
# per-clip outcomes


def _predictions(tracks: list[str], predicted: list[str], split: str = "test") -> pd.DataFrame:
    table = pd.DataFrame(0.0, index=range(len(tracks)), columns=list(GENRES))
    for row, genre in enumerate(predicted):
        table.loc[row, genre] = 0.9
    table["track"] = tracks
    table["genre"] = [t.split(".")[0] for t in tracks]
    table["split"] = split
    return table[[*KEY_COLUMNS, *GENRES]]


def test_clip_outcomes_align_members_by_track():
    tracks = [f"{g}.{i:05d}" for i, g in enumerate(GENRES)]
    truth = [t.split(".")[0] for t in tracks]
    shifted = truth[1:] + truth[:1]
    train = _predictions(["rock.00099"], ["rock"], split="train")
    stft = pd.concat([_predictions(tracks, truth), train])
    cqt = _predictions(tracks, shifted).sample(frac=1, random_state=3)  # rows shuffled
    outcomes = clip_outcomes({"stft": stft, "cqt": cqt, "ensemble": stft})
    assert list(outcomes.columns) == ["track", "genre", "stft", "cqt", "ensemble"]
    assert sorted(tracks) == list(outcomes["track"])  # test clips only, sorted
    assert (outcomes["stft"] == outcomes["genre"]).all()
    expected = dict(zip(tracks, shifted, strict=True))
    assert (outcomes["cqt"] == outcomes["track"].map(expected)).all()
    with pytest.raises(ValueError, match="test clips differ"):
        clip_outcomes({"stft": stft, "cqt": cqt.iloc[1:]})


# ---------------------------------------------------------------------------------------------
# experiments -> variants


def _experiment(name: str, fold: int, filters: int, seed: int = 1) -> Experiment:
    outcomes = pd.DataFrame(
        {"track": [f"jazz.{fold:05d}"], "genre": ["jazz"], "ensemble": ["jazz"]}
    )
    params = {"split.method": "kfold", "split.fold": fold, "train.filters": filters,
              "train.seed": seed}
    return Experiment(name=name, rev=f"{fold}{filters}{seed}abcdef0", params=params,
                      outcomes=outcomes)


def test_variants_are_named_by_sweep_prefix_or_by_their_differing_params():
    swept = [_experiment(f"paper-f{k}", k, 32) for k in range(3)]
    swept += [_experiment(f"wide-f{k}", k, 64) for k in range(2)]
    variants = group_variants(swept)
    assert sorted(variants) == ["paper", "wide"]
    assert sorted(variants["paper"]["replicate"]) == [f"split.fold={k}" for k in range(3)]
    unnamed = [_experiment(f"exp-{k}", k, filters) for k in range(2) for filters in (16, 32)]
    assert sorted(group_variants(unnamed)) == ["train.filters=16", "train.filters=32"]
    seeds = [_experiment(f"paper-f{k}", k, 32, seed=s) for k in range(2) for s in (1, 2)]
    assert len(group_variants(seeds)) == 2  # seeds differ: two variants ...
    pooled = group_variants(seeds, over=["train.seed"])  # ... or replicates of one
    assert list(pooled) == ["paper"] and pooled["paper"]["replicate"].nunique() == 4
    assert [e.name for e in select_experiments(swept, ["wide"])] == ["wide-f0", "wide-f1"]


def test_experiments_without_outcomes_are_left_out():
    old = Experiment("old-f0", "1234567abc", {"split.fold": 0}, outcomes=None)
    assert list(group_variants([old, _experiment("new-f0", 0, 16)])) == ["new"]


# ---------------------------------------------------------------------------------------------
# the sweep command


def _apply(raw: dict, overrides: list[str]) -> dict:
    """What `dvc exp run -S key=value` does to params.yaml (values parsed as YAML)."""
    changed = copy.deepcopy(raw)
    for override in overrides:
        dotted, value = override.split("=", 1)
        *parents, last = dotted.split(".")
        node = changed
        for key in parents:
            node = node[key]
        node[last] = yaml.safe_load(value)
    return changed


def test_cv_queues_one_valid_experiment_per_fold(raw):
    commands = sweeps.cv_commands("paper", 3)
    assert len(commands) == 3
    for fold, command in enumerate(commands):
        assert command[:6] == ["dvc", "exp", "run", "--queue", "-n", f"paper-f{fold}"]
        overrides = [command[i + 1] for i, word in enumerate(command) if word == "-S"]
        assert overrides[: len(sweeps.PAPER)] == list(sweeps.PAPER)
        params = parse_params(_apply(raw, overrides))
        assert (params.split.method, params.split.folds, params.split.fold) == ("kfold", 3, fold)
        assert params.train.architecture == "paper"
    assert sweeps.QUEUE_START == ("dvc", "queue", "start", "-j", "1")


def test_every_variant_is_a_valid_params_file(raw):
    for name, variant in sweeps.VARIANTS.items():
        # the real-music variants' 30 s clips are longer than synthetic ones
        music = ["data.source=gtzan"] if name.startswith("real") else []
        params = parse_params(_apply(raw, [*music, *variant.overrides]))
        if name.startswith("long30"):
            assert params.data.clip_seconds == params.synthetic.seconds == 30
    capped = parse_params(_apply(raw, list(sweeps.VARIANTS["long30-cap6"].overrides)))
    assert capped.train.windows_per_clip == 6


def test_cv_runs_the_first_folds_of_the_partition_and_repeats_seeds(raw):
    commands = sweeps.cv_commands("default", 5, run_folds=2, seed=7)
    assert [c[c.index("-n") + 1] for c in commands] == ["default-seed7-f0", "default-seed7-f1"]
    for fold, command in enumerate(commands):
        params = parse_params(_apply(raw, [command[i + 1] for i, w in enumerate(command)
                                           if w == "-S"]))
        assert (params.split.folds, params.split.fold, params.train.seed) == (5, fold, 7)


def test_set_adds_overrides_after_the_variants_and_before_the_split(raw):
    settings = ["data.source=folder", "data.dir=/music"]
    for command in sweeps.cv_commands("default", 5, run_folds=1, settings=settings):
        overrides = [command[i + 1] for i, w in enumerate(command) if w == "-S"]
        assert overrides[:2] == settings and overrides[-1] == "split.fold=0"
        params = parse_params(_apply(raw, overrides))
        assert (params.data.source, str(params.data.dir)) == ("folder", "/music")
    once = sweeps.run_command("real", [*sweeps.VARIANTS["real"].overrides, *settings],
                              workspace=True)
    assert once[:4] == ["dvc", "exp", "run", "-n"] and "--temp" not in once
    assert once[4].startswith("real-") and once[4] != "real-"  # a new name every run
    assert sweeps.run_command("real", settings)[:4] == ["dvc", "exp", "run", "--temp"]


@pytest.mark.parametrize(("argv", "problem"), [
    (["real", "--set", "data.dir"], "give KEY=VALUE"),
    (["real", "default", "--workspace"], "--workspace runs one variant once"),
    (["real", "--workspace", "--folds", "5"], "--workspace runs one variant once"),
])
def test_sweep_refuses_bad_settings_before_running_anything(argv, problem, capsys):
    from genre_ensemble.cli import main

    assert main(["sweep", *argv]) == sweeps.EXIT_USAGE
    assert problem in capsys.readouterr().err


def test_the_cv_waiter_stops_waiting_for_folds_removed_from_the_queue():
    queued = {"a-f0", "a-f1", "a-f2"}
    states = {"a-f0": "success", "a-f1": "running"}  # a-f2 removed by hand
    waiting, missing = sweeps.still_waiting(queued, states, missing_before=set())
    assert (waiting, missing) == (["a-f1", "a-f2"], {"a-f2"})  # once missing may be a race
    waiting, missing = sweeps.still_waiting(queued, states, missing_before=missing)
    assert waiting == ["a-f1"]  # missing twice in a row: removed
    states["a-f1"] = "failed"
    assert sweeps.still_waiting(queued, states, missing_before=missing)[0] == []
    states["a-f2"] = "queued"  # back in the queue: waited for again
    assert sweeps.still_waiting(queued, states, missing_before=missing) == (["a-f2"], set())


# ---------------------------------------------------------------------------------------------
# a real `dvc exp` round trip

STAGE = textwrap.dedent(
    """
    import json, pathlib, yaml
    params = yaml.safe_load(open("params.yaml"))
    fold, flip = params["split"]["fold"], params["model"]["flip"]
    genres = ["blues", "jazz"]
    rows, right = ["track,genre,ensemble"], 0
    for i in range(fold * 6, fold * 6 + 6):
        genre = genres[i % 2]
        guess = genre if i % 3 or not flip else genres[1 - i % 2]
        right += guess == genre
        rows.append(f"clip{i:03d},{genre},{guess}")
    pathlib.Path("metrics").mkdir(exist_ok=True)
    pathlib.Path("metrics/test_clips.csv").write_text("\\n".join(rows) + "\\n")
    json.dump({"ensemble": {"accuracy": right / 6}}, open("metrics/metrics.json", "w"))
    """
)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:dvc.*")  # DVC's own, in-process
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_compare_reads_real_dvc_experiments(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    env = workspace_env(root)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> None:
        subprocess.run(args, cwd=root, env=env, check=True, capture_output=True, text=True)

    (root / "stage.py").write_text(STAGE)
    (root / "params.yaml").write_text("split:\n  fold: 0\nmodel:\n  flip: false\n")
    (root / "dvc.yaml").write_text(textwrap.dedent(
        """
        stages:
          evaluate:
            cmd: python stage.py
            deps: [stage.py]
            params: [split, model]
            metrics:
              - metrics/metrics.json:
                  cache: false
            outs:
              - metrics/test_clips.csv:
                  cache: false
        """
    ))
    run("git", "init", "-q", "-b", "main")
    run("dvc", "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "pipeline")
    from dvc.cli import main as dvc_main  # in-process: saves an interpreter start per run

    monkeypatch.chdir(root)
    for variant, flip in (("good", "false"), ("flip", "true")):
        for fold in range(2):
            assert dvc_main(["exp", "run", "-q", "-n", f"{variant}-f{fold}",
                             "-S", f"split.fold={fold}", "-S", f"model.flip={flip}"]) == 0

    experiments = load_experiments(root)
    assert sorted(e.name for e in experiments) == ["flip-f0", "flip-f1", "good-f0", "good-f1"]
    variants = group_variants(experiments)
    assert sorted(variants) == ["flip", "good"]
    assert len(variants["good"]) == 12 and (variants["good"]["ensemble"] ==
                                            variants["good"]["genre"]).all()

    from genre_ensemble.cli import main

    assert main(["compare", "--baseline", "good", "--json", "--resamples", "200"]) == 0


def test_only_finished_experiments_are_read():
    """dvc.api.exp_show's rows: baselines, a finished experiment (no state), a queued one, a
    successful one and a failed one."""
    def row(name: str | None, typ: str, state: str | None) -> dict:
        return {"Experiment": name, "rev": f"{name or 'base'}0abc"[:7], "typ": typ,
                "State": state, "split.fold": 1.0}

    rows = [row(None, "baseline", None), row("done", "branch_commit", None),
            row("queued", "branch_commit", "Queued"), row("ok", "branch_commit", "Success"),
            row("broke", "branch_base", "Failed")]
    assert [name for name, _ in finished_experiments(rows)] == ["done", "ok"]


def test_sweep_command_refuses_unknown_variants_and_lists_them(capsys):
    from genre_ensemble.cli import main

    assert main(["sweep", "nope"]) == 2
    assert "unknown variant 'nope'" in capsys.readouterr().err
    assert main(["sweep", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in sweeps.VARIANTS)


def test_calibration_clips_come_out_of_validation_only_stratified_and_seeded():
    manifest = _manifest(per_genre=20)
    base = kfold_split(manifest, folds=4, fold=0, val_size=0.4, seed=1)
    split = calibration_split(manifest, base, fraction=0.5, seed=1)
    moved = split != base
    assert moved.any() and (base[moved] == "val").all() and (split[moved] == "calib").all()
    assert (split[~moved] == base[~moved]).all()  # train and test untouched
    assert abs((split == "calib").sum() - (base == "val").sum() / 2) <= 1
    assert manifest.loc[split == "calib", "genre"].nunique() == len(GENRES)
    assert split.equals(calibration_split(manifest, base, fraction=0.5, seed=1))
    assert calibration_split(manifest, base, fraction=0.0, seed=1).equals(base)
