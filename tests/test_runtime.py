"""The training log's device description, on this CPU-only machine (tests never need a GPU)."""

from __future__ import annotations

import os

from genre_ensemble.members.cnn.runtime import cpu_name, training_device


def test_without_a_gpu_training_is_described_as_the_cpu():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):  # a GPU host with the CUDA build
        assert training_device().startswith("GPU:0 (")
        return
    assert training_device() == f"CPU ({cpu_name()}, {os.cpu_count()} cores)"


def test_cpu_name_reads_the_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                       "model name\t: AMD EPYC 7B13 64-Core Processor\nflags\t: fpu\n")
    assert cpu_name(cpuinfo=cpuinfo) == "AMD EPYC 7B13 64-Core Processor"
    assert cpu_name(cpuinfo=tmp_path / "missing")  # falls back to platform, never empty


def test_kernels_are_pinned_before_tensorflow_loads_and_never_after(repo):
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        "from genre_ensemble.members.cnn.runtime import PINNED_VARIABLES, "
        "RuntimeConfigurationError, kernel_environment, pin_cpu_kernels\n"
        "for name in PINNED_VARIABLES: os.environ.pop(name, None)\n"
        "pin_cpu_kernels('eigen')\n"
        "assert all(os.environ[k] == v for k, v in kernel_environment('eigen').items())\n"
        "import tensorflow\n"
        "pin_cpu_kernels('eigen')  # same settings: fine\n"
        "try:\n    pin_cpu_kernels('onednn')\nexcept RuntimeConfigurationError:\n    sys.exit(7)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 7, result.stderr[-2000:]


def test_the_machine_record_names_what_training_depends_on():
    from genre_ensemble.members.cnn.runtime import PINNED_VARIABLES, machine_record

    record = machine_record()
    assert record["device"] == training_device() and record["cores"] == os.cpu_count()
    assert record["tensorflow"] and record["keras"] and record["cpu"] == cpu_name()
    assert set(record["environment"]) == set(PINNED_VARIABLES)
    assert all(entry["internal_api"] for entry in record["blas"])


def test_the_machine_record_does_not_depend_on_library_load_order(monkeypatch):
    import threadpoolctl

    from genre_ensemble.members.cnn.runtime import machine_record

    blas = {"user_api": "blas", "internal_api": "openblas", "architecture": "Haswell"}
    libraries = [
        {**blas, "version": "0.3.31"},
        {**blas, "version": "0.3.30"},
        {"user_api": "openmp", "internal_api": "openmp", "version": None},
    ]
    records = []
    for order in (libraries, libraries[::-1]):
        monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda order=order: list(order))
        records.append(machine_record()["blas"])
    assert records[0] == records[1]
    assert [entry["version"] for entry in records[0]] == ["0.3.30", "0.3.31"]


TRAIN_ONCE = """
import hashlib, json, os, sys
from dataclasses import replace
import numpy as np
from genre_ensemble.members.cnn.runtime import pin_cpu_kernels, set_threads
pin_cpu_kernels(sys.argv[1])
set_threads(2)
from genre_ensemble.members.cnn.networks import build_model
from genre_ensemble.members.registry import load_params
from genre_ensemble.members.cnn.training import TrainingBatches, seed_everything
settings = replace(load_params(sys.argv[2]).train, filters=4, epochs=1)
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(256, 32, 32, 1), dtype=np.uint8)
targets = rng.integers(0, 10, size=256)
seed_everything(settings.seed)
batches = TrainingBatches(images, targets, batch_size=32, augment=settings.spec_augment,
                          seed=settings.seed)
model = build_model(images.shape[1:], 10, settings, steps_per_epoch=len(batches))
model.fit(batches, epochs=1, verbose=0)
weights = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.weights)).hexdigest()
print(json.dumps({"weights": weights, "onednn": os.environ["TF_ENABLE_ONEDNN_OPTS"],
                  "bfc": os.environ["TF_CPU_ALLOCATOR_USE_BFC"]}))
"""


def test_each_cpu_kernel_choice_trains_reproducibly_and_the_choice_takes_effect(repo):
    import json
    import subprocess
    import sys

    from genre_ensemble.members.cnn.runtime import CPU_ALLOCATOR_VARIABLE

    def train_in_a_fresh_process(kernels: str, **variables: str) -> dict:
        env = {**os.environ, "PYTHONPATH": str(repo / "src")}
        env.pop(CPU_ALLOCATOR_VARIABLE, None)  # pin_cpu_kernels' choice unless set below
        env.update(variables)
        result = subprocess.run(
            [sys.executable, "-c", TRAIN_ONCE, kernels, str(repo / "params.yaml")],
            env=env, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    onednn, again, eigen = (train_in_a_fresh_process(k) for k in ("onednn", "onednn", "eigen"))
    assert onednn == again  # deterministic under oneDNN's kernels too
    assert (onednn["onednn"], eigen["onednn"]) == ("1", "0")
    assert onednn["weights"] != eigen["weights"]  # other kernels, so other sums: not a no-op
    # the pooling allocator pin_cpu_kernels selects changes where tensors live, not the weights
    plain_allocator = train_in_a_fresh_process("eigen", **{CPU_ALLOCATOR_VARIABLE: "false"})
    assert (eigen["bfc"], plain_allocator["bfc"]) == ("true", "false")
    assert plain_allocator["weights"] == eigen["weights"]
