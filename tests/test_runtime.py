"""The training log's device description, on this CPU-only machine (tests never need a GPU)."""

from __future__ import annotations

import os

from genre_ensemble.runtime import cpu_name, training_device


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
        "from genre_ensemble.runtime import PINNED_ENVIRONMENT, RuntimeConfigurationError, "
        "pin_cpu_kernels\n"
        "for name in PINNED_ENVIRONMENT: os.environ.pop(name, None)\n"
        "pin_cpu_kernels()\n"
        "assert all(os.environ[k] == v for k, v in PINNED_ENVIRONMENT.items())\n"
        "import tensorflow\n"
        "pin_cpu_kernels()  # same settings: fine\n"
        "os.environ['TF_ENABLE_ONEDNN_OPTS'] = '1'\n"
        "try:\n    pin_cpu_kernels()\nexcept RuntimeConfigurationError:\n    sys.exit(7)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 7, result.stderr[-2000:]


def test_the_machine_record_names_what_training_depends_on():
    from genre_ensemble.runtime import PINNED_ENVIRONMENT, machine_record

    record = machine_record()
    assert record["device"] == training_device() and record["cores"] == os.cpu_count()
    assert record["tensorflow"] and record["keras"] and record["cpu"] == cpu_name()
    assert set(record["environment"]) == set(PINNED_ENVIRONMENT)
    assert all(entry["internal_api"] for entry in record["blas"])


def test_the_machine_record_does_not_depend_on_library_load_order(monkeypatch):
    import threadpoolctl

    from genre_ensemble.runtime import machine_record

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
