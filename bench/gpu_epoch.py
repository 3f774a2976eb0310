"""Epoch time of the default deep CNN at GTZAN's size, on whatever device Keras trains on.

    python -m bench.gpu_epoch --label cpu                       # .venv: TensorFlow on the CPU
    python -m bench.gpu_epoch --label cpu-onednn --cpu-kernels onednn   # train.cpu_kernels
    KERAS_BACKEND=jax python -m bench.gpu_epoch --label gpu     # a GPU machine with JAX

GTZAN's size with the default params: 1000 clips of 30 s, 19 windows of 3 s each; 59.5 % of
the clips train (85 % not test, 70 % of that not validation), 25.5 % validate: 11,305 training
and 4,845 validation images of params.yaml's image size (random pixels: the content does not
change the cost), labelled with GTZAN's ten genres in turn. The model, optimizer, batch size
and SpecAugment batches are the train stage's
(:func:`genre_ensemble.members.cnn.networks.build_model`,
:class:`genre_ensemble.members.cnn.training.TrainingBatches`), fed to ``fit`` as
:func:`~genre_ensemble.members.cnn.training.train_member` feeds it
(:func:`genre_ensemble.members.cnn.keras_private.tf_data_autotune_off`); an epoch's training
steps are timed (first step start to last step end, plus the whole epoch with its validation
pass), epoch 1 (tracing, compilation) reported on its own.

It does not call :func:`genre_ensemble.members.cnn.training.train_member`, which seeds
TensorFlow itself: this script also runs under Keras's JAX backend, for machines that have a
GPU build of JAX but not of TensorFlow. Writes ``bench/results/gpu_epoch_<label>.json`` with the
backend and device.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

import numpy as np

from bench.common import REPO, median, program, table, write_results
from bench.training import epoch_timer  # bench.training's per-epoch step timer
from genre_ensemble.core.labels import GTZAN_GENRES
from genre_ensemble.core.paths import PARAMS_FILE
from genre_ensemble.members.cnn.runtime import CPU_KERNELS
from genre_ensemble.members.registry import load_params

logger = logging.getLogger("bench.gpu_epoch")
GTZAN_TRAIN_IMAGES = 11305
GTZAN_VAL_IMAGES = 4845


def device_name() -> str:
    """The device Keras's backend computes on, in words."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"jax {jax.__version__}: {device.platform}:{device.id} ({device.device_kind})"
    if backend == "tensorflow":
        from genre_ensemble.members.cnn.runtime import training_device

        return f"tensorflow: {training_device()}"
    return backend


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=GTZAN_TRAIN_IMAGES)
    parser.add_argument("--val", type=int, default=GTZAN_VAL_IMAGES)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--label", required=True, help="results name: gpu_epoch_LABEL")
    parser.add_argument("--cpu-kernels", choices=CPU_KERNELS, default=None,
                        help="TensorFlow's CPU kernels (default: params.yaml's train.cpu_kernels)")
    args = parser.parse_args()
    params = load_params(REPO / PARAMS_FILE)
    kernels = args.cpu_kernels or params.train.cpu_kernels
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        from genre_ensemble.members.cnn.runtime import pin_cpu_kernels, set_threads

        pin_cpu_kernels(kernels)  # as the train stage does, before TensorFlow loads
        set_threads(params.train.threads)
    import keras  # after the kernels are pinned

    from genre_ensemble.members.cnn.keras_private import tf_data_autotune_off
    from genre_ensemble.members.cnn.networks import build_model
    from genre_ensemble.members.cnn.training import TrainingBatches

    settings = replace(params.train, epochs=args.epochs, early_stopping=0)
    shape = (params.images.height, params.images.width, 1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images + args.val, *shape), dtype=np.uint8)
    targets = np.arange(len(images)) % len(GTZAN_GENRES)
    keras.utils.set_random_seed(settings.seed)
    batches = TrainingBatches(images[: args.images], targets[: args.images],
                              batch_size=settings.batch_size, augment=settings.spec_augment,
                              seed=settings.seed)
    model = build_model(shape, len(GTZAN_GENRES), settings, steps_per_epoch=len(batches))
    device = device_name()
    logger.info("%s; %s, %d + %d images, batch %d", device, model.name, args.images, args.val,
                settings.batch_size)
    timer = epoch_timer()
    with tf_data_autotune_off():  # as train_member feeds fit (a no-op under JAX)
        model.fit(batches, validation_data=(images[args.images:], targets[args.images:]),
                  epochs=args.epochs, callbacks=[timer], verbose=0)
    later = timer.train_seconds[1:] or timer.train_seconds
    later_whole = timer.epoch_seconds[1:] or timer.epoch_seconds
    rows = [[device, round(timer.train_seconds[0], 2), round(median(later), 2),
             round(median(later_whole), 2), round(args.images / median(later))]]
    print(table(rows, ["device", "epoch 1 (s)", "train s/epoch", "with val (s)", "img/s"]))
    write_results(f"gpu_epoch_{args.label}", {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "device": device,
        "cpu_kernels": kernels if keras.backend.backend() == "tensorflow" else None,
        "settings": {"images": args.images, "val": args.val, "epochs": args.epochs,
                     "shape": list(shape), "batch_size": settings.batch_size,
                     "architecture": settings.architecture, "filters": settings.filters},
        "train_seconds_per_epoch": [round(s, 3) for s in timer.train_seconds],
        "epoch_seconds_with_validation": [round(s, 3) for s in timer.epoch_seconds],
        "train_seconds_per_epoch_median_after_first": round(median(later), 3),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
