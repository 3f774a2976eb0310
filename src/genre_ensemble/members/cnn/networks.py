"""The CNN members' networks: the paper's single-conv network and a deeper one, their
optimizers and learning-rate schedules, each a table of params ``train``'s choices.

Keras is imported by the builders only, so the tables can be read without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genre_ensemble.core.params import Choices
from genre_ensemble.members.cnn.kind import TrainParams

if TYPE_CHECKING:
    import keras


def paper_cnn(input_shape: tuple[int, int, int], n_labels: int, *, filters: int = 32
              ) -> keras.Sequential:
    """The published network: Rescaling -> Conv2D 5x5 -> MaxPooling2D 2x2 -> Flatten -> Dense.

    Parameters
    ----------
    input_shape : (height, width, channels)
        uint8 images; the first layer maps 0..255 to 0..1.
    n_labels : int
        Outputs of the softmax layer (the run's label set).
    filters : int
        Number of 5x5 kernels (the paper does not state it; 32 is Keras' tutorial value).
    """
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(filters, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(n_labels, activation="softmax"),
        ],
        name="paper_cnn",
    )


def deep_cnn(
    input_shape: tuple[int, int, int], n_labels: int, *, filters: int = 32, dropout: float = 0.3,
    blocks: int = 4,
) -> keras.Sequential:
    """A small VGG-style network for CPU training.

    ``blocks`` times: Conv2D 3x3 (filters doubling per block) -> BatchNorm -> ReLU ->
    MaxPooling 2x2; then global average pooling (so the head does not depend on image size),
    dropout and a softmax layer of ``n_labels`` outputs.
    """
    import keras
    from keras import layers

    stack: list[Any] = [keras.Input(shape=input_shape), layers.Rescaling(1.0 / 255)]
    for block in range(blocks):
        stack += [
            layers.Conv2D(filters * 2**block, 3, padding="same", use_bias=False),
            layers.BatchNormalization(momentum=0.9),  # small data: track batch stats fast
            layers.ReLU(),
            layers.MaxPooling2D(2),
        ]
    stack += [
        layers.GlobalAveragePooling2D(),
        layers.Dropout(dropout),
        layers.Dense(n_labels, activation="softmax"),
    ]
    return keras.Sequential(stack, name="deep_cnn")


def _paper(input_shape: tuple[int, int, int], n_labels: int, settings: TrainParams):
    return paper_cnn(input_shape, n_labels, filters=settings.filters)


def _deep(input_shape: tuple[int, int, int], n_labels: int, settings: TrainParams):
    return deep_cnn(input_shape, n_labels, filters=settings.filters, dropout=settings.dropout)


def _constant(settings: TrainParams, steps_per_epoch: int):
    return settings.learning_rate


def _cosine(settings: TrainParams, steps_per_epoch: int):
    import keras

    return keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, decay_steps=max(1, settings.epochs * steps_per_epoch)
    )


def _sgd(learning_rate: Any, settings: TrainParams):
    import keras

    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=settings.momentum)


def _adam(learning_rate: Any, settings: TrainParams):
    import keras

    return keras.optimizers.Adam(learning_rate=learning_rate)


# params train.architecture: (input shape, labels, settings) -> an uncompiled network
ARCHITECTURES: Choices[Callable[..., Any]] = Choices("train.architecture", {
    "paper": _paper,  # Conv5x5-MaxPool-Dense
    "deep": _deep,  # conv blocks + BN + GAP
})
# params train.lr_schedule: (settings, steps per epoch) -> a learning rate or schedule
SCHEDULES: Choices[Callable[..., Any]] = Choices("train.lr_schedule", {
    "constant": _constant,
    "cosine": _cosine,  # decays to 0 over the epochs
})
# params train.optimizer: (learning rate or schedule, settings) -> an optimizer
OPTIMIZERS: Choices[Callable[..., Any]] = Choices("train.optimizer", {
    "sgd": _sgd,  # with train.momentum
    "adam": _adam,
})


def build_model(
    input_shape: tuple[int, int, int], n_labels: int, settings: TrainParams, steps_per_epoch: int
) -> keras.Model:
    """Build and compile the configured architecture with its optimizer and schedule."""
    model = ARCHITECTURES.pick(settings.architecture)(input_shape, n_labels, settings)
    learning_rate = SCHEDULES.pick(settings.lr_schedule)(settings, steps_per_epoch)
    optimizer = OPTIMIZERS.pick(settings.optimizer)(learning_rate, settings)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
