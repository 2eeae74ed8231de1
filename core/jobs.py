"""Training in a separate process, so a page can show progress, stay responsive and stop it.

A `TrainingJob` runs `core.training.train` in a child process and mirrors its progress into
a `Snapshot` the page polls from a Streamlit fragment. A process, not a thread: in the server
process a training thread competes with every page rerun for the interpreter lock, and a
rerun once a second made an epoch several times slower (measured on this 2-core machine).
The child sends back progress, sample reconstructions and finally the trained weights, which
the parent loads into a model built from the same config.

On a shared server, `TrainingSlots` caps how many jobs train at once: the others wait in a
first-come, first-served queue whose position the page shows, and can be cancelled there. A
job whose owner has gone away (its browser tab closed) is stopped and its result dropped.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.callbacks import Progress
from core.training import TrainConfig, TrainResult

# "spawn" starts a clean interpreter: forking a process that already runs TensorFlow's
# thread pools can deadlock the child.
CONTEXT = multiprocessing.get_context("spawn")


@dataclass
class Snapshot:
    """What a page needs to draw a training run at one instant."""

    # "queued", "starting", "running", "done", "stopped", "diverged", "cancelled", "abandoned"
    # or "failed"
    state: str
    progress: Progress | None = None
    # Loss curve points: (epoch as a fraction, series key, value).
    curve: list[tuple[float, str, float]] = field(default_factory=list)
    samples: np.ndarray | None = None  # Reconstructions of the fixed digits, latest epoch.
    samples_epoch: int = 0  # Epochs finished when `samples` was computed.
    error: str | None = None
    queue_position: int | None = None  # 1 = next to start; None when not waiting.


class TrainingSlots:
    """At most `capacity` trainings at once; the rest wait in arrival order.

    One process serves every student, so this is a plain in-process queue: a condition
    variable and a list. Waiting jobs poll a cancel flag so a student can leave the queue.
    """

    def __init__(self, capacity: int = 1):
        if capacity < 1:
            raise ValueError(f"at least one training slot is needed, got {capacity}")
        self.capacity = capacity
        self._changed = threading.Condition()
        self._waiting: list[object] = []
        self._running: list[object] = []

    def acquire(self, owner: object, cancelled: Callable[[], bool], poll: float = 0.2) -> bool:
        """Wait for a slot; False if `cancelled()` became true first."""
        with self._changed:
            self._waiting.append(owner)
            try:
                while not cancelled():
                    if self._waiting[0] is owner and len(self._running) < self.capacity:
                        self._running.append(owner)
                        return True
                    self._changed.wait(poll)
                return False
            finally:
                self._waiting.remove(owner)
                self._changed.notify_all()

    def release(self, owner: object) -> None:
        with self._changed:
            if owner in self._running:
                self._running.remove(owner)
            self._changed.notify_all()

    def position(self, owner: object) -> int | None:
        """1-based place in the queue, or None when not waiting."""
        with self._changed:
            return self._waiting.index(owner) + 1 if owner in self._waiting else None

    @property
    def running(self) -> int:
        with self._changed:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)


_shared_slots: TrainingSlots | None = None
_shared_slots_lock = threading.Lock()


def shared_slots(capacity: int = 1) -> TrainingSlots:
    """The server-wide slots, created on first use with `capacity` (later calls reuse them)."""
    global _shared_slots
    with _shared_slots_lock:
        if _shared_slots is None:
            _shared_slots = TrainingSlots(capacity)
        return _shared_slots


@contextlib.contextmanager
def _bare_main():
    """Hide the parent's `__main__` from a child being spawned.

    A spawned child re-imports its parent's main module. Under `streamlit run` that module is
    the page script being executed, so the child would run the whole page again, without a
    browser, before it ever reaches the training code.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _Worker:
    """A spawned training process with its pipes; it may be started before its job is known."""

    def __init__(self):
        self.tasks = CONTEXT.Queue()
        self.messages = CONTEXT.Queue()
        self.stop = CONTEXT.Event()
        self.process = CONTEXT.Process(
            target=_serve_one, args=(self.tasks, self.messages, self.stop), daemon=True
        )
        with _bare_main():
            self.process.start()


_spare: _Worker | None = None
_spare_lock = threading.Lock()


def prewarm() -> None:
    """Start a spare worker now, so the next training starts without importing TensorFlow.

    A spawned process needs several seconds to import TensorFlow before its first batch; the
    Train page calls this when it is shown, so pressing Train starts learning at once.
    """
    global _spare
    with _spare_lock:
        if _spare is None or not _spare.process.is_alive():
            _spare = _Worker()


def _take_worker() -> _Worker:
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is None or not worker.process.is_alive():
        worker = _Worker()
    return worker


# Training is background work: at a lower CPU priority it takes what the server's page reruns
# leave, so sliders and drawings stay quick for a classroom while someone trains. On an idle
# machine it costs nothing (measured in `make bench` and `make soak`).
WORKER_NICENESS = 10


def _serve_one(tasks, messages, stop) -> None:
    """A worker process: import the heavy modules and load MNIST, then run one job."""
    import os

    if hasattr(os, "nice"):  # Not on Windows.
        os.nice(WORKER_NICENESS)
    from core.training import load_splits

    splits = load_splits()  # Imports and data are ready before anyone presses Train.
    task = tasks.get()
    if task is not None:
        _child(*task, messages, stop, splits)


def _child(name, config, model_config, sample_images, messages, stop, splits) -> None:
    """The training process: train, streaming progress and samples, then send the weights."""
    try:
        from core import variants
        from core.training import train

        model = variants.get(name).build(model_config)
        last_epochs = [-1]

        def samples_now() -> np.ndarray:
            return np.asarray(model(sample_images, training=False))

        messages.put(("samples", 0, samples_now()))

        def on_progress(progress: Progress) -> None:
            finished = len(progress.history.get("loss", []))
            if finished != last_epochs[0]:
                last_epochs[0] = finished
                if finished:
                    messages.put(("samples", finished, samples_now()))
            messages.put(("progress", progress))

        result = train(
            name,
            config,
            model_config=model_config,
            model=model,
            splits=splits,
            on_progress=on_progress,
            should_stop=stop.is_set,
        )
        messages.put(
            (
                "result",
                {
                    "weights": model.get_weights(),
                    "history": result.history,
                    "epochs_completed": result.epochs_completed,
                    "seconds": result.seconds,
                    "samples_per_second": result.samples_per_second,
                    "stopped": result.stopped,
                    "diverged": result.diverged,
                },
            )
        )
    except Exception as error:  # Reported in the page; the server keeps serving.
        traceback.print_exc()
        messages.put(("error", f"{type(error).__name__}: {error}"))


class TrainingJob:
    """One training run of one variant in its own process, once a training slot is free.

    `slots` limits concurrent trainings (default: the server-wide ones). `owner_alive`, if
    given, is polled while the job waits or runs; once it has returned False for `grace`
    seconds the job is stopped (or leaves the queue) and its result is dropped, so a closed
    tab frees its slot, its process and its memory.
    """

    def __init__(
        self,
        name: str,
        config: TrainConfig,
        model_config,
        sample_images: np.ndarray,
        slots: TrainingSlots | None = None,
        owner_alive: Callable[[], bool] | None = None,
        grace: float = 10.0,
    ):
        self.name = name
        self.config = config
        self.model_config = model_config
        self.sample_images = sample_images
        self.result: TrainResult | None = None
        self.slots = slots or shared_slots()
        self.owner_alive = owner_alive
        self.grace = grace
        self._gone_since: float | None = None
        self._abandoned = False  # The owner left: stop, and drop whatever comes back.
        self._worker: _Worker | None = None
        self._cancel = threading.Event()  # Stop pressed (running) or Cancel (queued).
        self._lock = threading.Lock()
        self._snapshot = Snapshot(state="queued")
        self._reader = threading.Thread(target=self._run, name=f"job-{name}", daemon=True)

    # The page's side -------------------------------------------------------------------------

    def start(self) -> TrainingJob:
        self._reader.start()
        return self

    def stop(self) -> None:
        """End training after the current batch, or leave the queue; pressing twice is harmless."""
        self._cancel.set()
        worker = self._worker
        if worker is not None:
            worker.stop.set()

    @property
    def running(self) -> bool:
        return self._reader.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._reader.join(timeout)

    def snapshot(self) -> Snapshot:
        with self._lock:
            snap = self._snapshot
            return Snapshot(
                snap.state,
                snap.progress,
                list(snap.curve),
                snap.samples,
                snap.samples_epoch,
                snap.error,
                self.slots.position(self) if snap.state == "queued" else None,
            )

    # The reader thread: turns the child's messages into the snapshot --------------------------

    def _on_progress(self, progress: Progress) -> None:
        position = progress.epoch + progress.batch / max(1, progress.batches)
        points = []
        if not progress.done:
            points = [
                (position, key, progress.logs[key])
                for key in ("loss", "reconstruction_loss", "kl_loss")
                if key in progress.logs
            ]
        finished = len(progress.history.get("loss", []))
        seen = {(x, key) for x, key, _ in self._snapshot.curve}
        for key in ("val_loss", "val_reconstruction_loss", "val_kl_loss"):
            values = progress.history.get(key, [])
            if values and (float(finished), key) not in seen:
                points.append((float(finished), key, values[-1]))
        self._snapshot.progress = progress
        self._snapshot.curve.extend(points)
        if self._snapshot.state == "starting":
            self._snapshot.state = "running"

    def _finish(self, payload: dict) -> None:
        from core import variants

        model = variants.get(self.name).build(self.model_config)
        model.set_weights(payload["weights"])
        self.result = TrainResult(
            model=model,
            history=payload["history"],
            epochs_completed=payload["epochs_completed"],
            seconds=payload["seconds"],
            samples_per_second=payload["samples_per_second"],
            stopped=payload["stopped"],
            diverged=payload["diverged"],
            config=self.model_config,
            train_config=self.config,
        )
        self._snapshot.state = (
            "diverged" if payload["diverged"] else "stopped" if payload["stopped"] else "done"
        )

    def _owner_gone(self) -> bool:
        """True once the owner has been away for `grace` seconds (a reload is not leaving)."""
        if self.owner_alive is None or self.owner_alive():
            self._gone_since = None
            return False
        self._gone_since = self._gone_since or time.monotonic()
        return time.monotonic() - self._gone_since >= self.grace

    def _cancelled_or_gone(self) -> bool:
        return self._cancel.is_set() or self._owner_gone()

    def _run(self) -> None:
        if not self.slots.acquire(self, self._cancelled_or_gone):
            with self._lock:
                self._snapshot.state = "cancelled" if self._cancel.is_set() else "abandoned"
            return
        try:
            with self._lock:
                self._snapshot.state = "starting"
            self._worker = _take_worker()
            if self._cancel.is_set():  # Stop pressed while the worker was being taken.
                self._worker.stop.set()
            task = (self.name, self.config, self.model_config, self.sample_images)
            self._worker.tasks.put(task)
            self._read()
        except Exception as error:  # E.g. no process could be started: say so in the page.
            with self._lock:
                self._snapshot.state = "failed"
                self._snapshot.error = f"{type(error).__name__}: {error}"
        finally:
            self.slots.release(self)

    def _read(self) -> None:
        while True:
            if not self._abandoned and self._owner_gone():
                self._abandoned = True
                self._worker.stop.set()  # Ends after this batch; the result is dropped below.
            try:
                kind, *body = self._worker.messages.get(timeout=0.5)
            except queue.Empty:
                if not self._worker.process.is_alive():
                    with self._lock:
                        self._snapshot.state = "failed"
                        self._snapshot.error = self._snapshot.error or (
                            f"the training process ended unexpectedly (exit code "
                            f"{self._worker.process.exitcode})"
                        )
                    return
                continue
            with self._lock:
                if kind == "progress":
                    self._on_progress(body[0])
                elif kind == "samples":
                    self._snapshot.samples_epoch, self._snapshot.samples = body
                elif kind == "error":
                    self._snapshot.state, self._snapshot.error = "failed", body[0]
                    break
                elif kind == "result":
                    if self._abandoned:  # Nobody will see it: free the memory now.
                        self._snapshot.state = "abandoned"
                        break
                    try:
                        self._finish(body[0])
                    except Exception as error:
                        self._snapshot.state = "failed"
                        self._snapshot.error = f"{type(error).__name__}: {error}"
                    break
        self._worker.process.join(timeout=10)
