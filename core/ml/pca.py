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


# The PCA the app shows beside the linear autoencoder (the Inside page) is fitted once, on the
# 60,000 training and validation images, and shipped in trained/pca.npz: the app server never
# loads the training images. `python -m core.ml.pca` writes it again.
SHIPPED_COMPONENTS = 64


def shipped_path(dataset: str = "mnist"):
    from core.ml import cards

    # Beside the shipped models, but not under AE_TRAINED_DIR: it depends on the data only.
    return cards.folder(cards.TRAINED_DIR, dataset) / "pca.npz"


def save_pca(pca: PCA, path) -> None:
    np.savez_compressed(path, mean=pca.mean, components=pca.components)


def load_pca(path=None, components: int | None = None, dataset: str = "mnist") -> PCA:
    """The shipped PCA (plain arrays: `allow_pickle` stays off), its first `components`."""
    with np.load(path or shipped_path(dataset), allow_pickle=False) as found:
        return PCA(found["mean"], found["components"][:components])


def main() -> None:
    """python -m core.ml.pca [mnist|fashion]: fit and ship the dataset's PCA."""
    import sys

    from core.ml.training import load_splits

    dataset = sys.argv[1] if len(sys.argv) > 1 else "mnist"
    splits = load_splits(dataset)
    pca = fit_pca(np.concatenate([splits.x_train, splits.x_val]), SHIPPED_COMPONENTS)
    shipped_path(dataset).parent.mkdir(parents=True, exist_ok=True)
    save_pca(pca, shipped_path(dataset))
    print(f"wrote {shipped_path(dataset)}: {SHIPPED_COMPONENTS} components")


if __name__ == "__main__":
    main()
