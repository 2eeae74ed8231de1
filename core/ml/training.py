"""One training function for the command line, the app and the tests.

`train` builds (or takes) a model, prepares MNIST (with fresh noise per batch for the denoising
variant), compiles with Adam and a per-step cosine-decayed learning rate, and fits, reporting
progress through a plain callable and honouring a stop request between batches.

A run can be stopped and continued: only completed epochs count, a checkpoint is the weights
and the optimizer's state at an epoch's end (`TrainResult.optimizer_state`,
`Progress.optimizer_state`), and `train(..., initial_epoch=, optimizer_state=,
reference_loss=)` carries on from it. What is and is not identical to a run never stopped:
see `EpochBatches` and `train`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from core.ml import data, noise, variants
from core.ml.callbacks import (
    KeepBest,
    LastCompletedEpoch,
    Progress,
    ProgressCallback,
    StopOnDivergence,
    StopOnRequest,
    restore_optimizer_state,
)

# Re-exported: TrainConfig lives without Keras, for the app server (core.ml.train_config).
from core.ml.train_config import TrainConfig

VALIDATION_SIZE = 5000  # The last 5000 training images; the test set is never trained on.


VALIDATION_BATCH = 1000


@dataclass
class TrainResult:
    model: keras.Model
    history: dict[str, list[float]]
    epochs_completed: int
    seconds: float
    samples_per_second: float
    # Ended early by a stop request. Only completed epochs count: a stop mid-epoch leaves the
    # weights (and optimizer) of the last completed epoch, the cut epoch's batches discarded.
    stopped: bool = False
    diverged: bool = False  # Loss became NaN or infinite; the last good weights are restored.
    config: object = None  # The variant config the model was built from.
    train_config: TrainConfig = field(default_factory=TrainConfig)
    # The optimizer's variables (`core.ml.callbacks.optimizer_state`) that go with the weights, at
    # the end of the last completed epoch: a checkpoint stores both to continue exactly. None
    # when no epoch completed and none was given.
    optimizer_state: list[np.ndarray] | None = None
    # The loss the run started from, which the divergence check compares with: hand it to a
    # continuation (`train(..., reference_loss=)`).
    reference_loss: float | None = None


@dataclass
class Splits:
    """A dataset's training, validation and test splits as uint8 pixels (N, 28, 28), the
    form a worker keeps them in for every run it trains (MNIST: 55 MB, against 220 MB as
    float32). The float images (N, 28, 28, 1) in [0, 1] the models take are made on each use
    of `x_train`, `x_val` or `x_test`: take what a loop needs once, and `train_images` for a
    subset (only its images are converted)."""

    pixels_train: np.ndarray
    pixels_val: np.ndarray
    pixels_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray

    @property
    def x_train(self) -> np.ndarray:
        return data.to_images(self.pixels_train)

    @property
    def x_val(self) -> np.ndarray:
        return data.to_images(self.pixels_val)

    @property
    def x_test(self) -> np.ndarray:
        return data.to_images(self.pixels_test)

    def train_images(self, size: int | None, seed: int) -> np.ndarray:
        """Float images of `choose_subset`'s seeded subset of the training split."""
        return data.to_images(choose_subset(self.pixels_train, size, seed))

    def train_labels(self, size: int | None, seed: int) -> np.ndarray:
        """The labels of `train_images(size, seed)`, in the same order."""
        return choose_subset(self.y_train, size, seed)

    def normal_only(self, odd: list[int]) -> Splits:
        """These splits without the `odd` labels' training and validation images (an
        odd-one-out run learns normal from the rest); the test split keeps every label. The
        same splits when `odd` is empty, or already left out."""
        if not odd or not np.isin(self.y_train, odd).any():
            return self
        train, val = ~np.isin(self.y_train, odd), ~np.isin(self.y_val, odd)
        return Splits(
            self.pixels_train[train],
            self.pixels_val[val],
            self.pixels_test,
            self.y_train[train],
            self.y_val[val],
            self.y_test,
        )


def load_splits(dataset: str = "mnist") -> Splits:
    """A dataset's splits, the last 5000 training images held out for validation (an
    uploaded dataset has its own validation split)."""
    if data.own_id(dataset) is not None:
        found = data.load_own(dataset)
        return Splits(*(found[key] for key in ("x_train", "x_val", "x_test")),
                      *(found[key] for key in ("y_train", "y_val", "y_test")))  # fmt: skip
    (x_train, y_train), (x_test, y_test) = data.load(dataset)
    cut = len(x_train) - VALIDATION_SIZE
    return Splits(x_train[:cut], x_train[cut:], x_test, y_train[:cut], y_train[cut:], y_test)


class EpochBatches(keras.utils.PyDataset):
    """(input, target) batches of `images` in an order drawn from (seed, epoch) alone.

    Batch b of epoch e is the same whether the run got to epoch e in one go or was stopped and
    continued there: Keras's own `shuffle=True` draws each epoch's order from a random stream
    that starts afresh with every `fit`, so a continued run would see its first session's
    orders again. The dataset is endless (one generator for the whole fit, with
    `steps_per_epoch`), so index i is the i-th batch since `initial_epoch`: for a finite one,
    Keras starts the next epoch's generator before the dataset's `on_epoch_end`, and a reshuffle
    there could come after prefetched batches already used the old order. Every batch is a pure
    function of its index, so prefetching ahead costs nothing in determinism.
    """

    def __init__(self, images, batch_size, seed, initial_epoch=0, labels=None, **kwargs):
        super().__init__(**kwargs)
        self.images, self.batch_size, self.seed = images, batch_size, seed
        self.labels = labels  # A conditional model's: its batches are (images, labels).
        self.initial_epoch = initial_epoch
        self.steps = math.ceil(len(images) / batch_size)
        self.orders: dict[int, np.ndarray] = {}  # The last two epochs' (prefetch straddles).

    @property
    def num_batches(self) -> None:
        return None

    def order(self, epoch: int) -> np.ndarray:
        """Epoch `epoch`'s permutation of the images."""
        if epoch not in self.orders:
            self.orders = {key: value for key, value in self.orders.items() if key >= epoch - 1}
            self.orders[epoch] = np.random.default_rng([self.seed, epoch]).permutation(
                len(self.images)
            )
        return self.orders[epoch]

    def chosen(self, index: int) -> tuple[int, int, np.ndarray]:
        """(epoch, batch in the epoch, the images' indices) of batch `index` since
        `initial_epoch`."""
        epoch, batch = divmod(index, self.steps)
        epoch += self.initial_epoch
        return (
            epoch,
            batch,
            self.order(epoch)[batch * self.batch_size : (batch + 1) * self.batch_size],
        )

    def batch(self, index: int) -> tuple[int, int, np.ndarray]:
        """(epoch, batch in the epoch, images) of batch `index` since `initial_epoch`."""
        epoch, batch, chosen = self.chosen(index)
        return epoch, batch, self.images[chosen]

    def __getitem__(self, index: int):
        _, _, chosen = self.chosen(index)
        clean = self.images[chosen]
        return (clean, self.labels[chosen]) if self.labels is not None else (clean, clean)


class NoisyBatches(EpochBatches):
    """Batches of (corrupted, clean) images with fresh noise of a random kind per batch; the
    noise too is drawn from (seed, epoch, batch) alone, so a continued run sees the same."""

    def __init__(self, images, batch_size, kinds, min_level, max_level, seed, **kwargs):
        super().__init__(images, batch_size, seed, **kwargs)
        self.kinds, self.min_level, self.max_level = list(kinds), min_level, max_level

    def __getitem__(self, index: int):
        epoch, batch, clean = self.batch(index)
        rng = np.random.default_rng([self.seed, epoch, batch])
        kind = self.kinds[rng.integers(len(self.kinds))]
        level = rng.uniform(self.min_level, self.max_level)
        return noise.corrupt(clean, kind, level, rng), clean


def labels_for(variant, labels: np.ndarray) -> np.ndarray:
    """A conditional model's training labels, checked: every image needs one of its classes
    (an upload's unlabelled images are -1)."""
    if len(labels) and (labels.min() < 0 or labels.max() >= variant.classes):
        raise ValueError(
            f"{variant.name} learns from labelled images: every training image needs a label "
            f"from 0 to {variant.classes - 1} (a folder per class)"
        )
    return labels.astype(np.int32)


def choose_subset(images: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """A seeded random subset of `size` images (all of them when size is None or too big)."""
    if size is None or size >= len(images):
        return images
    if size < 1:
        raise ValueError(f"the training subset needs at least 1 image, got {size}")
    return images[np.random.default_rng(seed).choice(len(images), size, replace=False)]


def compile_model(model: keras.Model, loss: str, config: TrainConfig, steps: int) -> None:
    """Adam with a per-step cosine decay from the peak rate to 1% of it over the run."""
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, steps), alpha=0.01
    )
    losses = {"bce": keras.losses.BinaryCrossentropy(), "mse": keras.losses.MeanSquaredError()}
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=losses.get(loss),
        jit_compile=config.jit_compile,
    )


def train(
    name: str,
    config: TrainConfig | None = None,
    model_config=None,
    model: keras.Model | None = None,
    splits: Splits | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_interval: float = 0.25,
    callbacks: list[keras.callbacks.Callback] | None = None,
    initial_epoch: int = 0,
    optimizer_state: list[np.ndarray] | None = None,
    reference_loss: float | None = None,
) -> TrainResult:
    """Train variant `name` (a fresh model, or `model` to continue) and return the result.

    With `initial_epoch`, training resumes there: epochs `initial_epoch`..`config.epochs - 1`
    run, and the learning-rate schedule continues from that epoch's step. `optimizer_state`
    (a checkpoint's `TrainResult.optimizer_state`) gives Adam back its moment estimates:
    without it (a checkpoint from before they were stored) they start afresh, and the first
    steps after the seam are as large as the learning rate allows, a spike in the loss.
    `reference_loss` is the loss the run started from (`TrainResult.reference_loss`), which
    the divergence check compares with instead of this session's first batch.

    Continued from an end-of-epoch checkpoint with its optimizer state, a run sees the same
    batches (and denoising noise) and takes the same steps as one never stopped: it ends where
    that run ends, up to float rounding. Not carried over: the VAE's sampling noise (its
    `SeedGenerator` restarts at its seed, so the continued epochs draw other, equally
    distributed, epsilons) and `keep_best`'s choice among the epochs of an earlier session.
    """
    variant = variants.get(name)
    config = config or TrainConfig(**variant.training)
    if config.epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {config.epochs}")
    if config.batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {config.batch_size}")
    keras.utils.set_random_seed(config.seed)
    model_config = model_config or variants.make_config(name)
    model = model or variant.build(model_config)
    splits = (splits or load_splits(config.dataset)).normal_only(config.odd)
    x_train = splits.train_images(config.subset, config.seed)
    x_val = splits.x_val
    batch_size = min(config.batch_size, len(x_train))
    steps = math.ceil(len(x_train) / batch_size)
    compile_model(model, variant.loss, config, steps * config.epochs)
    if initial_epoch or optimizer_state:
        # Built now (fit would build it with the same variables) so its state can be assigned.
        model.optimizer.build(model.trainable_variables)
        if optimizer_state:
            restore_optimizer_state(model, optimizer_state)
        # The cosine schedule continues at the epoch's first step (a state saved at that
        # epoch's end holds this count already; an old checkpoint has no state).
        model.optimizer.iterations.assign(initial_epoch * steps)

    if variant.denoising:
        inputs = NoisyBatches(
            x_train,
            batch_size,
            model_config.noise_kinds,
            model_config.min_noise_level,
            model_config.noise_level,
            config.seed,
            initial_epoch=initial_epoch,
        )
        # A fixed corruption of the validation images at the middle of the training range, so
        # val_loss is comparable across epochs.
        middle = (model_config.min_noise_level + model_config.noise_level) / 2
        x_val_in = noise.corrupt(x_val, model_config.noise_kinds[0], middle, config.seed + 1)
    elif variant.classes:
        labels = labels_for(variant, splits.train_labels(config.subset, config.seed))
        inputs = EpochBatches(
            x_train, batch_size, config.seed, initial_epoch=initial_epoch, labels=labels
        )
        x_val_in = x_val
    else:
        inputs = EpochBatches(x_train, batch_size, config.seed, initial_epoch=initial_epoch)
        x_val_in = x_val
    held_out = slice(0, config.validation_images)
    # A conditional model's validation batches are (images, labels), as its training ones.
    targets = labels_for(variant, splits.y_val) if variant.classes else x_val
    validation = (x_val_in[held_out], targets[held_out]) if config.validation else None

    # Keras calls callbacks in this order: the ones that may cut an epoch first, then the one
    # that keeps the last completed epoch, then those that read it.
    last = LastCompletedEpoch()
    divergence = StopOnDivergence(last, reference_loss)
    stop = StopOnRequest(should_stop or (lambda: False), last)
    progress = ProgressCallback(on_progress, steps, progress_interval, last)
    ours = [stop, divergence, last, *([KeepBest(last)] if config.keep_best else []), progress]
    started = time.perf_counter()
    fit_args = {}
    if validation is not None:
        # The same mean over the same 5,000 images as batches of the training size would
        # give, in 5 steps instead of ~80: the per-step overhead was most of the validation's
        # cost (1.4 s of a 5-epoch vanilla run measured here; bench/engine.py).
        fit_args["validation_batch_size"] = VALIDATION_BATCH
    model.fit(
        inputs,
        epochs=config.epochs,
        steps_per_epoch=steps,
        shuffle=False,  # EpochBatches orders each epoch itself.
        validation_data=validation,
        callbacks=[*ours, *(callbacks or [])],
        verbose=0,
        initial_epoch=initial_epoch,
        **fit_args,
    )
    seconds = time.perf_counter() - started
    history = progress.history
    epochs_completed = len(next(iter(history.values()), []))
    # Images trained on, the discarded part of a cut epoch included (it took its time too).
    seen = epochs_completed * len(x_train) + (last.seen * batch_size if last.cut else 0)
    if epochs_completed:
        optimizer_state = last.optimizer
    return TrainResult(
        model=model,
        history=history,
        epochs_completed=epochs_completed,
        seconds=seconds,
        samples_per_second=seen / seconds if seconds > 0 else 0.0,
        stopped=stop.stopped,
        diverged=divergence.diverged,
        config=model_config,
        train_config=config,
        optimizer_state=optimizer_state or None,
        reference_loss=divergence.first_loss,
    )
