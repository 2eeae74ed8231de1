"""One training function for the command line, the app and the tests.

`train` builds (or takes) a model, prepares MNIST (with fresh noise per batch for the denoising
variant), compiles with Adam and a per-step cosine-decayed learning rate, and fits, reporting
progress through a plain callable and honouring a stop request between batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from core import data, noise, variants
from core.callbacks import Progress, ProgressCallback

VALIDATION_SIZE = 5000  # The last 5000 training images; the test set is never trained on.


VALIDATION_BATCH = 1000


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128  # Small enough for many updates per epoch, large enough for speed.
    learning_rate: float = 2e-3  # Adam's peak rate; the cosine schedule decays it to 1%.
    subset: int | None = None  # Training images to use (None: all 55000).
    seed: int = 0  # Seeds weights, subset choice, shuffling and noise.
    keep_best: bool = False  # End with the weights of the best validation epoch.
    validation: bool = True  # Evaluate on the held-out 5000 images after each epoch.
    # Evaluate on only the first N of them (None: all). The Train page's live runs use 1,000:
    # a pass over 5,000 cost a third of a short conv run (bench/engine.py), and the chart says so.
    validation_images: int | None = None
    jit_compile: bool = False  # XLA-compile the train step (faster for some models on CPU).
    dataset: str = "mnist"  # core.data's name: "mnist" or "fashion".


@dataclass
class TrainResult:
    model: keras.Model
    history: dict[str, list[float]]
    epochs_completed: int
    seconds: float
    samples_per_second: float
    stopped: bool = False  # Ended early by a stop request; weights are those reached.
    diverged: bool = False  # Loss became NaN or infinite; the last good weights are restored.
    config: object = None  # The variant config the model was built from.
    train_config: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class Splits:
    """Float images (N, 28, 28, 1) in [0, 1]: train, validation and test."""

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray


def load_splits(dataset: str = "mnist") -> Splits:
    """A dataset as float images, the last 5000 training images held out for validation."""
    (x_train, y_train), (x_test, y_test) = data.load(dataset)
    images = data.to_images(x_train)
    cut = len(images) - VALIDATION_SIZE
    return Splits(
        images[:cut], images[cut:], data.to_images(x_test), y_train[:cut], y_train[cut:], y_test
    )


class NoisyBatches(keras.utils.PyDataset):
    """Batches of (corrupted, clean) images with fresh noise of a random kind per batch."""

    def __init__(self, images, batch_size, kinds, min_level, max_level, seed, **kwargs):
        super().__init__(**kwargs)
        self.images, self.batch_size = images, batch_size
        self.kinds, self.min_level, self.max_level = list(kinds), min_level, max_level
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int):
        clean = self.images[self.order[index * self.batch_size : (index + 1) * self.batch_size]]
        kind = self.kinds[self.rng.integers(len(self.kinds))]
        level = self.rng.uniform(self.min_level, self.max_level)
        return noise.corrupt(clean, kind, level, self.rng), clean

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))


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
) -> TrainResult:
    """Train variant `name` (a fresh model, or `model` to continue) and return the result.

    With `initial_epoch`, training resumes there: epochs `initial_epoch`..`config.epochs - 1`
    run, and the learning-rate schedule continues from that epoch's step (Adam's moment
    estimates start afresh: checkpoints keep weights only).
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
    splits = splits or load_splits(config.dataset)
    x_train = choose_subset(splits.x_train, config.subset, config.seed)
    batch_size = min(config.batch_size, len(x_train))
    steps = math.ceil(len(x_train) / batch_size)
    compile_model(model, variant.loss, config, steps * config.epochs)
    if initial_epoch:
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(initial_epoch * steps)

    if variant.denoising:
        inputs = NoisyBatches(
            x_train,
            batch_size,
            model_config.noise_kinds,
            model_config.min_noise_level,
            model_config.noise_level,
            config.seed,
        )
        targets = None
        # A fixed corruption of the validation images at the middle of the training range, so
        # val_loss is comparable across epochs.
        middle = (model_config.min_noise_level + model_config.noise_level) / 2
        x_val_in = noise.corrupt(splits.x_val, model_config.noise_kinds[0], middle, config.seed + 1)
    else:
        inputs, targets, x_val_in = x_train, x_train, splits.x_val
    held_out = slice(0, config.validation_images)
    validation = (x_val_in[held_out], splits.x_val[held_out]) if config.validation else None

    callback = ProgressCallback(
        on_progress, should_stop, steps, progress_interval, keep_best=config.keep_best
    )
    started = time.perf_counter()
    fit_args = {} if variant.denoising else {"batch_size": batch_size, "shuffle": True}
    if validation is not None:
        # The same mean over the same 5,000 images as batches of the training size would
        # give, in 5 steps instead of ~80: the per-step overhead was most of the validation's
        # cost (1.4 s of a 5-epoch vanilla run measured here; bench/engine.py).
        fit_args["validation_batch_size"] = VALIDATION_BATCH
    model.fit(
        inputs,
        targets,
        epochs=config.epochs,
        validation_data=validation,
        callbacks=[callback, *(callbacks or [])],
        verbose=0,
        initial_epoch=initial_epoch,
        **fit_args,
    )
    seconds = time.perf_counter() - started
    history = callback.history
    epochs_completed = len(next(iter(history.values()), []))
    seen = epochs_completed * len(x_train)
    return TrainResult(
        model=model,
        history=history,
        epochs_completed=epochs_completed,
        seconds=seconds,
        samples_per_second=seen / seconds if seconds > 0 else 0.0,
        stopped=callback.stopped,
        diverged=callback.diverged,
        config=model_config,
        train_config=config,
    )
