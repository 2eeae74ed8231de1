"""The training engine: runs are Dask tasks, and the Dask scheduler is the queue.

A run is one task, `core.cluster.tasks.train_run(run_id)`, which a training worker
(`core.cluster.worker`) claims in the store, trains and records there; pages only read the
store. The engine is the app server's side of it, one per server process:

- **Embedded** (the default): it starts a Dask scheduler on loopback and up to `capacity`
  (`AE_MAX_TRAININGS`) training workers as subprocesses, when there is work for them
  (`core.cluster.embedded`). Workers retire after `idle_seconds` (`AE_WORKER_IDLE_MINUTES`)
  without a task; the next run starts one again and pays TensorFlow's start-up, which the run's
  message says. They speak TLS with a throwaway certificate, so another program on the machine
  cannot connect and run code in them.
- **A cluster** (`AE_DASK_SCHEDULER=tls://host:8786`): it submits to that scheduler and starts
  nothing; workers are started on any machine with `python -m core.worker tls://host:8786`.
  Its certificate comes from `AE_DASK_TLS_*` (`core.cluster.scheduler.security_from_environment`).
  The scheduler must be able to import the project, and should run with worker-saturation 1.0:
  the engine checks both when it connects (`core.cluster.submission`, docs/DEPLOY.md).

Either way a loop keeps the store and the scheduler in step (`core.cluster.housekeeping`: lost
runs, abandoned runs, resubmission, pruning). Nothing here imports Streamlit or Keras.

Pages call the engine from their own threads, so no call of theirs waits without a limit: the
scheduler's start and the first connection happen in the engine's thread, without the lock the
pages take, and every request to the scheduler has a deadline (`start_seconds`,
`CONNECT_SECONDS`, `call_seconds`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from core.cluster import housekeeping, tasks
from core.cluster.embedded import START_SECONDS, EmbeddedCluster
from core.cluster.housekeeping import PRUNE_SECONDS, SWEEP_SECONDS
from core.cluster.scheduler import security_from_environment
from core.cluster.submission import UnfitScheduler, check_scheduler, queue_task, within
from core.store import Store, StoreError

LOG = logging.getLogger("autoencoder_lab.engine")
CALL_PRIORITY = 10  # Ahead of every run (theirs are negative): an experiment takes seconds.
CONNECT_SECONDS = 5.0
# Dask's requests to the scheduler (its workers' list, a cancel) wait for its answer without a
# limit: a frozen scheduler (SIGSTOP, a network split) would hold the caller forever.
CALL_SECONDS = 10.0


class EngineUnavailable(ConnectionError):
    """The scheduler cannot be reached: nothing can be trained right now."""


class Engine:
    """This server's link to the training cluster (embedded or given by `scheduler`)."""

    def __init__(
        self,
        store: Store,
        capacity: int = 1,
        scheduler: str | None = None,
        live_students: Callable[[], set[int]] | None = None,
        abandon_seconds: float = 120.0,
        idle_seconds: float = 600.0,
        max_runs: int = 30,
        retention_days: float = 30.0,
        poll: float = 1.0,
        security=None,
        scheduler_command: list[str] | None = None,
        start_seconds: float = START_SECONDS,
        call_seconds: float = CALL_SECONDS,
    ):
        """`security`: a cluster's Dask `Security` (default: `AE_DASK_TLS_*` or Dask's
        configuration; the embedded cluster makes its own). `scheduler_command`: how to start
        the embedded scheduler (default `python -m core.cluster.scheduler`); it must print its
        address first."""
        self.store = store
        self.capacity = capacity
        self.embedded = scheduler is None
        self.address = scheduler
        self.live_students = live_students
        self.abandon_seconds = abandon_seconds
        self.idle_seconds = idle_seconds
        self.max_runs = max_runs
        self.retention_days = retention_days
        self.poll = poll
        self.security = security
        self.call_seconds = call_seconds
        self.cluster = (
            EmbeddedCluster(store.url, idle_seconds, scheduler_command, start_seconds)
            if self.embedded
            else None
        )
        self.client = None
        self.error: str | None = None  # Why nothing can be trained now, for the page.
        self.futures: dict[int, object] = {}  # run id -> its task's future, while it lives.
        self.ready_workers = 0  # Training workers the scheduler knows (warm: they load first).
        self._warm_wanted = False  # A page asked for a ready worker before we connected.
        self._calls = 0  # Engine calls (few-label experiments) waiting for a worker.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._attempted = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._last_prune = 0.0
        self.sweep_seconds = SWEEP_SECONDS  # Tests sweep more often than a server needs to.

    @property
    def scheduler_process(self):
        """The embedded scheduler's process (None for a cluster's, or before it started)."""
        return self.cluster.scheduler if self.cluster else None

    @property
    def worker_processes(self) -> list:
        """The embedded training workers' processes (none for a cluster)."""
        return self.cluster.workers if self.cluster else []

    # Life cycle ------------------------------------------------------------------------------

    def start(self) -> Engine:
        """Connect (starting the embedded scheduler first) and keep going, in a thread: the
        first page does not wait for the scheduler's start-up.

        Never raises for an unreachable scheduler: the pages work without training, `error`
        says why, and the loop reconnects when it can.
        """
        self._thread = threading.Thread(target=self._loop, name="training-engine", daemon=True)
        self._thread.start()
        return self

    def wait_connected(self, timeout: float = 30.0) -> bool:
        """Block until the first connection attempt is over (for scripts and tests)."""
        return self._attempted.wait(timeout) and self.available

    def shutdown(self) -> None:
        """Stop the loop, disconnect, and end what this engine started (runs in training end
        as interrupted: their workers see the app is gone)."""
        self._stop.set()
        if self._thread is not None:  # It may be in a connection or a request: both end.
            self._thread.join(timeout=CONNECT_SECONDS + self.call_seconds)
        with self._lock:
            if self.client is not None:
                try:
                    self.client.close(timeout=5)
                except Exception:  # Closing a client whose scheduler died may complain.
                    LOG.debug("closing the Dask client", exc_info=True)
                self.client = None
            if self.cluster is not None:
                self.cluster.shutdown()

    def _connect(self) -> None:
        """Start the embedded scheduler if it is not running, and connect to the scheduler.

        Runs in the engine's thread, and holds the lock only to swap in what it made: starting
        a scheduler and connecting can take seconds (`start_seconds`, `CONNECT_SECONDS`), and
        pages must not wait behind them."""
        from distributed import Client

        where = "the embedded scheduler" if self.embedded else self.address
        try:
            if self.embedded and not self.cluster.scheduler_running:
                started = self.cluster.start_scheduler(self._stop)
                with self._lock:
                    self.cluster.adopt(*started)
                    self.address, self.security = self.cluster.address, self.cluster.security
            elif self.security is None:
                self.security = security_from_environment()
            client = Client(
                self.address,
                security=self.security,
                timeout=CONNECT_SECONDS,
                set_as_default=False,
            )
            if not self.embedded:  # Its operator configures it: the engine only checks.
                check_scheduler(client, self.call_seconds, self.address)
        # Anything (a refused certificate is a TypeError or an SSLError in Dask): the pages
        # work without training and say why, and this thread must go on to reconnect.
        except Exception as error:
            trouble = "cannot train" if isinstance(error, UnfitScheduler) else "cannot be reached"
            with self._lock:
                self.client = None
                self.error = f"The training cluster ({where}) {trouble}: {error}"
            LOG.error("%s", self.error)
            return
        with self._lock:
            self.client, self.error = client, None
        LOG.info("training engine: scheduler %s", self.address)
        housekeeping.resubmit(self)

    # For the pages ---------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self.client is not None and self.error is None

    def submit(self, run_id: int) -> None:
        """Queue the run's task (the run is queued in the store already, which is what counts:
        if this fails, the loop submits it when the scheduler is back)."""
        from distributed import fire_and_forget

        client = self._client()
        run = self.store.run(run_id)
        if run is None or run.status != "queued":
            return
        with self._lock:
            if run_id in self.futures:
                return
            future = queue_task(
                client,
                # A continued run is queued again under a new key: a finished task's key may
                # still be remembered by the scheduler, and would not run a second time.
                f"{tasks.task_key(run_id)}-{int(run.queued_at * 1000)}",
                # First come, first served, across servers: an earlier run has the higher
                # priority.
                -int(run.queued_at * 1000),
                tasks.train_run,
                run_id,
                self.store.display_url,
            )
            # The run must train even if this server goes away before it starts.
            fire_and_forget(future)
            self.futures[run_id] = future
        future.add_done_callback(lambda done, run_id=run_id: self._ended(run_id, done))
        self._scale()

    def cancel(self, run_id: int) -> None:
        """Take a run's task out of the scheduler's queue (the store says it left)."""
        with self._lock:
            future = self.futures.pop(run_id, None)
        client = self.client
        if future is not None and client is not None:
            try:
                within(
                    client,
                    self.call_seconds,
                    lambda: client.cancel(
                        [future], asynchronous=True, force=True, reason="the run left the queue"
                    ),
                )
            except Exception:  # The task checks the store anyway: a queued-no-more run is skipped.
                LOG.warning("cancelling run %s", run_id, exc_info=True)

    def call(self, function: Callable, *args, timeout: float = 120.0):
        """Run `function(*args)` in a training worker and return its result (the Inside
        page's experiments: the server never loads the training images). `function` is one
        of `core.cluster.tasks`, e.g. `tasks.few_labels`."""
        client = self._client()
        with self._lock:
            self._calls += 1
        try:
            self._scale()
            future = queue_task(client, f"call-{uuid.uuid4().hex}", CALL_PRIORITY, function, *args)
            return future.result(timeout=timeout)
        finally:
            with self._lock:
                self._calls -= 1

    def send(self, function: Callable, *args) -> None:
        """Run `function(*args)` in a training worker without waiting for it (a challenge
        added mid-lesson scores the finished runs in the background)."""
        from distributed import fire_and_forget

        client = self._client()
        with self._lock:
            self._calls += 1
        future = queue_task(client, f"call-{uuid.uuid4().hex}", CALL_PRIORITY, function, *args)
        fire_and_forget(future)

        def done(_future) -> None:
            with self._lock:
                self._calls -= 1

        future.add_done_callback(done)
        self._scale()

    def prewarm(self) -> None:
        """Start a training worker now if none is running, so pressing Train starts at once."""
        if self.embedded:
            self._warm_wanted = True  # Acted on now, or by the loop once connected.
            if self.available:
                self._scale(at_least=1)

    def submitted(self) -> list[int]:
        """The runs this engine holds a task for."""
        with self._lock:
            return list(self.futures)

    # The loop --------------------------------------------------------------------------------

    def _client(self):
        if self.client is None or self.error is not None:
            raise EngineUnavailable(self.error or "the training cluster is not connected")
        return self.client

    def _loop(self) -> None:
        try:
            self._connect()
        finally:
            self._attempted.set()
        while not self._stop.wait(self.poll):
            try:
                self.tick()
            except StoreError as error:  # The database is down: keep trying.
                LOG.error("engine: %s", error)
            except Exception:  # A bug here must not end the loop for every student.
                LOG.exception("engine loop")

    def tick(self) -> None:
        """One round of the loop: reconnect if needed, then keep the store in step."""
        if not self._connected():
            return
        workers = self._training_workers()
        if workers is None:
            return
        self.ready_workers = len(workers)
        housekeeping.interrupt_lost(self.store, workers)
        counts = self.store.counts()
        self._scale(at_least=1 if self._warm_wanted else 0, counts=counts)
        self._warm_wanted = False
        if counts.get("queued"):  # No write transaction every second for nothing.
            housekeeping.note_waiting(self.store, self.ready_workers, self.embedded, self.address)
        now = time.monotonic()
        if now - self._last_sweep >= self.sweep_seconds:
            self._last_sweep = now
            housekeeping.sweep(self)
        if now - self._last_prune >= PRUNE_SECONDS:
            self._last_prune = now
            self.store.prune(self.max_runs, self.retention_days)

    def _connected(self) -> bool:
        """Whether there is a client, after connecting again if the scheduler was lost."""
        client = self.client
        # A client gives up on a scheduler it lost for CONNECT_SECONDS and closes itself.
        gave_up = client is not None and client.status in {"closing", "closed"}
        exited = self.embedded and self.scheduler_process and not self.cluster.scheduler_running
        if client is not None and not gave_up and not exited:
            return True
        if client is not None:  # Start another embedded scheduler, or connect again.
            LOG.error(
                "the Dask client closed; connecting again"
                if gave_up
                else "the embedded scheduler exited; starting a new one"
            )
            with self._lock:
                self.client = None
            client.close(timeout=2)
        self._connect()
        return self.client is not None

    def _training_workers(self) -> set[str] | None:
        """Addresses of the cluster's training workers; None (and `error`) if unreachable."""
        client = self.client
        try:
            # Not `client.scheduler_info()`: it waits without a limit, and answers a lost
            # scheduler with the last list it had.
            info = within(
                client, self.call_seconds, lambda: client.scheduler.identity(n_workers=-1)
            )
        except Exception as error:
            where = "the embedded scheduler" if self.embedded else self.address
            # A deadline's TimeoutError may carry no text: say what it means.
            reason = str(error) or (
                f"timed out (no answer in {self.call_seconds:g} s)"
                if isinstance(error, TimeoutError)
                else type(error).__name__
            )
            self.error = f"The training cluster ({where}) cannot be reached: {reason}"
            return None
        if self.error is not None:
            LOG.info("the training cluster is back")
            self.error = None
            housekeeping.resubmit(self)
        return {
            address
            for address, worker in info.get("workers", {}).items()
            if tasks.RESOURCE in (worker.get("resources") or {})
        }

    def _scale(self, at_least: int = 0, counts: dict[str, int] | None = None) -> None:
        """Embedded: start workers while there is work for them, up to `capacity`."""
        if self.cluster is None:
            return
        with self._lock:
            counts = counts if counts is not None else self.store.counts()
            work = counts.get("queued", 0) + counts.get("running", 0) + self._calls
            self.cluster.scale(min(self.capacity, max(work, at_least)))

    def _ended(self, run_id: int, future) -> None:
        """A run's task is over: record what the task itself could not."""
        with self._lock:
            if self.futures.get(run_id) is future:
                del self.futures[run_id]
        if future.status == "error":  # Not finished (recorded) or cancelled (it left).
            error = future.exception(timeout=self.call_seconds)  # Done: it is there already.
            housekeeping.record_task_error(self.store, run_id, error)
