"""The offline HTML report: built from a small fake repository the tests make themselves.

The fixture repository holds three runs made with the package's own stage functions (ensemble,
evaluate) on invented member predictions: a tagged baseline commit, a DVC experiment (a commit
under ``refs/exps`` whose predictions sit in the local DVC cache) and the uncommitted workspace.
Nothing here needs data/, models/, TensorFlow or a network. The browser test opens the page in
headless Chromium with the network off; it is skipped where Chromium is not installed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from genre_ensemble.core.fileio import write_csv, write_json, write_text
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.paths import (
    DATA_METRICS,
    ENSEMBLE_PREDICTIONS,
    METRICS,
    PER_GENRE,
    SKIPPED_REPORT,
    curve_path,
    image_folder,
    image_index,
    predictions_path,
)
from genre_ensemble.core.tables import KEY_COLUMNS, write_predictions
from genre_ensemble.members.cnn.imagestore import array_file, write_windows
from genre_ensemble.members.cnn.kind import REPRESENTATIONS
from genre_ensemble.members.descriptors.kind import MEMBER as FEATURE_MEMBER
from genre_ensemble.members.registry import load_params
from genre_ensemble.report import build_report, collect_runs
from genre_ensemble.report import run as report_run
from genre_ensemble.stages.ensemble import ensemble as ensemble_stage
from genre_ensemble.stages.evaluate import evaluate as evaluate_stage

from .browser import DevTools, find_chromium, problems_in

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "exp-wider"
# accuracy; confusion matrices (workspace 5, experiment 5 from the DVC cache, baseline only the
# ensemble's from metrics/test_clips.csv); per run a per-genre heatmap and a gain chart; loss and
# accuracy curves
CHARTS_WITH_REVS = 1 + (5 + 5 + 1) + 3 * 2 + 2
TEST_PER_GENRE, VAL_PER_GENRE = 3, 2
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main",
       "-c", "commit.gpgsign=false"]


# ---------------------------------------------------------------------------------------------
# A fake repository with three runs

# the members each fake run predicts (the opt-in musicnn member is left out, as by default)
RUN_MEMBERS = (*REPRESENTATIONS, FEATURE_MEMBER)


def git(root: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def member_table(rng: np.random.Generator, skill: float) -> pd.DataFrame:
    """Predictions of one member: the true genre wins with probability about ``skill``."""
    rows = []
    for split, count, first in (("val", VAL_PER_GENRE, 50), ("calib", VAL_PER_GENRE, 80),
                                ("test", TEST_PER_GENRE, 0)):
        for g, genre in enumerate(GENRES):
            for k in range(count):
                number = first + k
                raw = rng.dirichlet(np.ones(len(GENRES)))
                if rng.random() < skill:
                    raw[g] += 1.0
                rows.append([f"{genre}.{number:05d}", genre, split, *(raw / raw.sum())])
    return pd.DataFrame(rows, columns=[*KEY_COLUMNS, *GENRES])


def write_curves(rng: np.random.Generator, member: str, epochs: int) -> None:
    for split in ("train", "eval"):
        loss = 2.3 * np.exp(-np.arange(epochs) / (3 if split == "train" else 5))
        accuracy = 1 - loss / 2.5 + rng.normal(0, 0.01, epochs)
        for metric, values in (("loss", loss), ("accuracy", accuracy)):
            text = "step\t" + metric + "\n" + "".join(
                f"{step}\t{value}\n" for step, value in enumerate(values))
            write_text(curve_path(member, split, metric), text)


def example_windows(number: int) -> np.ndarray:
    """Two distinct 24 x 24 grey gradients, shape (2, 24, 24, 1)."""
    gradient = np.add.outer(np.arange(24), np.arange(24) * (number + 1)) * 4 % 256
    return np.stack([gradient, 255 - gradient]).astype(np.uint8)[..., np.newaxis]


def write_images(tracks: pd.DataFrame) -> None:
    """Two grey windows per test clip and representation in the image store, with the index."""
    for r, rep in enumerate(REPRESENTATIONS):
        rows = []
        image_folder(rep).mkdir(parents=True, exist_ok=True)
        for track, genre, split in tracks[list(KEY_COLUMNS)].itertuples(index=False):
            write_windows(image_folder(rep) / array_file(track), example_windows(r))
            rows += [[array_file(track), track, genre, split, window] for window in range(2)]
        write_csv(image_index(image_folder(rep)),
                  pd.DataFrame(rows, columns=["file", *KEY_COLUMNS, "window"]))


def make_run(root: Path, *, seed: int, epochs: int, changes: dict[str, dict[str, Any]]) -> None:
    """Write one run's outputs under ``root`` as the pipeline would, with the package's stages."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["evaluate"]["bootstrap"] = 200
    # pin the values the assertions name, whatever the committed defaults are
    raw["train"].update(epochs=epochs, filters=32, dropout=0.3)
    raw["ensemble"].update(members=["stft", "cqt", "chroma"], method="sum", weights=[1, 1, 1])
    for section, values in changes.items():
        raw[section].update(values)
    rng = np.random.default_rng(seed)
    with contextlib.chdir(root):
        write_text("params.yaml", yaml.safe_dump(raw, sort_keys=False))
        tables = {}
        for member, skill in zip(RUN_MEMBERS, (0.6, 0.5, 0.3, 0.7), strict=True):
            tables[member] = member_table(rng, skill)
            write_predictions(predictions_path(member), tables[member])
        for member in REPRESENTATIONS:
            write_curves(rng, member, epochs)
        n_test, n_val = TEST_PER_GENRE * len(GENRES), VAL_PER_GENRE * len(GENRES)
        write_json(DATA_METRICS, {"clips": 2 * n_test + n_val + 1, "usable": 2 * n_test + n_val,
                                  "skipped": 1, "unused": 0, "missing_listed": 0,
                                  "train": n_test, "val": n_val, "test": n_test})
        write_csv(SKIPPED_REPORT, pd.DataFrame(
            [["rock.00099", "rock", "genres/rock/rock.00099.wav", "unreadable audio"]],
            columns=["track", "genre", "path", "reason"]))
        write_images(tables["stft"][tables["stft"]["split"] == "test"])
        params = load_params("params.yaml")
        ensemble_stage(params)
        evaluate_stage(params)


def cache_predictions(root: Path) -> None:
    """Put the run's predictions into the DVC cache and list them in dvc.lock, like dvc repro."""
    outs = []
    for path in [*(predictions_path(m) for m in RUN_MEMBERS), ENSEMBLE_PREDICTIONS]:
        data = (root / path).read_bytes()
        md5 = hashlib.md5(data).hexdigest()
        cached = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
        outs.append({"path": path.as_posix(), "hash": "md5", "md5": md5, "size": len(data)})
    lock = {"schema": "2.0", "stages": {"predictions": {"cmd": "fake", "outs": outs}}}
    write_text(root / "dvc.lock", yaml.safe_dump(lock))
    stages = {"stages": {"predictions": {"cmd": "fake", "outs": [o["path"] for o in outs]}}}
    write_text(root / "dvc.yaml", yaml.safe_dump(stages))


@pytest.fixture(scope="module")
def fake_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC repository: tag ``baseline``, experiment ``exp-wider``, a fresh workspace."""
    from dvc.repo import Repo

    root = tmp_path_factory.mktemp("repo")
    git(root, "init", "-q")
    Repo.init(str(root)).close()
    (root / ".gitignore").write_text("/data/\n/models/\n/reports/\n")
    make_run(root, seed=1, epochs=4, changes={})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline run")
    git(root, "tag", "baseline")

    git(root, "checkout", "-q", "-b", "scratch")
    make_run(root, seed=2, epochs=6,
             changes={"train": {"filters": 64}, "split": {"calibration": 0.5},
                      "ensemble": {"method": "learned", "weights": None}})
    cache_predictions(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "experiment")
    commit = git(root, "rev-parse", "HEAD")
    baseline = git(root, "rev-parse", "baseline")
    git(root, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/{EXPERIMENT}", commit)
    git(root, "checkout", "-q", "main")
    git(root, "branch", "-q", "-D", "scratch")

    make_run(root, seed=3, epochs=5, changes={"train": {"dropout": 0.5}})
    return root


def experiment_commit(root: Path) -> str:
    ref = next(line.split()[0] for line in git(root, "show-ref").splitlines()
               if line.endswith("/" + EXPERIMENT))
    return ref[:7]


@pytest.fixture(scope="module")
def interactive_page(fake_repo: Path) -> str:
    return build_report(fake_repo, ["baseline", EXPERIMENT], examples=4)


# ---------------------------------------------------------------------------------------------
# Reading the page back


class Outline(HTMLParser):
    """The parts of the page the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.charts: list[dict[str, str]] = []
        self.specs: dict[str, str] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.svgs = 0
        self.tables: list[list[list[str]]] = []
        self.body: dict[str, str] = {}
        self._spec: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = values
        elif tag == "section":
            self.sections.append(values["id"])
        elif tag == "div" and "chart" in values.get("class", "").split():
            self.charts.append(values)
        elif tag == "script":
            self.scripts += 1
            if values.get("type") == "application/json":
                self._spec = values["id"]
                self.specs[self._spec] = ""
        elif tag == "svg":
            self.svgs += 1
        elif tag == "img":
            self.images.append(values.get("src", ""))
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        for name in ("src", "href", "action", "poster", "data"):
            if name in values and tag != "img":
                self.links.append(values[name])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._spec = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._spec is not None:
            self.specs[self._spec] += data
        if self._cell is not None:
            self._cell.append(data)


def outline(page: str) -> Outline:
    parsed = Outline()
    parsed.feed(page)
    return parsed


def table_with(parsed: Outline, *headers: str) -> list[list[str]]:
    """The first table whose header row starts with ``headers``."""
    return next(t for t in parsed.tables if t and t[0][: len(headers)] == list(headers))


def assert_nothing_loads_from_outside(page: str, parsed: Outline) -> None:
    assert all(link.startswith("#") for link in parsed.links), parsed.links
    assert all(src.startswith("data:image/png;base64,") for src in parsed.images)
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page)


# ---------------------------------------------------------------------------------------------
# Structure


def test_page_has_every_section_and_chart(interactive_page: str) -> None:
    parsed = outline(interactive_page)
    assert parsed.sections == ["missing", "metrics", "params", "confusion", "per-genre",
                               "training", "examples", "skipped"]
    expected = CHARTS_WITH_REVS
    assert len(parsed.charts) == expected
    assert parsed.body["data-chart-count"] == str(expected)
    assert parsed.body["data-charts"] == "pending"
    for chart in parsed.charts:
        spec = json.loads(parsed.specs[chart["data-spec"]])
        assert "$schema" not in spec
        assert spec.get("datasets") or spec.get("data")
    assert_nothing_loads_from_outside(interactive_page, parsed)


def test_metrics_table_has_a_row_per_run(interactive_page: str, fake_repo: Path) -> None:
    parsed = outline(interactive_page)
    rows = table_with(parsed, "run", "ensemble accuracy 95 % interval")
    baseline = git(fake_repo, "rev-parse", "--short=7", "baseline")
    assert [row[0] for row in rows[1:]] == [
        "workspace", f"baseline ({baseline})", f"{EXPERIMENT} ({experiment_commit(fake_repo)})"]
    assert rows[0][1].startswith("ensemble accuracy")
    metrics = json.loads((fake_repo / METRICS).read_text())
    accuracy = f"{metrics['ensemble']['accuracy']:.1%}"
    low = f"{metrics['ensemble']['accuracy_ci_low']:.1%}"
    assert rows[1][1].startswith(accuracy) and low in rows[1][1]
    assert rows[1][3].startswith("sum: stft 0.33, cqt 0.33, chroma 0.33")
    assert rows[3][3].startswith("learned:")
    assert "not in ensemble" in rows[1][rows[0].index("features accuracy · F1")]


def test_params_that_differ_are_listed(interactive_page: str) -> None:
    rows = table_with(outline(interactive_page), "param")
    assert [name.split(" (")[0] for name in rows[0]] == ["param", "workspace", "baseline",
                                                         EXPERIMENT]
    differing = {row[0]: row[1:] for row in rows[1:]}
    assert differing["train.epochs"] == ["5", "4", "6"]
    assert differing["train.filters"] == ["32", "32", "64"]
    assert differing["train.dropout"] == ["0.5", "0.3", "0.3"]
    assert differing["ensemble.method"] == ['"sum"', '"sum"', '"learned"']
    assert "data.sample_rate" not in differing


def test_examples_show_images_and_every_models_call(interactive_page: str) -> None:
    parsed = outline(interactive_page)
    rows = table_with(parsed, "clip")
    assert rows[0] == ["clip", *REPRESENTATIONS, "true genre", "ensemble", *RUN_MEMBERS]
    assert len(rows) == 1 + 4
    assert len(parsed.images) == 4 * len(REPRESENTATIONS)
    # each shows its clip's middle window (of two: window 1), drawn from the image store
    for number, src in enumerate(parsed.images[: len(REPRESENTATIONS)]):
        png = base64.b64decode(src.split(",", 1)[1])
        with Image.open(io.BytesIO(png)) as image:
            np.testing.assert_array_equal(np.asarray(image), example_windows(number)[1, ..., 0])
    for row in rows[1:]:
        assert row[0].split(".")[0] == row[4]  # the track name starts with its true genre
        assert all(cell[0] in "✓✗" for cell in row[5:])
    assert any(row[5].startswith("✓") for row in rows[1:])
    assert any(row[5].startswith("✗") for row in rows[1:])


def test_missing_notice_names_only_the_baselines_predictions(interactive_page: str) -> None:
    rows = table_with(outline(interactive_page), "run", "missing")
    assert [row[0] for row in rows[1:]] == ["baseline"]
    assert "data/predictions/stft.csv" in rows[1][1]
    assert "dvc fetch" in rows[1][3]


def test_gain_chart_compares_with_the_best_member(fake_repo: Path) -> None:
    from genre_ensemble.evaluation.metrics import per_genre_by_model
    from genre_ensemble.report.charts import ensemble_gain_table

    workspace = collect_runs(fake_repo, [])[0]
    gains = ensemble_gain_table(workspace)
    per_genre = per_genre_by_model(json.loads((fake_repo / PER_GENRE).read_text()))
    assert len(gains) == len(GENRES)
    for row in gains.to_dict("records"):
        best = max(per_genre[m][row["genre"]]["f1"] for m in ("stft", "cqt", "chroma"))
        assert row["best member F1"] == pytest.approx(best)
        assert row["gain"] == pytest.approx(per_genre["ensemble"][row["genre"]]["f1"] - best)
        assert row["effect"] == ("helps" if row["gain"] > 0 else
                                 "hurts" if row["gain"] < 0 else "same")


def test_static_charts_need_no_javascript(fake_repo: Path) -> None:
    page = build_report(fake_repo, [], examples=2, charts="static")
    parsed = outline(page)
    assert parsed.scripts == 0
    assert parsed.body["data-charts"] == "rendered"
    assert len(parsed.charts) == 1 + 5 + 2 + 2
    assert parsed.svgs >= len(parsed.charts)
    assert "missing" not in parsed.sections  # the workspace has everything
    assert_nothing_loads_from_outside(page, parsed)


def test_fresh_clone_shows_committed_metrics_and_says_what_is_missing(
    fake_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(fake_repo), str(clone)], check=True)
    assert not (clone / "data").exists()
    monkeypatch.chdir(clone)
    output = tmp_path / "out" / "index.html"
    from genre_ensemble.cli import main

    with caplog.at_level(logging.WARNING):
        assert main(["report", "--output", str(output), "--charts", "static"]) == 0
    page = output.read_text()
    parsed = outline(page)
    notice = table_with(parsed, "run", "missing")
    missing = " ".join(row[1] for row in notice[1:])
    assert "data/ensemble/predictions.csv" in missing and "data/images/stft/" in missing
    assert all("dvc pull" in row[3] for row in notice[1:])
    assert "Not available: the workspace has no per-clip ensemble predictions" in page
    baseline = json.loads(git(fake_repo, "show", "baseline:metrics/metrics.json"))
    workspace_row = table_with(parsed, "run", "ensemble accuracy 95 % interval")[1]
    assert workspace_row[1].startswith(f"{baseline['ensemble']['accuracy']:.1%}")
    assert len(parsed.charts) == 1 + 1 + 2 + 2  # the ensemble's matrix from metrics/test_clips.csv
    assert "data/predictions" in caplog.text


def test_no_run_yet_says_how_to_make_one(tmp_path: Path) -> None:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    page = build_report(tmp_path, [], charts="static")
    parsed = outline(page)
    assert "make run (or dvc repro)" in page
    assert not parsed.charts
    assert table_with(parsed, "run", "missing")[1][0] == "workspace"


def test_unknown_rev_is_one_clear_error(
    fake_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import argparse

    from genre_ensemble.report import configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    monkeypatch.chdir(fake_repo)
    output = tmp_path / "never.html"
    args = parser.parse_args(["--rev", "no-such-branch", "--output", str(output)])
    assert report_run(args) == 2
    assert not output.exists()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "no-such-branch: not found" in errors[0] and "dvc exp list" in errors[0]

    monkeypatch.chdir(tmp_path)  # not a git repository
    assert report_run(parser.parse_args(["--rev", "main", "--output", str(output)])) == 2
    assert "not a git repository" in caplog.records[-1].getMessage()


def test_report_does_not_import_tensorflow() -> None:
    code = ("import sys, genre_ensemble.report, genre_ensemble.cli; "
            "sys.exit(int(any(m in sys.modules for m in ('tensorflow', 'keras'))))")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# In a real browser, offline


@pytest.mark.skipif(find_chromium() is None,
                    reason="Chromium is not installed (Debian: apt-get install chromium); "
                           "CI installs it")
def test_page_renders_offline_in_headless_chromium(
    fake_repo: Path, interactive_page: str, tmp_path: Path
) -> None:
    page_path = tmp_path / "index.html"
    write_text(page_path, interactive_page)
    browser = DevTools(find_chromium(), tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Network.emulateNetworkConditions",
                     {"offline": True, "latency": 0, "downloadThroughput": -1,
                      "uploadThroughput": -1}, session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
                     session)
        browser.send("Page.navigate", {"url": page_path.as_uri()}, session)

        def evaluate(expression: str) -> Any:
            result = browser.send("Runtime.evaluate",
                                  {"expression": expression, "returnByValue": True}, session)
            return result["result"].get("value")

        deadline = time.monotonic() + 40
        state = None
        while time.monotonic() < deadline:
            state = evaluate("document.body ? document.body.dataset.charts : null")
            if state in ("rendered", "failed"):
                break
            time.sleep(0.2)
        expected = int(evaluate("document.body.dataset.chartCount"))
        drawn = evaluate("document.querySelectorAll('div.chart > svg, div.chart canvas').length")
        failed = evaluate("document.querySelectorAll('div.chart.failed').length")
        height = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]["height"]
        shot = browser.send("Page.captureScreenshot",
                            {"format": "png", "captureBeyondViewport": True,
                             "clip": {"x": 0, "y": 0, "width": 1400, "height": height,
                                      "scale": 1}}, session)
        errors, requests = problems_in(browser.events)
    finally:
        browser.close()

    assert state == "rendered", (state, errors)
    assert expected == CHARTS_WITH_REVS and drawn == expected and failed == 0
    assert errors == []
    assert requests == []
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.width == 1400 and image.height > 3000
        assert len(image.convert("L").getcolors(1 << 16) or []) > 50  # not a blank page
    if target_dir := os.environ.get("REPORT_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(target_dir) / "report.png")
