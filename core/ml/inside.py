"""What an autoencoder learned, as numbers a page can draw: the Inside page's computations.

Each function takes trained models and images and returns plain numpy results; the page only
draws them and the tests check them. Everything here runs in seconds on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

# A code activation counts as "off" below this share of the model's typical large activation
# (its 99th percentile): codes differ in scale (sigmoid in [0, 1], ReLU up to ~20 here).
NEAR_ZERO = 0.05


# Features --------------------------------------------------------------------------------


def scaled_images(rows: np.ndarray) -> np.ndarray:
    """Weight vectors or images as (N, h, w) pictures, each scaled to [0, 1] on its own range
    (784-long rows become 28x28)."""
    pictures = np.asarray(rows, np.float64)
    if pictures.ndim == 2:
        pictures = pictures.reshape(len(pictures), 28, 28)
    low = pictures.min(axis=(1, 2), keepdims=True)
    high = pictures.max(axis=(1, 2), keepdims=True)
    return (pictures - low) / np.maximum(high - low, 1e-12)


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
        return scaled_images(filters)
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
    near_zero: float  # Share of activations below NEAR_ZERO x the 99th percentile of |value|.
    mean: float  # Mean of all activations.
    histogram: np.ndarray  # Counts over `edges`.
    edges: np.ndarray


def sparsity(code_values: np.ndarray, bins: int = 40) -> Sparsity:
    """How often and how strongly code units fire over a set of images."""
    values = np.asarray(code_values, np.float64)
    top = max(1.0, float(np.percentile(values, 99.5)))
    histogram, edges = np.histogram(np.clip(values, 0.0, top), bins=bins, range=(0.0, top))
    scale = float(np.percentile(np.abs(values), 99)) or 1.0
    return Sparsity(
        mean_per_unit=values.mean(axis=0),
        near_zero=float((np.abs(values) < NEAR_ZERO * scale).mean()),
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


def noise_copying(model, count: int = 200, seed: int = 0) -> tuple[float, float]:
    """How much of pure uniform noise a model lets through, over `count` noise images.

    Returns (mean reconstruction MSE, mean correlation between output and input). The
    correlation is the cleaner sign of copying: an output of flat grey has a lower MSE on
    noise (1/12) than a half-copy, but a correlation of 0.
    """
    noise = np.random.default_rng(seed).random((count, 28, 28, 1)).astype(np.float32)
    output = np.asarray(model(noise, training=False))
    a = noise.reshape(count, -1) - noise.reshape(count, -1).mean(axis=1, keepdims=True)
    b = output.reshape(count, -1) - output.reshape(count, -1).mean(axis=1, keepdims=True)
    correlation = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1) + 1e-12)
    return float(((output - noise) ** 2).mean()), float(correlation.mean())


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


REFERENCE_IMAGES = 5000  # Unlabelled training images that set each feature's scale.


def _softmax_regression(
    features: np.ndarray, labels: np.ndarray, steps: int = 300, l2: float = 1e-2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch Adam in numpy: weights (d, 10), bias (10,).

    A few hundred examples at most: a plain numpy loop takes well under a second, where
    Keras's per-epoch overhead alone made the same fit take ~10 s.
    """
    rng = np.random.default_rng(seed)
    count, dimension = features.shape
    weights = 0.01 * rng.standard_normal((dimension, 10))
    bias = np.zeros(10)
    onehot = np.eye(10)[labels]
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    squares = [np.zeros_like(weights), np.zeros_like(bias)]
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    for step in range(1, steps + 1):
        logits = features @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        error = (probabilities - onehot) / count
        gradients = [features.T @ error + l2 * weights, error.sum(axis=0)]
        for i, (parameter, gradient) in enumerate(zip((weights, bias), gradients, strict=True)):
            moments[i] = beta1 * moments[i] + (1 - beta1) * gradient
            squares[i] = beta2 * squares[i] + (1 - beta2) * gradient**2
            corrected = moments[i] / (1 - beta1**step)
            parameter -= rate * corrected / (np.sqrt(squares[i] / (1 - beta2**step)) + 1e-8)
    return weights, bias


def _accuracy(features, labels, weights, bias) -> float:
    return float(((features @ weights + bias).argmax(axis=1) == labels).mean())


def few_label_accuracies(
    autoencoder, x_train, y_train, x_test, y_test, labelled: int, seed: int = 0
) -> dict[str, float]:
    """Test accuracy of a softmax classifier trained on `labelled` balanced images, three ways:
    on raw pixels, on the frozen encoder's codes, and with the encoder fine-tuned with it.

    Features are standardised with the mean and spread of 5,000 unlabelled training images,
    which a semi-supervised learner has for free; the classifier is the same in all three.
    """
    import tensorflow as tf

    index = balanced_subset(y_train, labelled, seed)
    x, y = x_train[index], y_train[index]
    reference = x_train[np.random.default_rng(seed).choice(len(x_train), REFERENCE_IMAGES)]

    def standardiser(values):
        mean, spread = values.mean(axis=0), values.std(axis=0) + 1e-3
        return lambda v: (v - mean) / spread

    results = {}
    flat = standardiser(reference.reshape(len(reference), -1))
    pixels, pixels_test = flat(x.reshape(len(x), -1)), flat(x_test.reshape(len(x_test), -1))
    weights, bias = _softmax_regression(pixels, y, seed=seed)
    results["raw pixels"] = _accuracy(pixels_test, y_test, weights, bias)

    scale = standardiser(codes(autoencoder, reference))
    train_codes, test_codes = scale(codes(autoencoder, x)), scale(codes(autoencoder, x_test))
    weights, bias = _softmax_regression(train_codes, y, seed=seed)
    results["frozen encoder"] = _accuracy(test_codes, y_test, weights, bias)

    # Fine-tuning: a copy of the encoder and the frozen solution's head, trained together for
    # a few full-batch steps at a small rate (more would overfit a handful of labels).
    encoder = keras.models.clone_model(autoencoder.encoder)
    encoder.set_weights(autoencoder.encoder.get_weights())
    reference_codes = codes(autoencoder, reference)
    mean = tf.constant(reference_codes.mean(axis=0), tf.float32)
    spread = tf.constant(reference_codes.std(axis=0) + 1e-3, tf.float32)
    head_w, head_b = tf.Variable(weights, dtype=tf.float32), tf.Variable(bias, dtype=tf.float32)
    optimizer = keras.optimizers.Adam(1e-4)
    variables = [*encoder.trainable_variables, head_w, head_b]
    x_tensor, y_tensor = tf.constant(x), tf.constant(y)

    def logits_of(images):
        encoded = encoder(images, training=False)
        if isinstance(encoded, (list, tuple)):
            encoded = encoded[0]
        encoded = tf.reshape(encoded, (tf.shape(images)[0], -1))
        return ((encoded - mean) / spread) @ head_w + head_b

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(
                    y_tensor, logits_of(x_tensor), from_logits=True
                )
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    for _ in range(50):
        step()
    predicted = np.concatenate(
        [
            np.asarray(logits_of(x_test[i : i + 2000])).argmax(axis=1)
            for i in range(0, len(x_test), 2000)
        ]
    )
    results["fine-tuned encoder"] = float((predicted == y_test).mean())
    return results
