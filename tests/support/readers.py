"""A small classifier the tests train to judge pictures a model made: is this drawn digit
the one asked for, is this reconstruction still recognisable? (bench/lesson_defaults.py trains
the same one for the recorded figures.)"""

from __future__ import annotations

import numpy as np


def digit_reader(images: np.ndarray, labels: np.ndarray, epochs: int = 3, seed: int = 0):
    """Dense 784-256-10 trained on `images` (N, 28, 28, 1) and their `labels`: ~97% on MNIST's
    validation split after 3 epochs."""
    import keras

    keras.utils.set_random_seed(seed)
    reader = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    reader.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    reader.fit(images, labels, epochs=epochs, batch_size=128, verbose=0)
    return reader
