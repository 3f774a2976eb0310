"""Which device TensorFlow trains on, in words, for the training log."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_name(*, cpuinfo: Path = CPUINFO) -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), else what :mod:`platform` says."""
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def training_device() -> str:
    """The device Keras places training on: the first GPU TensorFlow sees, else the CPU.

    Returns
    -------
    str
        ``"GPU:0 (NVIDIA H100 80GB HBM3, compute capability 9.0)"`` when TensorFlow sees a
        GPU (a CUDA build, ``make gpu``, on a host with a driver), else
        ``"CPU (AMD EPYC 7B13, 2 cores)"``.
    """
    import tensorflow as tf  # heavy: imported only when asked

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", gpus[0].name)
        capability = details.get("compute_capability")
        if capability:
            name += f", compute capability {'.'.join(map(str, capability))}"
        extra = f"; {len(gpus)} GPUs seen, one used" if len(gpus) > 1 else ""
        return f"GPU:0 ({name}){extra}"
    return f"CPU ({cpu_name()}, {os.cpu_count()} cores)"
