"""The threads a training task keeps beside its training loop: the run's heartbeat, its store
writes (with the serving bundle of each checkpoint), and a throttle for the questions it asks
the store between batches."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from core.store import Fenced, StoreError

LOG = logging.getLogger("autoencoder_lab.runs")
# A run's heartbeat is written this often by a thread of its own, whatever the training loop
# is doing (measuring the test metrics included), so a run silent for
# core.cluster.tasks.lost_seconds() means its worker is dead, frozen or cut off, never that it
# is busy.
HEARTBEAT_SECONDS = 2.0


class Throttled:
    """Calls `check` at most every `interval` seconds, repeating its last answer in between."""

    def __init__(self, check: Callable[[], bool], interval: float):
        self.check, self.interval = check, interval
        self.last, self.answer = 0.0, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.answer and now - self.last >= self.interval:
            self.last, self.answer = now, bool(self.check())
        return self.answer


class Writes:
    """A run's store writes, made in order by a thread of their own: training goes on while
    the database commits (an epoch's checkpoint took 0.1 s of the VAE's training thread per
    epoch here). The first write that fails is raised again on the training thread at its next
    `submit` or at `flush`, as it would have been had that thread written itself (a Fenced
    claim or an unreachable store end the run the same way). The queue is short, so a slow
    store slows training instead of piling up checkpoints in memory."""

    def __init__(self, pending: int = 4):
        self.queue: queue.Queue = queue.Queue(maxsize=pending)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="store-writes", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                call, args, kwargs = item
                if self.error is None:  # After a failure nothing more is written.
                    call(*args, **kwargs)
            except BaseException as error:  # Handed to the training thread.
                self.error = error
            finally:
                self.queue.task_done()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, call: Callable, *args, **kwargs) -> None:
        self.raise_error()
        self.queue.put((call, args, kwargs))

    def flush(self) -> None:
        """Waits until every submitted write is made; raises the first that failed."""
        self.queue.join()
        self.raise_error()

    def __enter__(self) -> Writes:
        return self

    def __exit__(self, *_exc) -> None:
        self.queue.put(None)
        self.thread.join(timeout=60)


class Heartbeat:
    """Writes the run's heartbeat every HEARTBEAT_SECONDS from its own thread while the task
    runs; `lost` turns true once the store says the claim is gone (Fenced), which stops the
    training at its next batch. A store error is left to the training loop's own writes."""

    def __init__(self, store, run_id: int, every: float = HEARTBEAT_SECONDS):
        self.store, self.run_id, self.every = store, run_id, every
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        last = time.monotonic()
        while not self._done.wait(self.every):
            late = time.monotonic() - last
            if late > 5 * self.every:  # Starved, or the last write waited on the database.
                LOG.warning("run %s: heartbeat %.1f s after the last one", self.run_id, late)
            try:
                self.store.progress(self.run_id)
                last = time.monotonic()
            except Fenced:
                self.lost = True
                return
            except StoreError as error:
                LOG.warning("run %s: heartbeat not written: %s", self.run_id, error)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join(timeout=self.every + 10)


class Bundles:
    """The serving bundle (core.ml.served) of each checkpoint of a run, made on the writer
    thread: a page can use a run as soon as it has a checkpoint, including one whose worker
    was killed. Exporting through tf2onnx takes 0.3-3 s a model, longer than an epoch of a
    small one; so once per architecture per worker process, a spare model's halves are
    exported with marked weights (core.ml.onnx_export.refill_for) on a thread of its own
    while the first epoch trains, and each checkpoint then fills its weights into those
    graphs (tens of milliseconds)."""

    # Architectures kept: a spare model and its graphs, 0.3-40 MB each (a race has four).
    ENTRIES = 4

    def __init__(self):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="refill")
        self._entries: OrderedDict[str, BundleMaker] = OrderedDict()
        self._lock = threading.Lock()

    def maker(self, key: str, build: Callable[[], Any], name: str) -> BundleMaker:
        """The maker of bundles for the architecture `key`; `build()` makes its spare model
        (on the caller's thread: building draws from Keras's random state, which the caller
        then seeds for its own model)."""
        from core.ml.onnx_export import refill_for

        with self._lock:
            found = self._entries.get(key)
            if found is None:
                spare = build()
                found = BundleMaker(spare, self._pool.submit(refill_for, spare), name)
                self._entries[key] = found
                while len(self._entries) > self.ENTRIES:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(key)
            return found


class BundleMaker:
    """Makes one architecture's bundles from checkpoint weights; thread-safe."""

    def __init__(self, spare, refill: Future, name: str):
        self.spare, self.refill, self.name = spare, refill, name
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """Whether checkpoints get bundles: False once the graphs could not be found or
        checked, and then the run's bundle is exported in full when its session ends."""
        try:
            return self.refill.result() is not None
        except Exception:
            LOG.exception("%s: its graphs could not be exported to refill", self.name)
            return False

    def __call__(self, weights: list) -> bytes | None:
        """The bundle of `weights`, or None (logged) if it could not be made: a run is not
        failed for what only its pages need."""
        from core.ml.onnx_export import bundle

        if not self.ready():
            return None
        try:
            with self._lock:
                self.spare.set_weights(weights)
                return bundle(self.spare, self.name, refill=self.refill.result())
        except Exception:
            LOG.exception("%s: a checkpoint's bundle could not be made", self.name)
            return None
