"""Test-set measurements: reconstruction errors, PSNR, code statistics, Jacobians, the ELBO.

Everything runs the model directly (`model(x, training=False)`) in chunks, never
`model.predict`, and returns numpy values, one per image where that makes sense.
"""

from __future__ import annotations

import functools

import numpy as np

EPSILON = 1e-7  # Keras clips probabilities the same way in binary_crossentropy.
CHUNK = 1000


def _chunks(function, images: np.ndarray) -> np.ndarray:
    parts = [
        np.asarray(function(images[start : start + CHUNK]))
        for start in range(0, len(images), CHUNK)
    ]
    return np.concatenate(parts)


def reconstruct(model, images: np.ndarray) -> np.ndarray:
    """The model's reconstructions of float images (N, 28, 28, 1)."""
    return _chunks(lambda x: model(x, training=False), images)


def encode(model, images: np.ndarray) -> np.ndarray:
    """The codes of `images`, flattened to (N, units); the mean code for a VAE."""

    def code(x):
        out = model.encoder(x, training=False)
        return out[0] if isinstance(out, (list, tuple)) else out

    codes = _chunks(code, images)
    return codes.reshape(len(codes), -1)


def _per_image(function):
    """`function(images, others)` -> one value per image, computed CHUNK images at a time: its
    temporaries (float64 squares, logs) on the 10,000 test images were 60-190 MB each, the
    training worker's peak when it measured a run."""

    @functools.wraps(function)
    def chunked(images: np.ndarray, others: np.ndarray) -> np.ndarray:
        if len(images) <= CHUNK:
            return function(images, others)
        return np.concatenate(
            [
                function(images[start : start + CHUNK], others[start : start + CHUNK])
                for start in range(0, len(images), CHUNK)
            ]
        )

    return chunked


@_per_image
def _bce_sums(images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Summed per-pixel binary cross-entropy of each image, in nats.

    The logs are taken in float32 (half the time of float64 on the 7.8 million pixels of the
    test set: the test metrics are the last wait of every run) and summed in float64; written
    as log(1-p) + x (log p - log(1-p)), one multiply fewer. Agrees with the float64 formula to
    about 1e-6 relative (tests/unit/test_training.py checks it against Keras's own loss).
    """
    x = images.reshape(len(images), -1).astype(np.float32)
    p = np.clip(probabilities.reshape(len(images), -1).astype(np.float32), EPSILON, 1 - EPSILON)
    log_not = np.log1p(-p)
    return -(log_not + x * (np.log(p) - log_not)).sum(axis=1, dtype=np.float64)


def bce(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean per-pixel binary cross-entropy of each image, in nats."""
    pixels = images.reshape(len(images), -1).shape[1]
    return _bce_sums(images, reconstructions) / pixels


@_per_image
def mse(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean squared error per pixel of each image."""
    difference = images.reshape(len(images), -1) - reconstructions.reshape(len(images), -1)
    return (difference.astype(np.float64) ** 2).mean(axis=1)


def psnr(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio of each image in dB, for pixels in [0, 1]."""
    return 10.0 * np.log10(1.0 / np.maximum(mse(images, reconstructions), 1e-10))


def sigmoid_jacobian_norms(codes: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """||dh/dx||_F^2 of each image for a sigmoid code h = sigmoid(x W + b), in closed form."""
    return ((codes * (1 - codes)) ** 2 * (kernel**2).sum(axis=0)).sum(axis=1)


def negative_elbo(vae, images: np.ndarray, samples: int = 5, seed: int = 0) -> dict[str, float]:
    """Test negative ELBO in nats per image, averaged over `samples` draws of z per image."""
    reconstruction, kl = _elbo_parts(vae, images, samples, seed)
    return {
        "negative_elbo": float((reconstruction + kl).mean()),
        "reconstruction_nats": float(reconstruction.mean()),
        "kl_nats": float(kl.mean()),
    }


def negative_elbos(vae, images: np.ndarray, samples: int = 5, seed: int = 0) -> np.ndarray:
    """Each image's negative ELBO in nats (`negative_elbo`'s terms, per image)."""
    reconstruction, kl = _elbo_parts(vae, images, samples, seed)
    return reconstruction + kl


def _elbo_parts(vae, images: np.ndarray, samples: int, seed: int):
    """Per image: the reconstruction term averaged over `samples` draws of z, and the KL."""
    rng = np.random.default_rng(seed)
    z_mean, z_log_var = (np.asarray(part) for part in _encode_gaussian(vae, images))
    kl = -0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(axis=1)
    reconstruction = np.zeros(len(images))
    for _ in range(samples):
        z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
        p = _chunks(lambda batch: vae.decoder(batch, training=False), z.astype(np.float32))
        reconstruction += _bce_sums(images, p)
    reconstruction /= samples
    return reconstruction, kl


def negative_conditional_elbo(
    cvae, images: np.ndarray, labels: np.ndarray, samples: int = 5, seed: int = 0
) -> dict[str, float]:
    """A conditional VAE's test negative ELBO of log p(x | y), in nats per image, its labels
    given (`samples` draws of z per image, as `negative_elbo`), its terms, and how often its
    classifier head names an image's label (what pages without a label rely on)."""
    rng = np.random.default_rng(seed)
    one_hot = np.eye(cvae.classes, dtype=np.float32)[np.asarray(labels, int)]
    means, log_vars = [], []
    for start in range(0, len(images), CHUNK):
        parts = [images[start : start + CHUNK], one_hot[start : start + CHUNK]]
        z_mean, z_log_var = cvae.style_encoder(parts, training=False)
        means.append(np.asarray(z_mean, np.float64))
        log_vars.append(np.asarray(z_log_var, np.float64))
    z_mean, z_log_var = np.concatenate(means), np.concatenate(log_vars)
    kl = -0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(axis=1)
    reconstruction = np.zeros(len(images))
    for _ in range(samples):
        z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
        codes = np.concatenate([z, one_hot], axis=1).astype(np.float32)
        p = _chunks(lambda batch: cvae.decoder(batch, training=False), codes)
        reconstruction += _bce_sums(images, p)
    reconstruction /= samples
    named = _chunks(lambda batch: cvae.classifier(batch, training=False), images).argmax(axis=1)
    return {
        "negative_elbo": float((reconstruction + kl).mean()),
        "reconstruction_nats": float(reconstruction.mean()),
        "kl_nats": float(kl.mean()),
        "class_named_accuracy": float((named == labels).mean()),
    }


def _encode_gaussian(vae, images: np.ndarray):
    means, log_vars = [], []
    for start in range(0, len(images), CHUNK):
        z_mean, z_log_var = vae.encoder(images[start : start + CHUNK], training=False)
        means.append(np.asarray(z_mean))
        log_vars.append(np.asarray(z_log_var))
    return np.concatenate(means).astype(np.float64), np.concatenate(log_vars).astype(np.float64)


def codebook(model) -> np.ndarray | None:
    """A VQ-VAE's codebook vectors (codes, dim), or None for a model without one."""
    for layer in model.encoder.layers:
        if hasattr(layer, "codebook"):
            return np.asarray(layer.codebook)
    return None


def code_size(model) -> int:
    """Numbers in the model's code: its encoder's output (a VAE's mean) per image; for a
    VQ-VAE, its tokens (one codebook index per position of its grid), not their vectors; for
    a conditional VAE, its style."""
    output = model.encoder.output
    shape = (output[0] if isinstance(output, (list, tuple)) else output).shape[1:]
    if codebook(model) is not None:
        shape = shape[:-1]
    size = 1
    for dimension in shape:
        size *= int(dimension)
    # A conditional model's code ends with the class, one-hot: given, not learned.
    return size - getattr(model, "classes", 0)


def bce_floor(images: np.ndarray) -> float:
    """Mean per-pixel entropy of `images`, in nats: the lowest mean BCE any reconstruction can
    reach, since BCE(x, p) = H(x) + KL(x || p) per pixel. Zero for pure black-and-white images;
    0.242 for Fashion-MNIST's test set, whose grey pixels make BCE look worse than it is."""
    return float(bce(images, images).mean())
