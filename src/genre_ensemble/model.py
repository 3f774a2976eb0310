"""The CNN members: the paper's single-conv network and a deeper one. Imports Keras."""

from __future__ import annotations

import keras
from keras import layers

from genre_ensemble.genres import N_CLASSES
from genre_ensemble.params import TrainParams


def paper_cnn(input_shape: tuple[int, int, int], *, filters: int = 32) -> keras.Sequential:
    """The published network: Rescaling -> Conv2D 5x5 -> MaxPooling2D 2x2 -> Flatten -> Dense.

    Parameters
    ----------
    input_shape : (height, width, channels)
        uint8 images; the first layer maps 0..255 to 0..1.
    filters : int
        Number of 5x5 kernels (the paper does not state it; 32 is Keras' tutorial value).
    """
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(filters, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(N_CLASSES, activation="softmax"),
        ],
        name="paper_cnn",
    )


def deep_cnn(
    input_shape: tuple[int, int, int], *, filters: int = 32, dropout: float = 0.3, blocks: int = 4
) -> keras.Sequential:
    """A small VGG-style network for CPU training.

    ``blocks`` times: Conv2D 3x3 (filters doubling per block) -> BatchNorm -> ReLU ->
    MaxPooling 2x2; then global average pooling (so the head does not depend on image size),
    dropout and a softmax layer.
    """
    stack: list[layers.Layer] = [keras.Input(shape=input_shape), layers.Rescaling(1.0 / 255)]
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
        layers.Dense(N_CLASSES, activation="softmax"),
    ]
    return keras.Sequential(stack, name="deep_cnn")


def build_model(
    input_shape: tuple[int, int, int], settings: TrainParams, steps_per_epoch: int
) -> keras.Model:
    """Build and compile the configured architecture with its optimizer and schedule."""
    if settings.architecture == "paper":
        model = paper_cnn(input_shape, filters=settings.filters)
    else:
        model = deep_cnn(input_shape, filters=settings.filters, dropout=settings.dropout)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = settings.learning_rate
    if settings.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            settings.learning_rate, decay_steps=max(1, settings.epochs * steps_per_epoch)
        )
    if settings.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=settings.momentum)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
