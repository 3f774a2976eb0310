"""What changes a trained CNN member besides code, data and params: TensorFlow's CPU kernels.

    python -m bench.training_drift [--epochs 3]

Trains the default deep CNN for a few epochs on the same seeded images in fresh processes, one
per runtime configuration, and compares the trained weights (sha256) and the predictions on
held-out images with the configuration this repository pins
(:mod:`genre_ensemble.members.cnn.runtime`: ``train.cpu_kernels: eigen``: oneDNN graph rewrites
off, oneDNN's instruction set capped at AVX2, ``train.threads`` = 2).
A configuration that differs from it is one that would make two machines disagree:
``ONEDNN_MAX_CPU_ISA=AVX`` stands in for a CPU whose best instruction set differs (oneDNN picks
its kernels by the CPU), the thread count for a machine with another number of cores, and
``TF_ENABLE_ONEDNN_OPTS=1`` for the Intel CPUs on which TensorFlow turns those rewrites on by
default. Results go to ``bench/results/training_drift.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.common import REPO, program, write_results
from genre_ensemble.members.cnn.runtime import kernel_environment

PINNED_ENVIRONMENT = kernel_environment("eigen")  # the default train.cpu_kernels (README results)

# name -> (environment on top of the pinned one, intra-op threads)
CONFIGURATIONS: dict[str, tuple[dict[str, str], int]] = {
    "pinned (this repository)": ({}, 2),
    "pinned, 1 thread (another core count)": ({}, 1),
    "oneDNN instruction set AVX (another CPU)": ({"ONEDNN_MAX_CPU_ISA": "AVX"}, 2),
    "oneDNN graph rewrites on (TF default on some Intel CPUs)": (
        {"TF_ENABLE_ONEDNN_OPTS": "1"}, 2),
}

CHILD = """
import hashlib, json, sys, time
import numpy as np
from genre_ensemble.members.cnn.runtime import set_threads
set_threads(int(sys.argv[1]))
from genre_ensemble.members.cnn.networks import build_model
from genre_ensemble.members.cnn.training import TrainingBatches, seed_everything
from genre_ensemble.members.registry import load_params
settings = load_params("params.yaml").train
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(1200, 64, 64, 1), dtype=np.uint8)
targets = rng.integers(0, 10, size=1200)
for i, k in enumerate(targets):  # a learnable pattern: genre k brightens band k
    images[i, k * 6 : k * 6 + 6] = np.minimum(255, images[i, k * 6 : k * 6 + 6].astype(int) + 60)
seed_everything(settings.seed)
batches = TrainingBatches(images[:1000], targets[:1000], batch_size=settings.batch_size,
                          augment=settings.spec_augment, seed=settings.seed)
model = build_model(images.shape[1:], 10, settings, steps_per_epoch=len(batches))
start = time.perf_counter()
model.fit(batches, epochs=int(sys.argv[2]), verbose=0)
seconds = (time.perf_counter() - start) / int(sys.argv[2])
probabilities = model.predict(images[1000:], batch_size=256, verbose=0)
np.save(sys.argv[3], probabilities)
weights = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.weights)).hexdigest()
print(json.dumps({"weights_sha256": weights[:16], "seconds_per_epoch": round(seconds, 2)}))
"""


def run(name: str, epochs: int, out: str) -> dict:
    extra, threads = CONFIGURATIONS[name]
    env = {**os.environ, **PINNED_ENVIRONMENT, **extra, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), str(epochs), out],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )
    record = json.loads(result.stdout.strip().splitlines()[-1])
    return {**record, "environment": {**PINNED_ENVIRONMENT, **extra}, "threads": threads,
            "wall_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    scratch = REPO / ".cache" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(CONFIGURATIONS):  # the pinned configuration first
        out = str(scratch / f"drift{index}.npy")
        record = run(name, args.epochs, out)
        probabilities = np.load(out)
        if not results:
            reference, reference_weights = probabilities, record["weights_sha256"]
        record["same_weights_as_pinned"] = record["weights_sha256"] == reference_weights
        record["max_abs_probability_difference"] = float(np.max(np.abs(probabilities - reference)))
        record["predicted_class_changes"] = int(
            np.sum(probabilities.argmax(axis=1) != reference.argmax(axis=1))
        )
        results[name] = record
        print(name, json.dumps(record), flush=True)
    write_results("training_drift", {"epochs": args.epochs, "held_out_images": 200,
                                     "configurations": results})


if __name__ == "__main__":
    main()
