"""The Keras callbacks of a training run, one job each:

- `ProgressCallback` reports progress through a plain callable: the app, the command line and
  the tests all pass their own `on_progress(progress)`, and none of them needs to know Keras's
  callback hooks. Each report carries the loss of every batch since the previous one: Keras's
  logs hold the running mean of the epoch, whose first batches make every epoch of a chart
  start with a cliff that the model never had.
- `LastCompletedEpoch` keeps the weights and optimizer state of the end of the last completed
  epoch: what a stop or a divergence puts back, and what a checkpoint stores.
- `StopOnRequest` honours a stop request between batches.
- `StopOnDivergence` stops on an exploding loss (non-finite, or far above where the run
  started), the last completed epoch's weights restored.
- `KeepBest`, Keras's own `EarlyStopping` that never stops early: training ends with the
  weights of the best completed epoch.

Only whole epochs count. A stop request in the middle of an epoch puts the model and its
optimizer back to the end of the last completed epoch, so what a run reports as done (its
history, its checkpoint, its test metrics) is always an end-of-epoch state, and continuing
redoes the cut epoch from its start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from core.ml import replay

# The metric trackers whose per-batch values are reported (the VAE's parts included).
BATCH_SERIES = ("loss", "reconstruction_loss", "kl_loss")

# A running loss this many times the run's first batch's means the steps are far too large.
# Keras's cross-entropy clips probabilities, so a vanilla autoencoder at learning rate 10 never
# reaches NaN: its loss jumps from 0.69 to ~2.1 and stays there (measured), saturated and
# useless. The reference is the loss the run started from, which a continued run is handed
# (`reference_loss`): the first batch after a restart is a trained model's loss, and 1.5 times
# that is within one noisy small batch of a healthy run (a continued run was ended as
# "diverged" that way).
EXPLODED = 1.5


def optimizer_state(model) -> list[np.ndarray]:
    """The model's optimizer variables as arrays, in Keras's order (`optimizer.variables`, the
    order of its own `save_own_variables`): the iteration count, then Adam's first and second
    moments of each trainable variable. Empty while the optimizer is not built."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.built:
        return []
    return [np.array(variable.numpy()) for variable in optimizer.variables]


def restore_optimizer_state(model, state: list[np.ndarray]) -> None:
    """Assign `optimizer_state(model)`'s arrays back to the model's built optimizer."""
    variables = model.optimizer.variables
    shapes = [tuple(variable.shape) for variable in variables]
    if [tuple(np.shape(value)) for value in state] != shapes:
        raise ValueError(
            f"the optimizer state holds {len(state)} arrays that do not fit this model's "
            f"optimizer ({len(variables)} variables): a checkpoint of another architecture?"
        )
    for variable, value in zip(variables, state, strict=True):
        variable.assign(value)


@dataclass
class Progress:
    """A snapshot of a training run, handed to `on_progress`."""

    epoch: int  # Current epoch, counted from 0.
    epochs: int
    batch: int  # Batches finished in the current epoch.
    batches: int  # Batches per epoch.
    history: dict[str, list[float]] = field(default_factory=dict)  # One value per epoch.
    logs: dict[str, float] = field(default_factory=dict)  # Running means of this epoch.
    elapsed: float = 0.0  # Seconds since training began.
    done: bool = False
    # The loss of each batch since the previous report, per tracker; the first of them was
    # batch `first_batch` (counted from 0) of epoch `epoch`.
    batch_losses: dict[str, list[float]] = field(default_factory=dict)
    first_batch: int = 0
    # On the report of a completed epoch: the optimizer's state at its end (`optimizer_state`),
    # for a checkpoint to store beside the weights; None on every other report.
    optimizer_state: list[np.ndarray] | None = None

    @property
    def fraction(self) -> float:
        """Share of all batches finished, in [0, 1]."""
        total = max(1, self.epochs * self.batches)
        return min(1.0, (self.epoch * self.batches + self.batch) / total)

    @property
    def seconds_left(self) -> float | None:
        """Estimated remaining time from the pace so far, or None before the first batch."""
        if self.fraction <= 0.0:
            return None
        return self.elapsed * (1.0 - self.fraction) / self.fraction


class LastCompletedEpoch(keras.callbacks.Callback):
    """The weights and optimizer state at the end of the last completed epoch (at first, the
    start): a stop or a divergence puts them back (`cut`), and a checkpoint stores them.

    Put it after the callbacks that may cut an epoch and before those that read it."""

    def on_train_begin(self, logs=None):
        self.weights = self.model.get_weights()
        self.optimizer = optimizer_state(self.model)
        self.cut = False  # The last epoch was cut short (stop or divergence): it does not count.
        self.seen = 0  # Batches finished in the current epoch.

    def on_epoch_begin(self, epoch, logs=None):
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if not self.cut:
            self.weights = self.model.get_weights()
            self.optimizer = optimizer_state(self.model)

    def cut_epoch(self) -> None:
        """The current epoch does not count: weights and optimizer back to its start."""
        self.cut = True
        self.model.set_weights(self.weights)
        if self.optimizer:
            restore_optimizer_state(self.model, self.optimizer)


class StopOnRequest(keras.callbacks.Callback):
    """Ends training between batches when `should_stop()` says so. Half an epoch is not an
    epoch: a stop in the middle of one puts the model back to the last completed one, so the
    result, the run's checkpoint and its count of epochs agree, and a continued run redoes the
    cut epoch from its start with the same batches (core.ml.training.EpochBatches)."""

    def __init__(self, should_stop: Callable[[], bool], last: LastCompletedEpoch):
        super().__init__()
        self.should_stop, self.last = should_stop, last
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.stopped = False
        self.batches = int(self.params.get("steps") or 0)

    def on_train_batch_end(self, batch, logs=None):
        if not self.model.stop_training and self.should_stop():
            self.stopped = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        # Keras ends an epoch cut short by a stop request here too (after validating it).
        if self.stopped and not self.last.cut and self.last.seen < self.batches:
            self.last.cut_epoch()


class StopOnDivergence(keras.callbacks.Callback):
    """Ends training when the loss is not finite or EXPLODED times the run's first loss, with
    the last completed epoch's weights put back before Keras can run another step on NaN or
    blown-up weights. `reference_loss`: the loss the run started from (a continued run's, from
    its first session); None: the first finite batch loss of this training."""

    def __init__(self, last: LastCompletedEpoch, reference_loss: float | None = None):
        super().__init__()
        self.last, self.reference_loss = last, reference_loss
        self.diverged = False
        self.first_loss = reference_loss

    def on_train_begin(self, logs=None):
        self.diverged = False
        self.first_loss = self.reference_loss

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged:
            return
        loss = float(loss)
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = loss
        reference = self.first_loss
        if not math.isfinite(loss) or (reference and reference > 0 and loss > EXPLODED * reference):
            self.last.cut_epoch()
            self.diverged = True
            self.model.stop_training = True


class KeepBest(keras.callbacks.EarlyStopping):
    """Keras's `EarlyStopping` that never stops early: training ends with the weights of the
    completed epoch with the lowest validation loss (the training loss without validation).
    A cut epoch is not a candidate: its weights were put back to the epoch before."""

    def __init__(self, last: LastCompletedEpoch):
        super().__init__(monitor="val_loss", patience=2**31, restore_best_weights=True)
        self.last = last

    def get_monitor_value(self, logs):
        logs = logs or {}
        return logs.get("val_loss", logs.get("loss"))

    def on_epoch_end(self, epoch, logs=None):
        if not self.last.cut:
            super().on_epoch_end(epoch, logs)


class ProgressCallback(keras.callbacks.Callback):
    """Calls `on_progress` at most every `interval` seconds and at every epoch's end, with the
    history of the completed epochs; `last` (the run's `LastCompletedEpoch`, if any) says
    whether an epoch was cut and gives each epoch's optimizer state to its report."""

    def __init__(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        batches: int = 0,
        interval: float = 0.25,
        last: LastCompletedEpoch | None = None,
    ):
        super().__init__()
        self.on_progress = on_progress
        self.batches = batches
        self.interval = interval
        self.last = last

    @property
    def cut(self) -> bool:
        return self.last is not None and self.last.cut

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.last_report = 0.0
        self.epoch = 0
        self.history: dict[str, list[float]] = {}
        self.epochs = int(self.params.get("epochs") or 0)
        self.batches = int(self.params.get("steps") or self.batches or 0)
        self.pending: dict[str, list[float]] = {}  # Batch losses not yet reported.
        self.pending_from = 0
        self.sums: dict[str, tuple[float, float]] = {}

    def batch_values(self) -> dict[str, float]:
        """This batch's own loss per tracker, from the change in the tracker's sums.

        A Keras `Mean` tracker holds a weighted total and count (weights: the batch size for
        compiled losses, 1 for the VAE's own trackers), so total/count differences give the
        batch's value whatever the weighting.
        """
        values = {}
        for metric in self.model.metrics:
            if metric.name not in BATCH_SERIES or not hasattr(metric, "count"):
                continue
            total, count = float(metric.total), float(metric.count)
            last_total, last_count = self.sums.get(metric.name, (0.0, 0.0))
            if count < last_count:  # Reset by Keras: a new epoch.
                last_total, last_count = 0.0, 0.0
            if count > last_count:
                values[metric.name] = (total - last_total) / (count - last_count)
            self.sums[metric.name] = (total, count)
        return values

    def _report(
        self,
        batch: int,
        logs: dict | None,
        done: bool = False,
        state: list[np.ndarray] | None = None,
    ) -> None:
        if self.on_progress is None:
            return
        self.last_report = time.perf_counter()
        pending, first = self.pending, self.pending_from
        self.pending, self.pending_from = {}, batch
        self.on_progress(
            Progress(
                epoch=self.epoch,
                epochs=self.epochs,
                batch=batch,
                batches=self.batches,
                history={key: list(values) for key, values in self.history.items()},
                logs={key: float(value) for key, value in (logs or {}).items()},
                elapsed=self.last_report - self.started,
                done=done,
                batch_losses=pending,
                first_batch=first,
                optimizer_state=state,
            )
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.pending, self.pending_from, self.sums = {}, 0, {}

    def on_train_batch_end(self, batch, logs=None):
        if self.on_progress is not None:
            for key, value in self.batch_values().items():
                self.pending.setdefault(key, []).append(value)
        if not self.cut and time.perf_counter() - self.last_report >= self.interval:
            self._report(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.cut:  # Back at the start of this epoch: report that, not its logs.
            self._report(0, None)
            return
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        state = self.last.optimizer if self.last is not None else None
        self._report(self.batches, logs, state=state)

    def on_train_end(self, logs=None):
        # A cut epoch reports its start: the fraction done counts completed epochs only.
        self._report(0 if self.cut else self.batches, None if self.cut else logs, done=True)


class ReplayRecorder(keras.callbacks.Callback):
    """Keeps the codes of `images` before training and after every epoch, when the model's
    code is 2-D (a Keras callback; for other models it records nothing)."""

    def __init__(self, images: np.ndarray):
        super().__init__()
        self.images = images[: replay.IMAGES]
        self.frames: list[tuple[int, np.ndarray]] = []
        self.active = False

    def on_train_begin(self, logs=None):
        self.active = replay.is_2d(self.model)
        if self.active and not self.frames:
            self.frames.append((0, replay.codes(self.model, self.images)))

    def on_epoch_end(self, epoch, logs=None):
        if self.active:
            self.frames.append((epoch + 1, replay.codes(self.model, self.images)))
