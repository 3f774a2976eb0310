"""The training log's device description, on this CPU-only machine (tests never need a GPU)."""

from __future__ import annotations

import os

from genre_ensemble.devices import cpu_name, training_device


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
