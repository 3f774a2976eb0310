"""Wall time of a weights-only experiment: ``dvc exp run -S ensemble.method=sum -S
'ensemble.weights=[2,1,0.5,1]'``.

(With a fourth member in ``ensemble.members``, e.g. features, the setting is
``[2,1,0.5,1]``: params.yaml needs one weight per member.)

Needs a workspace with a completed pipeline run (:func:`bench.common.pipeline_workspace`): the
repository's own when it has one (``dvc repro`` was run in it: dvc.lock, models/, metrics/),
else the bench runs ``dvc repro`` once in ``.cache/bench/pipeline`` with params.yaml as it is
(10-20 minutes on 2 cores) and reuses it afterwards (``--fresh`` redoes it).

Each timed run starts from a fresh copy of that workspace, runs ``dvc status`` once untimed
(so DVC's file-hash cache is as warm as in a working repository), then times the experiment.
Every run must rerun only ``ensemble`` and ``evaluate`` (no ``train@*``, ``images`` or
``features``); one more, untimed, run with ``PYTHONPROFILEIMPORTTIME=1`` shows from Python's
own import log that no stage process imported TensorFlow or Keras.

Example::

    python -m bench.exp_weights --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    REPO,
    bench_env,
    median,
    pipeline_workspace,
    program,
    table,
    workspace_settings,
    write_results,
)
from bench.workspace import run_checked

logger = logging.getLogger("bench.exp_weights")
WEIGHTS = [2, 1, 0.5]  # stft, cqt, chroma; any further member (features) gets 1
EXPECTED = {"ensemble", "evaluate"}
TARGET_SECONDS = 15.0


def experiment(workspace: Path, setting: str, *, import_log: bool = False) -> dict:
    """Copy the workspace, warm DVC's hash cache, time one ``dvc exp run -S setting``."""
    with tempfile.TemporaryDirectory(dir=REPO / ".cache" / "bench", prefix="exp-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(workspace, root, symlinks=True)
        env = bench_env(root)
        run_checked(["dvc", "status"], root, env)
        if import_log:
            env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
        started = time.perf_counter()
        # fixed weights need ensemble.method sum (the default, selected, fits its own)
        result = subprocess.run(["dvc", "exp", "run", "-S", "ensemble.method=sum", "-S", setting],
                                cwd=root, env=env,
                                capture_output=True, text=True, timeout=900)
        seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"dvc exp run failed:\n{output[-3000:]}")
    ran = re.findall(r"Running stage '([^']+)'", output)
    heavy = sorted({m.group(1) for m in re.finditer(
        r"import time:.*\|\s+((?:tensorflow|keras)(?:\.\S+)?)\s*$", output, re.MULTILINE)})
    stage_imports = sorted(set(re.findall(r"\|\s+(genre_ensemble\.stages\.\w+)\s*$", output,
                                          re.MULTILINE)))
    return {"seconds": seconds, "ran": ran, "stage_modules_in_import_log": stage_imports,
            "skipped": re.findall(r"Stage '([^']+)' didn't change, skipping", output),
            "heavy_imports": heavy[:5]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh", action="store_true",
                        help="redo the pipeline run in .cache/bench/pipeline")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args()
    workspace, info = pipeline_workspace(fresh=args.fresh, log=logger.info)
    logger.info("workspace %s (%s)", workspace, info["source"])
    members = workspace_settings(workspace)["members"]
    weights = (WEIGHTS + [1] * len(members))[: len(members)]
    setting = f"ensemble.weights=[{','.join(f'{w:g}' for w in weights)}]"
    runs = []
    for number in range(args.repeats):
        runs.append(experiment(workspace, setting))
        logger.info("run %d: %.1f s, ran %s", number + 1, runs[-1]["seconds"], runs[-1]["ran"])
    check = experiment(workspace, setting, import_log=True)
    only_expected = all(set(r["ran"]) == EXPECTED for r in [*runs, check])
    if not check["stage_modules_in_import_log"]:
        raise RuntimeError("the import log shows no stage module: the TensorFlow check is void")
    seconds = [r["seconds"] for r in runs]
    print(f"\n`dvc exp run -S '{setting}'` on a completed run ({info['source']}), "
          f"median of {args.repeats}")
    print(table([("wall seconds", median(seconds)), ("runs", ", ".join(f"{s:.1f}" for s in
                                                                         seconds)),
                 ("stages rerun", ", ".join(runs[0]["ran"])),
                 ("stages skipped", len(runs[0]["skipped"])),
                 ("TensorFlow/Keras imported", ", ".join(check["heavy_imports"]) or "no")],
                ["measure", "value"]))
    verdict = "under" if median(seconds) < TARGET_SECONDS else "OVER"
    print(f"{verdict} the {TARGET_SECONDS:g} s target; only ensemble and evaluate reran: "
          f"{only_expected}")
    path = write_results("exp_weights", {
        "setting": setting,
        "workspace": {**info, **workspace_settings(workspace)},
        "seconds": [round(s, 2) for s in seconds],
        "median_seconds": round(median(seconds), 2),
        "target_seconds": TARGET_SECONDS,
        "stages_rerun": runs[0]["ran"],
        "stages_skipped": runs[0]["skipped"],
        "only_ensemble_and_evaluate_reran": only_expected,
        "tensorflow_or_keras_imported": check["heavy_imports"],
        "stage_modules_in_import_log": check["stage_modules_in_import_log"],
    })
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
