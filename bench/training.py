"""Training throughput (images/s per epoch) of each CNN architecture.

:func:`genre_ensemble.members.cnn.training.train_member` trains each architecture with
params.yaml's ``train`` settings (batch size, optimizer, SpecAugment) on random uint8 images of
params.yaml's image size, labelled with GTZAN's ten genres in turn; the content does not change
the cost. An epoch's rate counts only its training
steps (first step start to last step end), not the validation pass. Epoch 1 also traces the
graph, so the rate is the median of the later epochs; epoch 1 is reported on its own.

TensorFlow runs as the train stage runs it: params.yaml's ``train.cpu_kernels`` (or
``--cpu-kernels``) and ``train.threads`` intra-op threads, pinned before it loads; both are in
the results with the machine.

Example::

    python -m bench.training --images 1024 --epochs 6 --cpu-kernels onednn --label onednn

:func:`epoch_timer` is also :mod:`bench.gpu_epoch`'s.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

from bench.common import REPO, median, program, table, write_results
from genre_ensemble.core.labels import GTZAN_GENRES
from genre_ensemble.core.paths import PARAMS_FILE
from genre_ensemble.members.cnn.runtime import CPU_KERNELS

logger = logging.getLogger("bench.training")


def epoch_timer():
    """A Keras callback recording, per epoch, the seconds of its training steps."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.train_seconds: list[float] = []
            self.epoch_seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = self.last_step = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last_step = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.train_seconds.append(self.last_step - self.begin)
            self.epoch_seconds.append(time.perf_counter() - self.begin)

    return EpochTimer()


def images_and_index(count: int, shape: tuple[int, int, int], val: int, seed: int = 0):
    """Random images, genres in turn, the first ``count`` train and ``val`` more for val."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    total = count + val
    images = rng.integers(0, 256, (total, *shape), dtype=np.uint8)
    index = pd.DataFrame({
        "track": [f"clip{i:05d}" for i in range(total)],
        "genre": [GTZAN_GENRES[i % len(GTZAN_GENRES)] for i in range(total)],
        "split": ["train"] * count + ["val"] * val,
        "window": 0,
    })
    return images, index


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--val", type=int, default=128, help="validation images")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--architectures", nargs="+", default=["paper", "deep"])
    parser.add_argument("--params", type=Path, default=REPO / PARAMS_FILE)
    parser.add_argument("--cpu-kernels", choices=CPU_KERNELS, default=None,
                        help="TensorFlow's CPU kernels (default: params.yaml's train.cpu_kernels)")
    parser.add_argument("--label", default="", help="results name: training_LABEL")
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args()
    from genre_ensemble.members.cnn.runtime import pin_cpu_kernels, set_threads
    from genre_ensemble.members.registry import load_params

    params = load_params(args.params)
    kernels = args.cpu_kernels or params.train.cpu_kernels
    pin_cpu_kernels(kernels)  # as the train stage does, before TensorFlow loads
    set_threads(params.train.threads)
    from genre_ensemble.members.cnn.representations import image_channels
    from genre_ensemble.members.cnn.training import train_member

    shape = (params.images.height, params.images.width, image_channels(params.images.style))
    images, index = images_and_index(args.images, shape, args.val)
    results, rows = {}, []
    for architecture in args.architectures:
        settings = replace(params.train, architecture=architecture, epochs=args.epochs,
                           early_stopping=0, cpu_kernels=kernels)
        timer = epoch_timer()
        logger.info("%s: %d images of %s, %d epochs", architecture, args.images, shape,
                    args.epochs)
        model, _ = train_member(images, index, settings, GTZAN_GENRES, callbacks=[timer],
                                verbose=0)
        rates = [args.images / s for s in timer.train_seconds]
        later = rates[1:] or rates
        results[architecture] = {
            "parameters": int(model.count_params()),
            "train_seconds_per_epoch": [round(s, 3) for s in timer.train_seconds],
            "epoch_seconds_with_validation": [round(s, 3) for s in timer.epoch_seconds],
            "images_per_second_first_epoch": round(rates[0], 1),
            "images_per_second": round(median(later), 1),
        }
        rows.append((architecture, int(model.count_params()), rates[0], median(later),
                     median(timer.train_seconds[1:] or timer.train_seconds)))
    print(f"\ntraining throughput, {args.images} images of {shape[0]}x{shape[1]}x{shape[2]}, "
          f"batch {params.train.batch_size}, {params.train.optimizer}, {kernels} kernels, "
          f"{params.train.threads} threads, median of epochs 2..{args.epochs}")
    print(table(rows, ["architecture", "parameters", "epoch 1 img/s", "img/s", "s/epoch"]))
    name = f"training_{args.label}" if args.label else "training"
    path = write_results(name, {
        "settings": {"cpu_kernels": kernels, "threads": params.train.threads,
                     "images": args.images, "val": args.val, "epochs": args.epochs,
                     "shape": list(shape), "batch_size": params.train.batch_size,
                     "optimizer": params.train.optimizer, "filters": params.train.filters,
                     "spec_augment": vars(params.train.spec_augment)},
        "architectures": results,
    })
    print(f"results: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
