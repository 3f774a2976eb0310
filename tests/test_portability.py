"""Everything before training is byte-identical whatever the thread count and worker count.

The `images` and `features` stages run twice on the same clips in separate processes: once
with one BLAS / OpenMP thread and one worker, once with two threads and two workers. Float sums
are split across threads, so any result that depended on the thread count (or on which BLAS
kernel a CPU gets) would differ here. OPENBLAS_CORETYPE is left as the machine sets it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.corpus.synthetic.render import synthesize_clip

from .conftest import REPO, SR, TINY, merge_params, workspace_env, write_wav

STAGES = ("images", "features")
OUTPUTS = ("data/images", "data/features/features.csv")


def _workspace(root: Path, n_jobs: int) -> Path:
    """params.yaml (tiny, ``n_jobs`` workers) and a manifest of eight synthetic 3 s clips."""
    root.mkdir()
    params = merge_params(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    params["parallel"]["n_jobs"] = n_jobs
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rows = []
    for index, genre in enumerate(GENRES[:8]):
        path = root / "audio" / genre / f"{genre}.{index:05d}.wav"
        write_wav(path, synthesize_clip(genre, 7 + index, seconds=3.0, sr=SR))
        split = ("train", "val", "test")[index % 3]
        rows.append({"track": path.stem, "genre": genre, "path": str(path), "status": "ok",
                     "reason": "", "split": split})
    manifest = root / "data" / "prepared" / "manifest.csv"
    manifest.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return root


def _digests(root: Path) -> dict[str, str]:
    digests = {}
    for output in OUTPUTS:
        path = root / output
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digests[file.relative_to(root).as_posix()] = hashlib.sha256(
                    file.read_bytes()
                ).hexdigest()
    return digests


def _run_stages(root: Path, threads: int) -> dict[str, str]:
    env = workspace_env(REPO)
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    for stage in STAGES:
        result = subprocess.run(
            [sys.executable, "-m", f"genre_ensemble.stages.{stage}"],
            cwd=root, env=env, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    return _digests(root)


def test_images_and_features_do_not_depend_on_threads_or_workers(tmp_path):
    # the same clips (synthesis is deterministic) in two workspaces
    one = _run_stages(_workspace(tmp_path / "one", n_jobs=1), threads=1)
    two = _run_stages(_workspace(tmp_path / "two", n_jobs=2), threads=2)
    assert len(one) > 10 and "data/features/features.csv" in one
    assert one == two
