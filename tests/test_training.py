"""Train tiny CNNs on images the test draws: each genre is a bright band at its own height."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from genre_ensemble.core.labels import GTZAN_GENRES as GENRES
from genre_ensemble.core.tables import KEY_COLUMNS
from genre_ensemble.members.registry import load_params

from .conftest import REPO

pytest.importorskip("keras")


def _band_images(per_genre: int = 12, size: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    images, rows = [], []
    for g, genre in enumerate(GENRES):
        for clip in range(per_genre):
            split = "train" if clip < 8 else "val" if clip < 10 else "test"
            for window in range(2):
                image = rng.integers(0, 60, (size, size, 1), dtype=np.uint8)
                image[2 * g : 2 * g + 2] = 255
                images.append(image)
                rows.append(
                    {
                        "track": f"{genre}.{clip:05d}",
                        "genre": genre,
                        "split": split,
                        "window": window,
                    }
                )
    return np.stack(images), pd.DataFrame(rows)


@pytest.fixture(scope="module")
def settings():
    base = load_params(REPO / "params.yaml").train
    return replace(base, epochs=12, batch_size=32, early_stopping=0)


@pytest.mark.parametrize("architecture", ["paper", "deep"])
def test_member_learns_and_predicts_every_val_and_test_clip(settings, architecture, tmp_path):
    from genre_ensemble.members.cnn.training import load_model, save_model, train_member

    images, index = _band_images()
    chosen = replace(
        settings,
        architecture=architecture,
        filters=8,
        optimizer="adam",
        learning_rate=0.01,
        lr_schedule="constant",
    )
    model, predictions = train_member(images, index, chosen, GENRES, verbose=0)
    assert list(predictions.columns) == [*KEY_COLUMNS, *GENRES]
    assert set(predictions["split"]) == {"val", "test"}
    assert len(predictions) == 10 * 4  # clip level: windows averaged
    np.testing.assert_allclose(predictions[list(GENRES)].sum(axis=1), 1.0, atol=1e-5)
    predicted = np.array(GENRES)[predictions[list(GENRES)].to_numpy().argmax(axis=1)]
    assert (predicted == predictions["genre"]).mean() >= 0.8
    path = tmp_path / f"{architecture}.keras"
    save_model(model, path)
    reloaded = load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(images[:4], verbose=0), model.predict(images[:4], verbose=0), atol=1e-6
    )


def test_same_seed_gives_identical_predictions(settings):
    from genre_ensemble.members.cnn.training import train_member

    images, index = _band_images(per_genre=10)
    chosen = replace(
        settings,
        architecture="paper",
        filters=4,
        epochs=2,
        optimizer="sgd",
        learning_rate=0.01,
        lr_schedule="constant",
    )
    _, first = train_member(images, index, chosen, GENRES, verbose=0)
    _, second = train_member(images, index, chosen, GENRES, verbose=0)
    pd.testing.assert_frame_equal(first, second)


def test_spec_augment_masks_bands_reproducibly(settings):
    from genre_ensemble.members.cnn.training import spec_augment

    batch = np.full((4, 40, 40, 1), 200, dtype=np.uint8)
    augment = replace(settings.spec_augment, time_masks=2, freq_masks=2, max_fraction=0.2)
    first = spec_augment(batch, np.random.default_rng(5), augment)
    again = spec_augment(batch, np.random.default_rng(5), augment)
    np.testing.assert_array_equal(first, again)
    assert np.all(batch == 200)  # input untouched
    masked = first == 0
    assert masked.any()
    # masks are whole rows or whole columns, never scattered pixels
    for image in masked[..., 0]:
        rows, columns = image.all(axis=1), image.all(axis=0)
        covered = rows[:, None] | columns[None, :]
        np.testing.assert_array_equal(image, covered)
        assert rows.sum() <= 2 * 8 and columns.sum() <= 2 * 8


def test_saving_the_same_model_twice_gives_identical_bytes(settings, tmp_path):
    import time

    from genre_ensemble.members.cnn.training import load_model, save_model, train_member

    images, index = _band_images(per_genre=10)
    chosen = replace(settings, architecture="deep", filters=4, epochs=1)
    model, _ = train_member(images, index, chosen, GENRES, verbose=0)
    save_model(model, tmp_path / "first.keras")
    time.sleep(1.1)  # Keras stamps the save time to the second
    save_model(model, tmp_path / "second.keras")
    assert (tmp_path / "first.keras").read_bytes() == (tmp_path / "second.keras").read_bytes()
    reloaded = load_model(tmp_path / "second.keras")
    np.testing.assert_allclose(
        reloaded.predict(images[:3], verbose=0), model.predict(images[:3], verbose=0), atol=1e-6
    )


def test_scrambled_test_images_change_neither_the_member_nor_its_validation_predictions(
    settings,
):
    """The test split plays no part in training: scramble every test image, get the same
    weights, the same validation predictions, and (of course) other test predictions."""
    from genre_ensemble.members.cnn.training import train_member

    images, index = _band_images()
    chosen = replace(settings, epochs=3, filters=8, early_stopping=2)  # early stopping watches val
    model, predictions = train_member(images, index, chosen, GENRES, verbose=0)
    scrambled = images.copy()
    is_test = (index["split"] == "test").to_numpy()
    scrambled[is_test] = np.random.default_rng(9).integers(0, 256, scrambled[is_test].shape)
    model_b, predictions_b = train_member(scrambled, index, chosen, GENRES, verbose=0)
    for before, after in zip(model.get_weights(), model_b.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    val = predictions["split"] == "val"
    pd.testing.assert_frame_equal(predictions[val], predictions_b[val])
    assert not predictions[~val].equals(predictions_b[~val])


def test_windows_to_train_on_keeps_at_most_the_cap_of_every_clip_and_covers_all_over_draws():
    from genre_ensemble.members.cnn.training import windows_to_train_on

    clips = np.repeat([3, 0, 7, 1], [19, 5, 2, 19])[::-1].copy()  # unsorted, uneven clips
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(20):
        kept = windows_to_train_on(clips, 6, rng)
        assert np.all(np.diff(kept) > 0)
        counts = dict(zip(*np.unique(clips[kept], return_counts=True), strict=True))
        assert counts == {0: 5, 1: 6, 3: 6, 7: 2}  # shorter clips keep every window
        seen.update(kept.tolist())
    assert seen == set(range(len(clips)))  # draws differ, so every window gets its turn
    np.testing.assert_array_equal(
        windows_to_train_on(clips, 6, np.random.default_rng(4)),
        windows_to_train_on(clips, 6, np.random.default_rng(4)),
    )


def _epoch_rows(batches) -> list[np.ndarray]:
    """The image rows of every batch of one epoch, found by the targets' (unique) values."""
    return [batches[i][1] for i in range(len(batches))]


def test_training_batches_with_a_cap_train_on_capped_windows_and_change_them_every_epoch(
    settings,
):
    from genre_ensemble.members.cnn.training import TrainingBatches

    clips = np.repeat(np.arange(6), 19)
    rows = np.arange(len(clips))
    images = np.zeros((len(clips), 4, 4, 1), dtype=np.uint8)
    augment = replace(settings.spec_augment, time_masks=0, freq_masks=0)
    batches = TrainingBatches(
        images, rows, batch_size=8, augment=augment, seed=3, clips=clips, windows_per_clip=4
    )
    assert len(batches) == 3  # 6 clips x 4 windows in batches of 8
    epochs = []
    for _ in range(3):
        used = np.concatenate(_epoch_rows(batches))
        assert len(used) == 24 and len(set(used)) == 24
        assert np.all(np.bincount(clips[used], minlength=6) == 4)
        epochs.append(set(used.tolist()))
        batches.on_epoch_end()
    assert epochs[0] != epochs[1] != epochs[2]


def test_a_cap_no_clip_exceeds_changes_nothing(settings):
    """The embedded default's 10 s clips have 5 windows: a cap >= 5 must leave every batch,
    mask and weight exactly as without it."""
    from genre_ensemble.members.cnn.training import TrainingBatches, train_member

    images, index = _band_images(per_genre=10)  # 2 windows per clip
    clips = pd.factorize(index["track"])[0]
    plain = TrainingBatches(images, clips, batch_size=16, augment=settings.spec_augment, seed=5)
    capped = TrainingBatches(
        images, clips, batch_size=16, augment=settings.spec_augment, seed=5,
        clips=clips, windows_per_clip=2,
    )
    for _ in range(2):
        assert len(plain) == len(capped)
        for i in range(len(plain)):
            for left, right in zip(plain[i], capped[i], strict=True):
                np.testing.assert_array_equal(left, right)
        plain.on_epoch_end()
        capped.on_epoch_end()
    chosen = replace(settings, architecture="paper", filters=4, epochs=2, optimizer="sgd",
                     learning_rate=0.01, lr_schedule="cosine")
    _, every = train_member(images, index, replace(chosen, windows_per_clip=0), GENRES,
                           verbose=0)
    _, two = train_member(images, index, replace(chosen, windows_per_clip=2), GENRES,
                           verbose=0)
    _, one = train_member(images, index, replace(chosen, windows_per_clip=1), GENRES,
                           verbose=0)
    pd.testing.assert_frame_equal(every, two)
    assert not every.equals(one)  # a real cap trains on other batches


def test_fit_without_tf_data_autotuning_trains_the_same_weights_and_restores_keras(settings):
    from genre_ensemble.members.cnn.keras_private import FIT_ADAPTERS, tf_data_autotune_off
    from genre_ensemble.members.cnn.networks import build_model
    from genre_ensemble.members.cnn.training import TrainingBatches, seed_everything

    images, _ = _band_images(per_genre=10)
    targets = np.arange(len(images)) % len(GENRES)
    chosen = replace(settings, architecture="deep", filters=4, epochs=2)

    def batches(count: int) -> TrainingBatches:
        return TrainingBatches(
            images[:count], targets[:count], batch_size=16, augment=chosen.spec_augment, seed=0
        )

    def adapters_autotune() -> list[bool | None]:
        py_dataset_adapter, array_adapter = FIT_ADAPTERS
        built = [py_dataset_adapter(batches(64)), array_adapter(images, targets, batch_size=16)]
        return [adapter.get_tf_dataset().options().autotune.enabled for adapter in built]

    def trained_weights() -> list[np.ndarray]:
        seed_everything(chosen.seed)
        training = batches(120)
        model = build_model(images.shape[1:], len(GENRES), chosen, steps_per_epoch=len(training))
        model.fit(training, validation_data=(images[120:], targets[120:]), epochs=2, verbose=0)
        return model.get_weights()

    assert adapters_autotune() == [None, None]  # unset: TensorFlow's default, autotuning on
    with_thread = trained_weights()
    with tf_data_autotune_off():
        assert adapters_autotune() == [False, False]
        without_thread = trained_weights()
    assert adapters_autotune() == [None, None]  # Keras as it was after the block
    for first, second in zip(with_thread, without_thread, strict=True):
        np.testing.assert_array_equal(first, second)


def test_the_keras_internals_hooked_are_those_of_the_tested_keras():
    """tf_data_autotune_off wraps methods of Keras's private data adapters; another Keras must
    be checked (the test above) before the pin in keras_private.py moves."""
    import keras

    from genre_ensemble.members.cnn.keras_private import FIT_ADAPTERS, TESTED_KERAS

    assert keras.__version__ == TESTED_KERAS, (
        f"Keras {keras.__version__} is installed; genre_ensemble/members/cnn/keras_private.py "
        f"wraps the private data adapters of Keras {TESTED_KERAS}: check that "
        "test_fit_without_tf_data_autotuning_trains_the_same_weights_and_restores_keras passes, "
        "then set TESTED_KERAS")
    assert all(callable(getattr(adapter, "get_tf_dataset", None)) for adapter in FIT_ADAPTERS)
