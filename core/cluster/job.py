"""A run from the store, trained: the task a training worker performs for one run id.

`train_run` reads the run's settings, builds the model (from its last checkpoint when the run
is continued), trains, and writes everything a page shows into the store as it goes: the loss
of every batch about twice a second, and after each epoch the validation losses, the eight
sample reconstructions and a checkpoint of the weights. At the end it measures the test metrics
on the 10,000 test images with the model cards' definitions (`core.ml.evaluate.measure`). A stop
request, or the run no longer being ours, is honoured between batches.

The messages it writes on a run are in no reader's language: fixed English texts marked N_(),
which the Train page translates as it shows them (`core.store.runs.TEMPLATED` for the ones
with a value).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable

import numpy as np

from core.cluster.beside import BundleMaker, Bundles, Heartbeat, Throttled, Writes
from core.i18n import N_
from core.ml.callbacks import Progress
from core.ml.choices import build_model, model_config
from core.ml.data import sample_indices, to_images
from core.store import Claimed, Fenced, Store, StoreError, StoreUnavailable
from core.store.runs import STORE_FAILED

LOG = logging.getLogger("autoencoder_lab.runs")
HELD_OUT_IMAGES = 1000  # Images of the per-epoch MSE when a run validates on all 5,000.
REPORT_INTERVAL = 0.5  # Seconds between progress writes: a live chart twice as fresh as its redraw.
STOP_POLL = 0.5  # Seconds between looks at the stop flag (one indexed read each).
# How long a worker keeps trying to record how a run ended while the store is unreachable (a
# PostgreSQL restart): a run left "running" would block its student's Train button.
END_RETRY_SECONDS = 120.0


def finite(values: list[float]) -> list[float | None]:
    """Batch losses for JSON: 5 significant digits (a chart needs no more, and the store's
    biggest table halves), and null for NaN or infinity, which JSON (and PostgreSQL) lack."""
    return [float(f"{value:.5g}") if math.isfinite(value) else None for value in values]


class StoreReporter:
    """The `on_progress` of a run: mirrors training into the store. What needs the model (its
    samples, codes and weights at an epoch's end) is read on the training thread; the writes
    go to `writes`."""

    def __init__(
        self,
        store: Store,
        writes: Writes,
        run_id: int,
        model,
        samples: np.ndarray,
        initial_epoch: int,
        seconds_before: float,
        replay_images: np.ndarray | None = None,
        held_out: np.ndarray | None = None,
        bundles: BundleMaker | None = None,
    ):
        self.store, self.run_id, self.model, self.samples = store, run_id, model, samples
        self.writes = writes
        # Makes each checkpoint's serving bundle on the writer thread; `bundled` is the
        # epoch of the last one written (read after `writes.flush()`).
        self.bundles, self.bundled = bundles, None
        # The replay's test images when the code is 2-D (core.ml.replay), else None.
        self.replay_images = replay_images
        # Clean held-out images whose reconstruction MSE is logged every epoch: one measure
        # every variant shares (their own losses differ in kind), for races to overlay.
        self.held_out = held_out
        self.initial_epoch = initial_epoch
        self.seconds_before = seconds_before  # Training time of earlier sessions of this run.
        self.epochs_done = initial_epoch

    def held_out_mse(self) -> dict:
        if self.held_out is None:
            return {}
        reconstructions = np.asarray(self.model(self.held_out, training=False))
        return {"val_mse": float(np.mean((reconstructions - self.held_out) ** 2))}

    def reconstructions(self) -> np.ndarray:
        return np.asarray(self.model(self.samples, training=False))

    def codes(self) -> np.ndarray | None:
        from core.ml import replay

        return None if self.replay_images is None else replay.codes(self.model, self.replay_images)

    def __call__(self, progress: Progress) -> None:
        if progress.batch_losses:
            self.writes.submit(
                self.store.add_losses,
                self.run_id,
                progress.epoch,
                progress.first_batch,
                max(1, progress.batches),
                {key: finite(values) for key, values in progress.batch_losses.items()},
            )
        seconds = self.seconds_before + progress.elapsed
        finished = self.initial_epoch + len(progress.history.get("loss", []))
        if finished > self.epochs_done:
            self.epochs_done = finished
            logs = {key: values[-1] for key, values in progress.history.items()}
            logs.update(self.held_out_mse())
            self.writes.submit(
                self._add_checkpoint,
                self.run_id,
                finished,
                {key: value for key, value in logs.items() if math.isfinite(value)},
                self.reconstructions(),
                self.model.get_weights(),
                codes=self.codes(),
                # Adam's state at this epoch's end, stored with the weights so a continued run
                # takes the same steps as one never stopped (core.ml.training.train).
                optimizer_state=progress.optimizer_state,
                epochs_done=finished,
                batch=0,
                batches=progress.batches,
                seconds=seconds,
                phase="training",
            )
        elif not progress.done:
            self.writes.submit(
                self.store.progress,
                self.run_id,
                phase="training",
                epochs_done=finished,
                batch=progress.batch,
                batches=progress.batches,
                seconds=seconds,
            )

    def _add_checkpoint(self, run_id: int, epoch: int, logs, samples, weights, **kwargs) -> None:
        """On the writer thread: the epoch, its checkpoint and the checkpoint's bundle, in one
        transaction."""
        data = self.bundles(weights) if self.bundles is not None else None
        self.store.add_epoch(run_id, epoch, logs, samples, weights, bundle=data, **kwargs)
        if data is not None:
            self.bundled = epoch


_extras: dict = {}  # What measurements compare against (PCA's error), once per worker.
BUNDLES = Bundles()  # Per worker process: each architecture's graphs are exported once.


def train_run(
    store: Store,
    run_id: int,
    splits,
    should_abort: Callable[[], bool] | None = None,
    attempt: int | None = None,
) -> str | None:
    """Train the run `run_id` (already claimed: status running) to its end; returns the status.

    `should_abort()` true means the process must give up (its server went away): the run ends
    as interrupted, keeping its last checkpoint. `attempt` is the claim's number
    (`Store.claim`): every write names it, and once the run is no longer this claim's (the
    worker was taken for dead and the run continued elsewhere) training stops without
    writing anything more; returns "fenced" then.
    """
    if attempt is not None:
        store = Claimed(store, attempt)
    run = store.run(run_id)
    if run is None or run.status != "running":
        return None
    with Heartbeat(store, run_id) as heartbeat, Writes() as writes:
        return _train_run(store, run, splits, should_abort, heartbeat, writes)


def _train_run(
    store, run, splits, should_abort, heartbeat: Heartbeat, writes: Writes
) -> str | None:
    from core.ml import replay
    from core.ml.evaluate import measure
    from core.ml.training import TrainConfig, train

    run_id = run.id
    try:
        settings = run.settings
        config = TrainConfig(**settings["train"])
        if callable(splits):  # A worker's loader: the run's own dataset.
            splits = splits(config.dataset)
        splits = splits.normal_only(config.odd)  # Its held-out curve too: normal images only.
        import keras

        # Before the seed is set: building the spare model draws from Keras's random state.
        bundles = BUNDLES.maker(
            json.dumps([run.variant, settings["model"]], sort_keys=True),
            lambda: build_model(run.variant, settings),
            run.variant,
        )
        # The run's seed picks its initial weights (as `train` does for a model it builds), so
        # runs with the same settings start alike whatever the worker trained before.
        keras.utils.set_random_seed(config.seed)
        model = build_model(run.variant, settings)
        initial_epoch, optimizer_state, reference_loss = 0, None, None
        # The checkpoint is the end of the last completed epoch (a stop mid-epoch discards the
        # rest of it), so continuing redoes the cut epoch from its start.
        found = store.checkpoint(run_id, optimizer=True) if run.epochs_done else None
        if found is not None:
            initial_epoch, weights, optimizer_state = found  # State None: an old checkpoint.
            model.set_weights(weights)
            # The divergence check compares with the loss the run started from (its first
            # stored batch), not with this session's first batch, a trained model's.
            first = store.first_loss(run_id)  # One chunk, not the run's every batch loss.
            if first is not None and np.isfinite(first):
                reference_loss = float(first)
        # Only the images each use needs become floats: the worker keeps uint8 pixels.
        samples = to_images(splits.pixels_test[sample_indices(splits.y_test)])
        reporter = StoreReporter(
            store,
            writes,
            run_id,
            model,
            samples,
            initial_epoch,
            run.seconds,
            to_images(splits.pixels_test[: replay.IMAGES]) if replay.is_2d(model) else None,
            to_images(splits.pixels_val[: config.validation_images or HELD_OUT_IMAGES]),
            bundles,
        )
        if initial_epoch == 0:
            store.add_epoch(
                run_id,
                0,
                reporter.held_out_mse(),
                reporter.reconstructions(),
                codes=reporter.codes(),
                phase="training",
            )
        aborted = Throttled(should_abort or (lambda: False), STOP_POLL)
        stop = Throttled(
            lambda: aborted() or heartbeat.lost or store.stop_wanted(run_id), STOP_POLL
        )
        result = train(
            run.variant,
            config,
            model_config=model_config(run.variant, settings),
            model=model,
            splits=splits,
            on_progress=reporter,
            should_stop=stop,
            progress_interval=REPORT_INTERVAL,
            initial_epoch=initial_epoch,
            optimizer_state=optimizer_state,
            reference_loss=reference_loss,
        )
        writes.flush()
        if heartbeat.lost:
            raise Fenced(f"run {run_id}: the claim was lost during training")
        if aborted():
            store.finish(run_id, "interrupted", N_("its training process was shut down"))
            return "interrupted"
        current = store.run(run_id)
        if current is None or current.status != "running":  # Deleted, or marked by a sweep.
            return current.status if current else None
        if result.diverged:
            status, message = (
                "diverged",
                N_("the loss exploded; the last good epoch's weights are kept"),
            )
        elif result.stopped:
            status, message = "stopped", current.message or N_("stopped by you")
        else:
            status, message = "finished", None
        seconds = run.seconds + result.seconds
        samples_per_second = round(result.samples_per_second, 1)
        metrics = None
        if reporter.epochs_done > 0:
            # The page shows the run trained from here (its curves and samples are stored);
            # the serving bundle and the test metrics follow, and the page says they will.
            store.progress(
                run_id,
                phase="measuring",
                epochs_done=reporter.epochs_done,
                batch=0,
                seconds=seconds,
                samples_per_second=samples_per_second,
            )
            if reporter.bundled != reporter.epochs_done:  # None made with the checkpoints.
                write_bundle(store, run_id, model, reporter.epochs_done, run.variant)
            metrics = _json_safe(measure(run.variant, model, splits, _extras))
            if status == "finished" and run.class_id is not None:
                from core.lab.classroom import score_run

                # Before the run is marked finished, so the board shows it with its scores.
                score_run(store, run, metrics, model, splits.x_test)
        store.finish(
            run_id,
            status,
            message,
            metrics=metrics,
            epochs_done=reporter.epochs_done,
            batch=0,
            seconds=seconds,
            samples_per_second=samples_per_second,
        )
        return status
    except Fenced as error:  # Another claim holds the run now: leave it to that one.
        LOG.warning("run %s: %s; this worker stops", run_id, error)
        return "fenced"
    except StoreUnavailable as error:  # The store went away mid-run: its last epoch is kept.
        LOG.error("run %s: store unreachable: %s", run_id, error)
        return _end(
            store,
            run_id,
            "interrupted",
            N_(
                "the run store could not be reached during training; the last epoch's weights "
                "are kept: continue it"
            ),
        )
    except StoreError as error:  # The store refused a write (a broken schema, a full disk).
        LOG.error("run %s: store error: %s", run_id, error)
        return _end(store, run_id, "failed", STORE_FAILED.format(error=error))
    except Exception as error:  # A bug or a bad setting: the run fails, the worker carries on.
        LOG.exception("run %s failed", run_id)
        # The error as Python says it (a technical detail, shown as stored).
        return _end(store, run_id, "failed", f"{type(error).__name__}: {error}")


def write_bundle(store, run_id: int, model, epoch: int, name: str) -> bool:
    """Store what the web tier runs of the model (core.ml.served), exported in full: when a
    session ends without its checkpoint's bundle (its architecture's graphs could not be
    refilled). The app server has no TensorFlow to rebuild it from the checkpoint. An export
    that fails (a layer tf2onnx cannot convert) is logged and the run still ends with its
    checkpoint; the pages then say its model cannot be shown. Store errors propagate as for
    any write."""
    from core.ml.onnx_export import bundle

    try:
        data = bundle(model, name)
    except Exception:
        LOG.exception("run %s: its model could not be exported for the web tier", run_id)
        return False
    store.add_bundle(run_id, epoch, data)
    return True


def _end(store: Store, run_id: int, status: str, message: str) -> str | None:
    """Record how the run ended, retrying while the store is unreachable (up to
    END_RETRY_SECONDS: a database restart takes seconds); returns the status recorded."""
    deadline = time.monotonic() + END_RETRY_SECONDS
    while True:
        try:
            store.finish(run_id, status, message)
            return status
        except Fenced:
            return "fenced"
        except StoreError as error:
            if time.monotonic() > deadline:
                LOG.error("run %s: could not record that it %s: %s", run_id, status, error)
                return None
            time.sleep(2.0)


def _json_safe(value):
    """Metrics as JSON: floats rounded to 6 significant digits, non-finite ones as null."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.6g}") if math.isfinite(value) else None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return value
