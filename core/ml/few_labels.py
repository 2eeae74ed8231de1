"""Pretraining with few labels: is an autoencoder's code worth more to a classifier that has
only 10, 100 or 1,000 labelled images than the raw pixels? The Inside page's last experiment.

It fine-tunes an encoder, so it runs where Keras lives: a worker runs it for the page
(core.cluster.tasks.few_labels), and the page shows the accuracies it returns.
"""

from __future__ import annotations

import keras
import numpy as np

from core.i18n import N_

# The three ways compared, the keys of `few_label_accuracies`' result: the page shows each
# with _() (the worker that computes them has no reader, so they stay English here).
RAW_PIXELS = N_("raw pixels")
FROZEN = N_("frozen encoder")
FINE_TUNED = N_("fine-tuned encoder")


def codes(autoencoder, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The Keras encoder's output for each image, flattened to (N, units); a VAE's mean."""
    encoded = autoencoder.encoder.predict(images, batch_size=batch_size, verbose=0)
    if isinstance(encoded, (list, tuple)):  # VAE: (z_mean, z_log_var).
        encoded = encoded[0]
    return np.asarray(encoded).reshape(len(images), -1)


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
    results[RAW_PIXELS] = _accuracy(pixels_test, y_test, weights, bias)

    scale = standardiser(codes(autoencoder, reference))
    train_codes, test_codes = scale(codes(autoencoder, x)), scale(codes(autoencoder, x_test))
    weights, bias = _softmax_regression(train_codes, y, seed=seed)
    results[FROZEN] = _accuracy(test_codes, y_test, weights, bias)

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
    results[FINE_TUNED] = float((predicted == y_test).mean())
    return results
