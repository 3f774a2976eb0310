"""Keras internals the CNN members' training relies on, isolated here.

Keras's ``fit`` feeds batches through tf.data pipelines that end in ``prefetch(AUTOTUNE)``;
tf.data's autotuning thread then makes each epoch wait (see :func:`tf_data_autotune_off`).
Keras offers no public option to turn it off for the pipelines it builds itself (a PyDataset
with workers turns it off, but computes batches in several threads, in no fixed order, and the
batches' SpecAugment masks come from one random generator), and building the pipeline here
instead would change which batches the network sees (Keras draws two batches to infer the
pipeline's signature). So this module wraps two methods of Keras's private data adapters, for
exactly :data:`TESTED_KERAS`; ``tests/test_training.py`` fails, naming the installed version,
when another Keras is installed, and checks that the option really is off inside the block
and that the weights are the same with and without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

# The Keras release whose private adapters this module was written and tested against.
TESTED_KERAS = "3.15.1"

# The Keras adapters that turn what train_member passes to ``fit`` (a PyDataset of training
# batches, validation arrays) into tf.data pipelines.
FIT_ADAPTERS = (PyDatasetAdapter, ArrayDataAdapter)


@contextlib.contextmanager
def tf_data_autotune_off() -> Iterator[None]:
    """Keras's ``fit`` inside this block feeds its batches without tf.data's autotuning thread.

    Keras ends each pipeline with ``prefetch(AUTOTUNE)``, so every iterator (one per epoch)
    starts a thread that re-tunes it after sleeps doubling up to 60 s; deleting an exhausted
    iterator at an epoch's end can wait for the current sleep to run out (TensorFlow 2.21). At
    GTZAN's size that left both cores idle for about 35 s after every 45 s of training. The
    batches, their order and the weights are the same without it (the generator runs in one
    thread either way; ``tests/test_training.py`` checks the weights). Under another Keras
    backend (JAX: no tf.data) the block changes nothing.
    """
    if keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    originals = {adapter: adapter.get_tf_dataset for adapter in FIT_ADAPTERS}

    def without_autotune(get_tf_dataset):
        return lambda adapter: get_tf_dataset(adapter).with_options(options)

    try:
        for adapter, get_tf_dataset in originals.items():
            adapter.get_tf_dataset = without_autotune(get_tf_dataset)
        yield
    finally:
        for adapter, get_tf_dataset in originals.items():
            adapter.get_tf_dataset = get_tf_dataset
