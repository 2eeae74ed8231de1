"""What every session shares, loaded once per server process and never modified: the shipped
models and their cards, the test images, and students' runs. Every model is a served one
(core.ml.served: ONNX Runtime, no TensorFlow in the app server): the shipped ones from
trained/*.onnx.zip, a run's from the bundle its worker stored. Every cache keys on a stable
identity (a shipped name or a run's key), never `id()`."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass

import cachetools
import numpy as np
import streamlit as st

from core.i18n import _
from core.ml import cards, data, served, variants
from ui.services import NoShippedModel, live_store
from ui.session import current_dataset


def freeze_heap() -> None:
    """Exclude everything loaded so far from Python's cyclic garbage collector.

    Long-lived objects are scanned again by every full collection, pausing Streamlit's event
    loop (with Keras imported, a trivial slider page went from 78 ms (p50) to ~400 ms per move,
    and back to 75 ms after `gc.freeze()`). Called after the imports and after each shared
    model or dataset is loaded.
    """
    gc.freeze()


@dataclass(frozen=True)
class ModelRef:
    """A model the pages use, with its stable identity: every cache keys on `key`, never on
    `id()` (CPython reuses the addresses of freed objects)."""

    key: str  # "shipped:<name>", or "run-<uid>@<epoch of its weights>"
    model: served.Served
    label: str
    run_id: int | None = None  # The student's run it is, if it is one.
    variant: str = ""  # Its variant's registry name.


class Bounded:
    """A least-recently-used cache bounded by its entries and by their bytes, shared by the
    server's sessions. Streamlit's caches bound entries only, and a student's model can be 20
    times another's. cachetools' LRUCache bounds the sum of `size`; weighing each entry at least
    max_bytes / max_entries makes it hold both bounds. A value bigger than the whole budget is
    returned and not kept."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[object], int]):
        floor = max(1, max_bytes // max_entries)
        self.cache = cachetools.LRUCache(max_bytes, getsizeof=lambda value: max(size(value), floor))
        self.lock = threading.Lock()  # cachetools' caches are not thread-safe.

    def get(self, key, make: Callable[[], object]):
        with self.lock:
            found = self.cache.get(key)
        if found is not None:
            return found
        value = make()  # Outside the lock: two sessions may both build it, once each.
        with self.lock, contextlib.suppress(ValueError):  # ValueError: bigger than the budget.
            self.cache[key] = value
        return value

    def __len__(self) -> int:
        return len(self.cache)

    def clear(self) -> None:
        with self.lock:
            self.cache.clear()

    @property
    def nbytes(self) -> int:
        return int(self.cache.currsize)


# 13 shipped models per dataset, 26 in all (58 MB of bundles); one dataset's whole set fits
# (Compare shows them all), and a model evicted by the other dataset's reloads in ~20 ms.
SHIPPED_MODELS = Bounded(16, 64 * 2**20, lambda model: model.nbytes)
# Students' runs: a conv run's bundle is ~0.6 MB, a 2-D VAE's several MB.
RUN_MODELS = Bounded(16, 64 * 2**20, lambda model: model.nbytes)


def _pretrained_model(name: str, dataset: str) -> served.Served:
    def load() -> served.Served:
        with st.spinner(_("Loading the pretrained model...")):
            model = served.load_shipped(name, dataset)
        freeze_heap()
        return model

    return SHIPPED_MODELS.get((name, dataset), load)


def pretrained_model(name: str, dataset: str | None = None) -> served.Served:
    """The shipped model `name` of the session's dataset (or `dataset`), loaded once for the
    whole server and never modified. NoShippedModel on an upload."""
    dataset = dataset or current_dataset()
    if data.own_id(dataset) is not None:
        raise NoShippedModel(name, dataset)
    return _pretrained_model(name, dataset)


@dataclass(frozen=True)
class TestSet:
    """The test images as stored (uint8: 7.8 MB where float32 took 31 MB per dataset, held
    for the life of the server) and their labels; images convert to the models' float input
    when used."""

    pixels: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) class labels

    def images(self, index=slice(None)) -> np.ndarray:
        """float32 images in [0, 1], (28, 28, 1) for one index, else (n, 28, 28, 1)."""
        return data.to_images(self.pixels[index])

    @property
    def x_test(self) -> np.ndarray:
        """All 10,000 as the models' input (a new 31 MB array each time: for the computations
        whose results are cached, never per widget move)."""
        return self.images()


def pretrained(name: str, dataset: str | None = None) -> ModelRef:
    model = pretrained_model(name, dataset)
    return ModelRef(model.key, model, _("Pretrained"), variant=name)


@st.cache_resource(show_spinner=False, max_entries=6)  # test_set() spins, in the reader's language.
def _test_set(dataset: str) -> TestSet:
    x_test, y_test = data.load_test(dataset)
    x_test.setflags(write=False)
    freeze_heap()
    return TestSet(x_test, y_test)


def test_set(dataset: str | None = None) -> TestSet:
    """The 10,000 test images of the session's dataset, once per server process, read-only.

    Only the test set: the pages never need the 55,000 training images (170 MB as floats),
    which the training process loads for itself.
    """
    dataset = dataset or current_dataset()
    if dataset in _loaded_test_sets:
        return _test_set(dataset)
    with st.spinner(_("Loading the test images...")):  # Once per dataset and server process.
        found = _test_set(dataset)
    _loaded_test_sets.add(dataset)
    return found


# The datasets whose test set _test_set has loaded: test_set shows its spinner before that.
_loaded_test_sets: set[str] = set()


def sample_digits(dataset: str | None = None) -> np.ndarray:
    """The first test image of each class 0..7: the same fixed images on every page and run."""
    from core.ml.data import sample_indices

    found = test_set(dataset)
    return found.images(sample_indices(found.y_test))


@st.cache_data(show_spinner=False)
def _card(name: str, dataset: str) -> dict | None:
    return cards.load_card(name, dataset=dataset)


def card(name: str, dataset: str | None = None) -> dict | None:
    """The shipped model's card (metrics measured by core.ml.evaluate), or None."""
    return _card(name, dataset or current_dataset())


def shipped_names() -> list[str]:
    """The variants with a shipped model on the session's dataset, in teaching order: a
    partly trained `trained/fashion/` leaves the others out instead of failing a page."""
    return [name for name in variants.names() if card(name) is not None]


@st.cache_data(show_spinner=False)
def bce_floor(dataset: str) -> float:
    """The lowest mean BCE any model reaches on the dataset's test images (their mean pixel
    entropy: core.ml.metrics.bce_floor)."""
    from core.ml import metrics

    return metrics.bce_floor(test_set(dataset).x_test)


class NotServable(LookupError):
    """The run has no model the web tier can run: trained before runs stored one, or its
    export failed. Continuing it (even for one epoch) writes one."""


def run_model(run) -> served.Served:
    """A student's run as a served model, loaded from the store once per (run, epoch of its
    weights); the caller has checked that the run is the student's own. Raises NotServable
    (a LookupError) when the run has none."""

    def load() -> served.Served:
        with st.spinner(_("Loading your model...")):
            found = live_store().bundle(run.id)
        if found is None:
            raise NotServable(f"run {run.id} has no exported model")
        return served.Served(found[1], run.key)

    return RUN_MODELS.get(run.key, load)


@st.cache_data(show_spinner=False)
def shipped_code(name: str, dataset: str) -> str:
    """`python -m core.codegen NAME --dataset DATASET`: the file behind a shipped model."""
    from core.ml import codegen

    return codegen.for_shipped(name, dataset)


@st.cache_data(show_spinner=False, max_entries=8)
def shipped_notebook(name: str, dataset: str, language: str) -> str:
    """`python -m core.codegen NAME --dataset DATASET --notebook`, in the reader's `language`
    (its explanations are; the key keeps one per language)."""
    from core.ml import notebook

    return notebook.for_shipped(name, dataset)


@st.cache_resource(show_spinner=False, max_entries=2)
def dataset_npz(dataset: str) -> bytes:
    """`core.ml.codegen.data_npz`: what "Get the data (.npz)" downloads. Built once per server
    (about 2 s; 11 MB for MNIST, 31 MB for Fashion-MNIST) and shared read-only, as a resource
    rather than data so each download does not copy it."""
    from core.ml import codegen

    return codegen.data_npz(dataset)


@st.cache_data(show_spinner=False, max_entries=16, ttl=600)  # Ids are never reused.
def _training_images(dataset: str) -> int:
    return len(data.load_own(dataset)["x_train"])


def training_images(dataset: str | None = None) -> int | None:
    """How many training images an upload has (the Training images a run can use), or None
    for the lab's datasets."""
    dataset = dataset or current_dataset()
    return _training_images(dataset) if data.own_id(dataset) is not None else None


def subset_choices(offered: tuple) -> tuple[tuple, Callable[[int], str]]:
    """The Training images a page offers on the session's dataset, and how each value reads.
    On an upload of a few hundred images, 10,000 would read as a promise it cannot keep: the
    sizes below its count, then the largest allowed, shown as all of its images."""
    from core.ml import choices

    show = choices.setting("vanilla", "subset").show
    count = training_images()
    if count is None or offered[-1] < count:
        return offered, show
    kept = (*(value for value in offered if value < count), offered[-1])

    def shown(value: int) -> str:
        # Translators: the Training images slider's last value on an upload: all of its images.
        return _("all {count:,}").format(count=count) if value == kept[-1] else show(value)

    return kept, shown
