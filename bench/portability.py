"""Everything before training is byte-identical across BLAS kernels and thread counts.

    python -m bench.portability [--clips 10]

Computes the images and the features-member descriptors of the same synthetic clips in fresh
processes, each with another OpenBLAS kernel (``OPENBLAS_CORETYPE``: this CPU's own, then
older ones, standing in for other CPUs) and another thread count, and compares the bytes the
stages would write (the descriptors as the features table stores them, 6 significant digits).
A one-off measurement: the tests and CI never change ``OPENBLAS_CORETYPE``.
Results go to ``bench/results/portability.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from bench.common import REPO, program, write_results

# name -> (OPENBLAS_CORETYPE or None for this CPU's own, BLAS threads)
CONFIGURATIONS: dict[str, tuple[str | None, int]] = {
    "this CPU's kernel, 1 thread": (None, 1),
    "this CPU's kernel, 2 threads": (None, 2),
    "Sandybridge kernel (AVX), 1 thread": ("Sandybridge", 1),
    "Prescott kernel (SSE3), 1 thread": ("Prescott", 1),
}

CHILD = """
import hashlib, io, json, sys
import pandas as pd
from threadpoolctl import threadpool_info, threadpool_limits
from genre_ensemble.core.fileio import CSV_FLOAT_FORMAT
from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.corpus.synthetic.render import synthesize_clip
from genre_ensemble.members.cnn.images import ImageJob, signal_images
from genre_ensemble.members.descriptors.descriptors import window_features
from genre_ensemble.members.registry import load_params
params = load_params("params.yaml")
job = ImageJob.from_params(params)
images, rows = hashlib.sha256(), []
with threadpool_limits(int(sys.argv[1])):
    for i in range(int(sys.argv[2])):
        genre = GENRES[i % len(GENRES)]
        signal = synthesize_clip(genre, 1000 + i, seconds=params.data.clip_seconds,
                                 sr=params.data.sample_rate)
        for windows in signal_images(signal, job).values():
            for window in windows:
                images.update(window.tobytes())
        rows += window_features(signal, params.data.sample_rate, windows=params.windows,
                                descriptors=params.features.descriptors)
table = io.StringIO()
pd.DataFrame(rows).to_csv(table, index=False, float_format=CSV_FLOAT_FORMAT)
kernels = sorted({d.get("architecture") for d in threadpool_info() if d["user_api"] == "blas"})
print(json.dumps({"kernels": kernels, "images_sha256": images.hexdigest()[:16],
                  "features_sha256": hashlib.sha256(table.getvalue().encode()).hexdigest()[:16],
                  "feature_values": int(pd.DataFrame(rows).size)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10)
    args = parser.parse_args()
    results = {}
    for name, (coretype, threads) in CONFIGURATIONS.items():
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        env.pop("OPENBLAS_CORETYPE", None)
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        elif "OPENBLAS_CORETYPE" in os.environ:  # as the machine sets it
            env["OPENBLAS_CORETYPE"] = os.environ["OPENBLAS_CORETYPE"]
        result = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(args.clips)],
                                cwd=REPO, env=env, capture_output=True, text=True, check=True)
        results[name] = json.loads(result.stdout.strip().splitlines()[-1])
        print(name, results[name], flush=True)
    first = next(iter(results.values()))
    identical = all(
        r["images_sha256"] == first["images_sha256"]
        and r["features_sha256"] == first["features_sha256"]
        for r in results.values()
    )
    write_results("portability", {"clips": args.clips, "identical": identical,
                                  "configurations": results})


if __name__ == "__main__":
    main()
