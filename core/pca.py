"""Principal component analysis, the baseline the linear autoencoder is measured against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PCA:
    mean: np.ndarray  # (784,) pixel means of the training images.
    components: np.ndarray  # (k, 784) orthonormal principal directions, largest first.

    def encode(self, images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) - self.mean) @ self.components.T

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return (codes @ self.components + self.mean).reshape(-1, 28, 28, 1)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(images))


def fit_pca(images: np.ndarray, components: int) -> PCA:
    """Fit PCA with `components` directions on float images (N, 28, 28, 1)."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    # The 784x784 covariance is far cheaper to decompose than the 60000x784 data matrix.
    covariance = np.cov(flat - mean, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:components]
    return PCA(mean.astype(np.float32), vectors[:, order].T.astype(np.float32))
