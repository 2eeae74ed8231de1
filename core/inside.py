"""What an autoencoder learned, as numbers a page can draw: the Inside page's computations.

Each function takes trained models and images and returns plain numpy results; the page only
draws them and the tests check them. Everything here runs in seconds on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

NEAR_ZERO = 0.05  # A code activation below this counts as "off" in the sparsity figures.


# Features --------------------------------------------------------------------------------


def first_layer_filters(model) -> np.ndarray:
    """The first layer's weights as images: (units, 28, 28) for dense encoders, or the first
    convolution's filters (filters, k, k). Each is scaled to [0, 1] around its own range."""
    for layer in model.encoder.layers:
        kernels = [w for w in layer.weights if w.name.endswith("kernel")] or [
            w for w in layer.weights if len(w.shape) >= 2
        ]
        if not kernels:
            continue
        kernel = np.asarray(kernels[0])
        if kernel.ndim == 4:  # Conv2D: (k, k, in, filters), one input channel here.
            filters = np.moveaxis(kernel[:, :, 0, :], -1, 0)
        else:  # Dense: (784, units) -> one 28x28 image per unit.
            filters = kernel.T.reshape(-1, 28, 28)
        low = filters.min(axis=(1, 2), keepdims=True)
        high = filters.max(axis=(1, 2), keepdims=True)
        return (filters - low) / np.maximum(high - low, 1e-12)
    raise ValueError(f"{model.name} has no layer with a kernel in its encoder")


def codes(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The encoder's output for each image, flattened to (N, units); the mean for a VAE."""
    encoded = model.encoder.predict(images, batch_size=batch_size, verbose=0)
    if isinstance(encoded, (list, tuple)):  # VAE: (z_mean, z_log_var, z).
        encoded = encoded[0]
    return np.asarray(encoded).reshape(len(images), -1)


def top_activating(code_values: np.ndarray, unit: int, count: int = 12) -> np.ndarray:
    """Indices of the `count` images that drive code unit `unit` hardest, strongest first."""
    return np.argsort(-code_values[:, unit], kind="stable")[:count]


# Sparse codes ----------------------------------------------------------------------------


@dataclass
class Sparsity:
    mean_per_unit: np.ndarray  # Each unit's mean activation over the images.
    near_zero: float  # Share of all activations below NEAR_ZERO.
    mean: float  # Mean of all activations.
    histogram: np.ndarray  # Counts over `edges`.
    edges: np.ndarray


def sparsity(code_values: np.ndarray, bins: int = 40) -> Sparsity:
    """How often and how strongly code units fire over a set of images."""
    values = np.asarray(code_values, np.float64)
    top = max(1.0, float(np.percentile(values, 99.5)))
    histogram, edges = np.histogram(np.clip(values, 0.0, top), bins=bins, range=(0.0, top))
    return Sparsity(
        mean_per_unit=values.mean(axis=0),
        near_zero=float((np.abs(values) < NEAR_ZERO).mean()),
        mean=float(values.mean()),
        histogram=histogram,
        edges=edges,
    )


# Undercomplete versus overcomplete -------------------------------------------------------


def probe_images(digit: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Pure uniform noise, a blank image and a digit, each (28, 28, 1) in [0, 1]."""
    rng = np.random.default_rng(seed)
    return {
        "noise": rng.random((28, 28, 1)).astype(np.float32),
        "blank": np.zeros((28, 28, 1), np.float32),
        "digit": np.asarray(digit, np.float32).reshape(28, 28, 1),
    }


def reconstruction_mse(model, images: np.ndarray) -> np.ndarray:
    """Mean squared error per image between images (N, 28, 28, 1) and their reconstructions."""
    out = np.asarray(model(images, training=False))
    return ((out - images) ** 2).reshape(len(images), -1).mean(axis=1)


def noise_errors(model, count: int = 200, seed: int = 0) -> float:
    """Mean reconstruction MSE of `count` images of uniform noise: low means it copies."""
    noise = np.random.default_rng(seed).random((count, 28, 28, 1)).astype(np.float32)
    return float(reconstruction_mse(model, noise).mean())


# Contraction -----------------------------------------------------------------------------


def _code_call(model, images):
    encoded = model.encoder(images, training=False)
    if isinstance(encoded, (list, tuple)):
        encoded = encoded[0]
    return keras.ops.reshape(encoded, (keras.ops.shape(images)[0], -1))


def code_shift(model, image: np.ndarray, sigma: float, draws: int = 64, seed: int = 0):
    """How far the code moves when the input gets small Gaussian noise of std `sigma`.

    Returns (mean ‖Δcode‖, mean ‖Δcode‖ / ‖Δinput‖) over `draws` perturbations.
    """
    base = np.asarray(image, np.float32).reshape(1, 28, 28, 1)
    rng = np.random.default_rng(seed)
    delta = (sigma * rng.standard_normal((draws, 28, 28, 1))).astype(np.float32)
    moved = np.asarray(_code_call(model, base + delta))
    centre = np.asarray(_code_call(model, base))
    shift = np.linalg.norm(moved - centre, axis=1)
    ratio = shift / np.linalg.norm(delta.reshape(draws, -1), axis=1)
    return float(shift.mean()), float(ratio.mean())


def jacobian_norm(model, image: np.ndarray) -> float:
    """Squared Frobenius norm of d code / d input at `image`, by automatic differentiation."""
    import tensorflow as tf

    x = tf.constant(np.asarray(image, np.float32).reshape(1, 28, 28, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        code = _code_call(model, x)
    jacobian = tape.batch_jacobian(code, x)
    return float(tf.reduce_sum(tf.square(jacobian)))


# Linear autoencoder and PCA --------------------------------------------------------------


def decoder_directions(linear_model) -> np.ndarray:
    """The rows of the linear decoder's weight matrix, (code, 784): the directions it adds."""
    for layer in linear_model.decoder.layers:
        kernels = [w for w in layer.weights if len(w.shape) == 2]
        if kernels:
            return np.asarray(kernels[0])
    raise ValueError("the decoder has no dense kernel")


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles in degrees between the row spaces of a (k, d) and b (m, d), smallest first.

    Orthonormal bases from QR; the cosines are the singular values of Qa^T Qb.
    """
    qa, _ = np.linalg.qr(np.asarray(a, np.float64).T)
    qb, _ = np.linalg.qr(np.asarray(b, np.float64).T)
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))


# Pretraining with few labels -------------------------------------------------------------


def balanced_subset(labels: np.ndarray, total: int, seed: int = 0) -> np.ndarray:
    """Indices of `total` examples, the same number of each class (total must divide by 10)."""
    if total % 10 or total < 10:
        raise ValueError(f"choose a multiple of 10 labelled images, got {total}")
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == digit), total // 10, replace=False)
        for digit in range(10)
    ]
    return rng.permutation(np.concatenate(chosen))


def _classifier_head(inputs, name: str):
    return keras.layers.Dense(10, activation="softmax", name=f"{name}_softmax")(inputs)


def _fit_and_score(model, x, y, x_test, y_test, epochs: int, learning_rate: float, seed: int):
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # Few examples: full batches, a fixed number of epochs (no validation labels to spare).
    model.fit(x, y, batch_size=min(len(x), 256), epochs=epochs, verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=2000, verbose=0)[1])


def few_label_accuracies(
    autoencoder, x_train, y_train, x_test, y_test, labelled: int, seed: int = 0
) -> dict[str, float]:
    """Test accuracy of one softmax layer trained on `labelled` balanced images, three ways:
    on raw pixels, on the frozen encoder's codes, and with the encoder fine-tuned with it."""
    index = balanced_subset(y_train, labelled, seed)
    x, y = x_train[index], y_train[index]
    epochs = 200 if labelled <= 100 else 60

    keras.utils.set_random_seed(seed)
    pixels_in = keras.Input((28, 28, 1))
    raw = keras.Model(pixels_in, _classifier_head(keras.layers.Flatten()(pixels_in), "raw"))
    results = {"raw pixels": _fit_and_score(raw, x, y, x_test, y_test, epochs, 1e-2, seed)}

    # Frozen encoder: the classifier sees only the code, precomputed once.
    train_codes, test_codes = codes(autoencoder, x), codes(autoencoder, x_test)
    keras.utils.set_random_seed(seed)
    code_in = keras.Input((train_codes.shape[1],))
    frozen = keras.Model(code_in, _classifier_head(code_in, "frozen"))
    results["frozen encoder"] = _fit_and_score(
        frozen, train_codes, y, test_codes, y_test, epochs, 1e-2, seed
    )

    # Fine-tuned: a copy of the encoder, trained end to end with the new head at a low rate.
    keras.utils.set_random_seed(seed)
    encoder = keras.models.clone_model(autoencoder.encoder)
    encoder.set_weights(autoencoder.encoder.get_weights())
    encoder.trainable = True
    tuned_in = keras.Input((28, 28, 1))
    encoded = encoder(tuned_in)
    if isinstance(encoded, (list, tuple)):
        encoded = encoded[0]
    tuned = keras.Model(tuned_in, _classifier_head(keras.layers.Flatten()(encoded), "tuned"))
    results["fine-tuned encoder"] = _fit_and_score(
        tuned, x, y, x_test, y_test, max(30, epochs // 2), 1e-3, seed
    )
    return results
