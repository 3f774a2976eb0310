"""The images and features stages on a real dask.distributed cluster: the same bytes as loky.

A ``LocalCluster`` of two worker processes on 127.0.0.1 stands in for a remote cluster; the
stages find it through ``DASK_SCHEDULER_ADDRESS`` as they would a real one.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from genre_ensemble.core.parallel import DASK_SCHEDULER_ENV, LOCAL_HOST
from genre_ensemble.core.params import Params, ParamsError
from genre_ensemble.core.paths import FEATURES_TABLE, IMAGES_DIR, MANIFEST
from genre_ensemble.members.registry import load_params, parse_params
from genre_ensemble.stages.features import features
from genre_ensemble.stages.images import images

from .conftest import REPO, SR, tone, write_wav

SECONDS = 2.0
GENRES = {"blues": 220.0, "jazz": 330.0, "rock": 440.0, "pop": 550.0, "metal": 660.0}


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed",
                                      reason="pip install -r requirements-dask.txt")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host=LOCAL_HOST, dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> list[dict]:
    """Five 2 s clips with overtones (so every representation has detail), as manifest rows."""
    folder = tmp_path_factory.mktemp("audio")
    rows = []
    for number, (genre, frequency) in enumerate(GENRES.items()):
        signal = tone(frequency, SECONDS) + 0.5 * tone(2.03 * frequency, SECONDS)
        path = write_wav(folder / f"{genre}.{number:05d}.wav", signal)
        rows.append({"track": path.stem, "genre": genre, "path": str(path),
                     "split": "train" if number % 2 else "test"})
    return rows


def stage_params(backend: str) -> Params:
    """The repository's params, made small, with the images/features stages on ``backend``."""
    params = load_params(REPO / "params.yaml")
    return params.replace(
        data=replace(params.data, sample_rate=SR, clip_seconds=SECONDS),
        windows=replace(params.windows, seconds=1.0, overlap=0.5),
        images=replace(params.images, height=24, width=24),
        parallel=replace(params.parallel, n_jobs=2, backend=backend),
    )


def run_stages(root: Path, audio: list[dict], backend: str, monkeypatch) -> Path:
    """Run the images and features stages in a fresh workspace ``root``; return it."""
    root.mkdir()
    monkeypatch.chdir(root)
    MANIFEST.parent.mkdir(parents=True)
    pd.DataFrame(audio).to_csv(MANIFEST, index=False)
    params = stage_params(backend)
    images(params)
    features(params)
    return root


def outputs(root: Path) -> dict[str, bytes]:
    """Every file the two stages wrote, by path relative to the workspace."""
    files = [*(root / IMAGES_DIR).rglob("*"), root / FEATURES_TABLE]
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(files) if p.is_file()}


def test_dask_cluster_gives_the_bytes_loky_gives(tmp_path, audio, cluster, monkeypatch):
    monkeypatch.delenv(DASK_SCHEDULER_ENV, raising=False)
    loky = outputs(run_stages(tmp_path / "loky", audio, "loky", monkeypatch))

    monkeypatch.setenv(DASK_SCHEDULER_ENV, cluster.scheduler_address)
    tasks_before = cluster.scheduler.transition_counter
    dask = outputs(run_stages(tmp_path / "dask", audio, "dask", monkeypatch))

    # work reached the cluster's workers (each stage runs its first clip in this process)
    assert cluster.scheduler.transition_counter > tasks_before
    # 5 clips x 3 representations (one array file of windows each), 3 indexes, 1 features table
    assert len(loky) == 5 * 3 + 3 + 1
    assert dask.keys() == loky.keys()
    assert [name for name in loky if dask[name] != loky[name]] == []


def test_backend_dask_without_dask_installed_is_a_params_error(monkeypatch):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["parallel"]["backend"] = "dask"
    monkeypatch.setitem(sys.modules, "dask", None)  # import machinery: "not installed"
    from genre_ensemble.stages.validate import check_choices

    pattern = r"parallel\.backend .* pip install 'dask\[distributed\]'"
    with pytest.raises(ParamsError, match=pattern):  # stage validate's check, before any work
        check_choices(parse_params(raw), root=REPO)


def _worker_setting() -> str | None:
    import os

    from genre_ensemble.core.parallel import MALLOC_TRIM_VARIABLE

    return os.environ.get(MALLOC_TRIM_VARIABLE)


@pytest.mark.parametrize("users_setting", [None, "131072"])
def test_local_cluster_workers_keep_glibcs_malloc_default_unless_the_user_set_one(
    users_setting, monkeypatch
):
    import os

    pytest.importorskip("dask.distributed", reason="pip install -r requirements-dask.txt")
    from genre_ensemble.core.parallel import MALLOC_TRIM_VARIABLE, dask_client

    if users_setting is None:
        monkeypatch.delenv(MALLOC_TRIM_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(MALLOC_TRIM_VARIABLE, users_setting)
    with dask_client(2) as client:
        seen = client.run(_worker_setting)  # worker address -> its environment's value
    assert len(seen) == 2 and set(seen.values()) == {users_setting}
    assert os.environ.get(MALLOC_TRIM_VARIABLE) == users_setting  # this process untouched


def test_a_local_cluster_leaves_port_8787_to_the_users_own_dashboard():
    """The scheduler serves HTTP even without a dashboard, by default on dask's dashboard port;
    with that port taken it warned ("Port 8787 is already in use") and moved. It takes any
    free port instead."""
    import socket
    import warnings

    pytest.importorskip("dask.distributed", reason="pip install -r requirements-dask.txt")
    from genre_ensemble.core.parallel import dask_client

    with socket.socket() as held:
        try:
            held.bind((LOCAL_HOST, 8787))  # a user's dashboard
            held.listen()
        except OSError:
            pass  # something holds the port already: the same situation
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_client(1) as client:
                assert client.submit(sum, [1, 2]).result() == 3
    assert not [w for w in caught if "already in use" in str(w.message)]
