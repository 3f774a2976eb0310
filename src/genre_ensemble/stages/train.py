"""Stage `train@<member>` (the CNN members): train one member from scratch and predict its val,
calib and test clips.

Usage: ``python -m genre_ensemble.stages.train <member>`` (one of the CNN kind's members, each
named after its representation).
"""

from __future__ import annotations

import sys

from genre_ensemble.core.errors import StageError
from genre_ensemble.core.fileio import write_json
from genre_ensemble.core.labels import label_set
from genre_ensemble.core.params import Params
from genre_ensemble.core.paths import (
    image_folder,
    machine_path,
    model_path,
    predictions_path,
    training_log_dir,
)
from genre_ensemble.members.cnn.kind import KIND, REPRESENTATIONS
from genre_ensemble.members.cnn.runtime import (
    machine_record,
    pin_cpu_kernels,
    set_threads,
    training_device,
)
from genre_ensemble.stages._common import logger, run_stage


def train(params: Params, member: str) -> None:
    if member not in REPRESENTATIONS:
        raise StageError(f"unknown CNN member {member!r}; use one of {', '.join(REPRESENTATIONS)}")
    # Heavy imports only after params passed validation, and after the kernels are pinned.
    set_threads(params.train.threads)
    logger.info("training on %s, %s kernels", training_device(), params.train.cpu_kernels)
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    from genre_ensemble.core.tables import write_predictions
    from genre_ensemble.members.cnn.imagestore import load_image_set
    from genre_ensemble.members.cnn.training import save_model, train_member

    images, index = load_image_set(image_folder(member))
    labels = label_set(index["genre"])
    logger.info("%s: %d images of shape %s, %d labels", member, len(images), images.shape[1:],
                len(labels))
    # dvcyaml=None: dvc.yaml declares these plots itself; dvclive must not rewrite it.
    with Live(dir=str(training_log_dir(member)), dvcyaml=None, save_dvc_exp=False) as live:
        model, predictions = train_member(
            images,
            index,
            params.train,
            labels,
            callbacks=[DVCLiveCallback(live=live)],
            verbose=2 if not sys.stdout.isatty() else "auto",
        )
    save_model(model, model_path(member, KIND.model_suffix))
    write_predictions(predictions_path(member), predictions)
    write_json(machine_path(member), machine_record())


def main() -> None:
    if len(sys.argv) != 2:
        sys.stderr.write(
            f"usage: python -m genre_ensemble.stages.train {{{','.join(REPRESENTATIONS)}}}\n"
        )
        sys.exit(2)

    def pinned_train(params: Params) -> None:
        pin_cpu_kernels(params.train.cpu_kernels)  # before anything imports TensorFlow
        train(params, sys.argv[1])

    run_stage(pinned_train)


if __name__ == "__main__":
    main()
