"""The TensorFlow CPU runtime: the same kernels and thread count on every machine, and a record
of the machine that trained a member.

Training is seeded and uses TensorFlow's deterministic kernels, but which kernels run still
depends on the machine: oneDNN picks its code by the CPU's instruction set (AVX2, AVX-512...),
TensorFlow turns its oneDNN graph rewrites on by default only on some Intel CPUs, and the
intra-op thread count (by default the core count) decides how sums are split. Each of these
changed the trained weights in ``bench/training_drift.py``. Pinning them leaves what the CPU
model itself does (its floating-point unit, cache-size-dependent blocking), which this
repository cannot test from one machine: README says what reproduces where.

Which kernels, params ``train.cpu_kernels``: ``eigen`` (oneDNN's graph rewrites off: the
kernels every result in README was trained with) or ``onednn`` (rewrites on: the same network
trains about 1.6x faster on a CPU, to other weights). Either is pinned the same way on every
machine.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

from genre_ensemble.core.params import Choices

logger = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")
# The variables that select TensorFlow's CPU kernels, read once when TensorFlow is imported.
PINNED_VARIABLES: tuple[str, ...] = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")
# TensorFlow's default CPU allocator hands large buffers back to the system when they are freed
# (strace: thousands of 1-8 MB mmap/munmap pairs an epoch): training the deep CNN took ~185,000
# page faults a second, over a third of its CPU time in the kernel. Its BFC allocator keeps a
# pool instead. Where a tensor lives does not change what is computed (the same weights with
# either, both kernel choices), so it is not part of the machine record; a user's own setting
# is kept.
CPU_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


# params train.cpu_kernels -> whether TensorFlow's oneDNN graph rewrites are on. AVX2 is the
# newest instruction set every x86-64 CPU of the last ten years has (Intel since 2013, AMD
# since 2015), so oneDNN is capped at it either way.
CPU_KERNELS: Choices[bool] = Choices("train.cpu_kernels", {
    "eigen": False,  # the kernels behind README's results
    "onednn": True,  # about 1.6x faster CPU training, other (equally reproducible) weights
})


def kernel_environment(kernels: str) -> dict[str, str]:
    """The environment that selects ``kernels`` (params ``train.cpu_kernels``) on any CPU.

    Raises
    ------
    genre_ensemble.core.params.ParamsError
        When ``kernels`` is not one of :data:`CPU_KERNELS`.
    """
    onednn = CPU_KERNELS.pick(kernels)
    return {"TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}


class RuntimeConfigurationError(RuntimeError):
    """TensorFlow was imported before its kernels could be pinned."""


def pin_cpu_kernels(kernels: str) -> None:
    """Select the same TensorFlow / oneDNN CPU kernels on every machine.

    Must run before TensorFlow is imported in the process (the variables are read once, at
    import). Also selects TensorFlow's pooling CPU allocator (:data:`CPU_ALLOCATOR_VARIABLE`)
    unless the environment already chooses one.

    Parameters
    ----------
    kernels : {"eigen", "onednn"}
        params ``train.cpu_kernels``.

    Raises
    ------
    RuntimeConfigurationError
        If TensorFlow was already imported with other settings.
    """
    environment = kernel_environment(kernels)
    if "tensorflow" in sys.modules and any(
        os.environ.get(name) != value for name, value in environment.items()
    ):
        raise RuntimeConfigurationError(
            "TensorFlow was imported before genre_ensemble.members.cnn.runtime.pin_cpu_kernels(); "
            "call it first"
        )
    os.environ.update(environment)
    os.environ.setdefault(CPU_ALLOCATOR_VARIABLE, "true")


def set_threads(threads: int) -> None:
    """Run every TensorFlow op on ``threads`` threads, one op at a time (params ``train.threads``).

    Takes effect only before TensorFlow executes its first op, as in a stage's fresh process;
    later (e.g. tests calling stage functions in one process) a different count already in
    force is kept, with a warning.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime is initialised: its thread pools are fixed
        running = tf.config.threading.get_intra_op_parallelism_threads()
        if running != threads:
            logger.warning("TensorFlow already runs ops on %s threads; train.threads (%d) "
                           "applies in a fresh process", running or "all", threads)


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


def machine_record() -> dict[str, Any]:
    """What a trained member's numbers depend on besides code, data and params.

    Returns
    -------
    dict
        The training device, CPU model and cores, the BLAS libraries and the kernels they
        picked (threadpoolctl), TensorFlow and Keras versions, the pinned environment, Python
        and NumPy versions.
    """
    import keras
    import numpy as np
    import tensorflow as tf
    from threadpoolctl import threadpool_info

    fields = ("internal_api", "version", "architecture")
    # sorted: threadpoolctl lists libraries in load order, which varies between runs, and
    # the record must not change when nothing it describes did
    blas = sorted(
        (
            {key: info.get(key) for key in fields}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ),
        key=lambda entry: tuple(str(entry[key]) for key in fields),
    )
    return {
        "device": training_device(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "blas": blas,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "environment": {name: os.environ.get(name) for name in PINNED_VARIABLES},
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
