"""What an autoencoder learned, as numbers a page can draw: the Inside page's computations.

Each function takes served models (core.ml.served: ONNX Runtime and NumPy, what the web tier
runs) and images, and returns plain numpy results; the page only draws them and the tests check
them against Keras. Everything here runs in seconds on 2 CPU cores, without TensorFlow. The one
experiment that trains (pretraining with few labels) is core.ml.few_labels, run by a worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.i18n import N_
from core.ml.served import activate

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
    kernel = model.first_layer
    if kernel.ndim == 4:  # Conv2D: (k, k, in, filters), one input channel here.
        filters = np.moveaxis(kernel[:, :, 0, :], -1, 0)
    else:  # Dense: (784, units) -> one 28x28 image per unit.
        filters = kernel.T.reshape(-1, 28, 28)
    return scaled_images(filters)


def codes(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The encoder's output for each image, flattened to (N, units); the mean for a VAE.
    In batches, so 10,000 test images never need one 10,000-image buffer of activations."""
    parts = [
        model.encode(images[start : start + batch_size])
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts).reshape(len(images), -1)


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
    """Pure uniform noise, a blank image and a digit, each (28, 28, 1) in [0, 1]. The keys
    "noise" and "blank" are marked for the page, which shows them with _(); it names the
    third with the dataset's own noun."""
    rng = np.random.default_rng(seed)
    return {
        # Translators: the input images fed to each model: "input: noise", "input: blank".
        N_("noise"): rng.random((28, 28, 1)).astype(np.float32),
        N_("blank"): np.zeros((28, 28, 1), np.float32),
        "digit": np.asarray(digit, np.float32).reshape(28, 28, 1),
    }


def noise_copying(model, count: int = 200, seed: int = 0) -> tuple[float, float]:
    """How much of pure uniform noise a model lets through, over `count` noise images.

    Returns (mean reconstruction MSE, mean correlation between output and input). The
    correlation is the cleaner sign of copying: an output of flat grey has a lower MSE on
    noise (1/12) than a half-copy, but a correlation of 0.
    """
    noise = np.random.default_rng(seed).random((count, 28, 28, 1)).astype(np.float32)
    output = np.asarray(model(noise))
    a = noise.reshape(count, -1) - noise.reshape(count, -1).mean(axis=1, keepdims=True)
    b = output.reshape(count, -1) - output.reshape(count, -1).mean(axis=1, keepdims=True)
    correlation = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1) + 1e-12)
    return float(((output - noise) ** 2).mean()), float(correlation.mean())


# Contraction -----------------------------------------------------------------------------


def _code_call(model, images):
    return model.encode(images).reshape(len(images), -1)


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


def jacobian_norm(model, image: np.ndarray) -> float | None:
    """Squared Frobenius norm of d code / d input at `image`, exactly, by the chain rule
    through the encoder's Dense layers (J = W1 D1 W2 D2 ..., D the activations' slopes);
    None for an encoder that is not a Dense chain (a convolutional one)."""
    chain = model.chain("encoder")
    if chain is None:
        return None
    x = np.asarray(image, np.float64).reshape(1, -1)
    jacobian = np.eye(x.shape[1])
    for layer in chain:
        kernel = layer.kernel.astype(np.float64)
        before = x @ kernel + layer.bias
        x = activate(before, layer.activation)
        if layer.activation == "relu":
            slope = (before > 0).astype(np.float64)
        elif layer.activation == "sigmoid":
            slope = x * (1.0 - x)
        else:
            slope = np.ones_like(before)
        jacobian = (jacobian @ kernel) * slope  # Each column scaled by its unit's slope.
    return float((jacobian**2).sum())


# Linear autoencoder and PCA --------------------------------------------------------------


def decoder_directions(linear_model) -> np.ndarray:
    """The rows of the linear decoder's weight matrix, (code, 784): the directions it adds."""
    chain = linear_model.chain("decoder")
    if not chain:
        raise ValueError("the decoder is not a chain of Dense layers")
    return chain[0].kernel


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles in degrees between the row spaces of a (k, d) and b (m, d), smallest first.

    Orthonormal bases from QR; the cosines are the singular values of Qa^T Qb.
    """
    qa, _ = np.linalg.qr(np.asarray(a, np.float64).T)
    qb, _ = np.linalg.qr(np.asarray(b, np.float64).T)
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))
