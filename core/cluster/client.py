"""The training engine: runs are Dask tasks, and the Dask scheduler is the queue.

A run is one task, `core.cluster.tasks.train_run(run_id)`, which a training worker
(`core.cluster.worker`) claims in the store, trains and records there; pages only read the
store. The engine is the app server's side of it, one per server process:

- **Embedded** (the default): it starts a Dask scheduler on loopback (`core.cluster.scheduler`)
  and up to `capacity` (`AE_MAX_TRAININGS`) training workers as subprocesses, when there is work for
  them. Workers retire after `idle_seconds` (`AE_WORKER_IDLE_MINUTES`) without a task; the next
  run starts one again and pays TensorFlow's start-up, which the run's message says. They speak
  TLS with a throwaway certificate the engine makes (`embedded_certificates`), so another
  program on the machine cannot connect and run code in them.
- **A cluster** (`AE_DASK_SCHEDULER=tls://host:8786`): it submits to that scheduler and starts
  nothing; workers are started on any machine with `python -m core.worker tls://host:8786`.
  Its certificate comes from `AE_DASK_TLS_*` (`core.cluster.scheduler.security_from_environment`).

Either way the engine also keeps the store honest: it submits queued runs that no task carries
(after a restart, or from a server that is gone; task keys make a second submission of the same
run a no-op), cancels the tasks of runs that left the queue, marks runs whose worker left the
cluster as interrupted (their last checkpoint stays usable), stops the runs of students who have
closed every page (`live_students`, `abandon_seconds`) and prunes old runs. Nothing here
imports Streamlit.

Pages call the engine from their own threads, so no call of theirs waits without a limit: the
scheduler's start and the first connection happen in the engine's thread, without the lock the
pages take, and every request to the scheduler has a deadline (`start_seconds`,
`CONNECT_SECONDS`, `call_seconds`).
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.cluster import tasks
from core.cluster.scheduler import TLS_VARIABLES, security_from_environment
from core.store import Store, StoreError

LOG = logging.getLogger("autoencoder_lab.engine")
ROOT = Path(__file__).resolve().parents[2]
CALL_PRIORITY = 10  # Ahead of every run (theirs are negative): an experiment takes seconds.
LOST_SECONDS = tasks.LOST_SECONDS  # Silent this long, its worker not in the cluster: lost.
# Silent this long while its worker is still in the cluster: frozen or cut off (Dask keeps a
# silent worker listed for minutes). Twice the limit above, for a worker slowed by a loaded
# machine; a live one writes its heartbeat every two seconds whatever it is doing.
STUCK_SECONDS = 2 * tasks.LOST_SECONDS
CONNECT_SECONDS = 5.0
# The embedded scheduler prints its address about 1 s after it starts here; one that has said
# nothing after this long is hung (a full disk, a stuck import) and is killed.
START_SECONDS = 30.0
# Dask's requests to the scheduler (its workers' list, a cancel) wait for its answer without a
# limit: a frozen scheduler (SIGSTOP, a network split) would hold the caller forever.
CALL_SECONDS = 10.0
SWEEP_SECONDS = 10.0
PRUNE_SECONDS = 3600.0
STARTING_MESSAGE = (
    "A training worker is starting: TensorFlow and the training data load once (about 10 s), "
    "and later runs start at once."
)


def by_name(target: str, *args):
    """In the worker: import `target` ("package.module.function") and call it with `args`."""
    import importlib

    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)(*args)


def one_task_per_worker_thread(dask_scheduler=None) -> float:
    """On the scheduler: hand a worker thread one task at a time and keep the rest queued on
    the scheduler, in priority order, for whichever worker frees up first (Dask's default,
    1.1, sends a one-thread worker a second run to wait behind its first)."""
    dask_scheduler.WORKER_SATURATION = 1.0
    return dask_scheduler.WORKER_SATURATION


# The scheduler unpickles every task it is given. A function of this project would be pickled
# as a reference, and unpickling it imports `core`, which loads Keras (600 MB) into the
# scheduler, or fails where the project is not installed. Marked as defined in `__main__`, this
# small function travels by value instead (cloudpickle sends its code), so a scheduler needs
# nothing but Dask. Workers import the real task (`core.cluster.tasks`), which they have loaded.
by_name.__module__ = one_task_per_worker_thread.__module__ = "__main__"


def queue_task(client, key: str, priority: int, function: str, *args):
    """Submit `function(*args)` as a task the scheduler queues until a worker thread is free.

    Marked as a data producer (a root task, in Dask's terms), it is held in the scheduler's
    queue rather than sent ahead to a worker that is busy, so a run waits for the first free
    worker (one that joins later included), in priority order, and leaving the queue removes
    it from the scheduler alone.
    """
    from dask._task_spec import Task

    task = Task(key, by_name, function, *args, _data_producer=True)
    return client.get({key: task}, key, sync=False, priority=priority)


class EngineUnavailable(RuntimeError):
    """The scheduler cannot be reached: nothing can be trained right now."""


def within(client, seconds: float, request: Callable[[], Awaitable]):
    """Await `request()` on the client's event loop for at most `seconds` (TimeoutError after
    that, and the request is cancelled). `request` uses Dask's asynchronous API, e.g.
    `lambda: client.scheduler.identity(n_workers=-1)`; its blocking twins have no deadline."""

    async def call():
        return await request()

    return client.sync(call, callback_timeout=seconds)


def embedded_certificates(folder: Path) -> dict[str, str]:
    """A throwaway certificate for the embedded cluster, written to `folder` (private to this
    user: 0700, files 0600); returns the `AE_DASK_TLS_*` variables that name its files.

    Dask's `Security.temporary()` makes it (it needs `cryptography`): one self-signed
    certificate that is its own CA, shared by the scheduler, the workers and the engine's
    client. Each engine makes a new one, so no other program, another app's cluster included,
    can join."""
    from distributed.security import Security

    made = Security.temporary()
    folder.chmod(0o700)
    environment = {}
    for name, (file, text) in zip(
        TLS_VARIABLES,
        [
            ("ca.pem", made.tls_ca_file),
            ("cert.pem", made.tls_client_cert),
            ("key.pem", made.tls_client_key),
        ],
        strict=True,
    ):
        path = folder / file
        # Created 0600 (not chmod-ed afterwards): the key is never readable by others.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(text)
        environment[name] = str(path)
    return environment


def first_line(process: subprocess.Popen, seconds: float, stop: threading.Event) -> str | None:
    """The first line `process` prints, or None if it printed none within `seconds` (or `stop`
    was set meanwhile). A thread reads it: a pipe's `readline` has no timeout of its own."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: lines.put(process.stdout.readline()), name="scheduler-start", daemon=True
    ).start()
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return lines.get(timeout=min(left, 0.25))
        except queue.Empty:
            continue
    return None


def quiet_dask_environment() -> dict[str, str]:
    """Dask's processes log every connection at INFO; the server log needs only problems."""
    return {"DASK_LOGGING__DISTRIBUTED": "warning"}


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
        self.scheduler_command = scheduler_command or [
            sys.executable,
            "-m",
            "core.cluster.scheduler",
            "--parent",
            str(os.getpid()),
        ]
        self.start_seconds = start_seconds
        self.call_seconds = call_seconds
        self._tls_folder: tempfile.TemporaryDirectory | None = None
        self._tls_environment: dict[str, str] = {}  # AE_DASK_TLS_* for the embedded processes.
        self.client = None
        self.error: str | None = None  # Why nothing can be trained now, for the page.
        self.futures: dict[int, object] = {}  # run id -> its task's future, while it lives.
        self.scheduler_process: subprocess.Popen | None = None
        self.worker_processes: list[subprocess.Popen] = []
        self.ready_workers = 0  # Training workers the scheduler knows (warm: they load first).
        self._warm_wanted = False  # A page asked for a ready worker before we connected.
        self._calls = 0  # Engine calls (few-label experiments) waiting for a worker.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._attempted = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._last_prune = 0.0

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
            for process in [*self.worker_processes, self.scheduler_process]:
                if process is not None and process.poll() is None:
                    process.terminate()
            for process in [*self.worker_processes, self.scheduler_process]:
                if process is not None:
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        process.kill()
            self.worker_processes.clear()
            self.scheduler_process = None
            if self._tls_folder is not None:  # Its key is of no use to anyone now.
                self._tls_folder.cleanup()
                self._tls_folder = None

    def _connect(self) -> None:
        """Start the embedded scheduler if it is not running, and connect to the scheduler.

        Runs in the engine's thread, and holds the lock only to swap in what it made: starting
        a scheduler and connecting can take seconds (`start_seconds`, `CONNECT_SECONDS`), and
        pages must not wait behind them."""
        from distributed import Client

        where = "the embedded scheduler" if self.embedded else self.address
        try:
            if self.embedded and (
                self.scheduler_process is None or self.scheduler_process.poll() is not None
            ):
                self._start_scheduler()
            elif self.security is None:
                self.security = security_from_environment()
            client = Client(
                self.address,
                security=self.security,
                timeout=CONNECT_SECONDS,
                set_as_default=False,
            )
        # Anything (a refused certificate is a TypeError or an SSLError in Dask): the pages
        # work without training and say why, and this thread must go on to reconnect.
        except Exception as error:
            with self._lock:
                self.client = None
                self.error = f"The training cluster ({where}) cannot be reached: {error}"
            LOG.error("%s", self.error)
            return
        with self._lock:
            self.client, self.error = client, None
        LOG.info("training engine: scheduler %s", self.address)
        if not self.embedded:
            self._configure_scheduler()
        self.resubmit()

    def _configure_scheduler(self) -> None:
        """One run per worker thread on a scheduler started by someone else, too."""
        client = self.client
        try:
            within(
                client,
                self.call_seconds,
                lambda: client.run_on_scheduler(one_task_per_worker_thread, asynchronous=True),
            )
        except Exception:  # Refused (an older or locked-down scheduler): runs still train.
            LOG.warning(
                "could not set worker-saturation 1.0 on %s: start the scheduler with "
                "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0, or a busy worker may "
                "hold a run while another is free",
                self.address,
                exc_info=True,
            )

    def _start_scheduler(self) -> None:
        """Start the embedded scheduler and wait, at most `start_seconds`, for its address."""
        from distributed.security import Security

        if self._tls_folder is None:  # One certificate for this engine's life: its workers
            # started later, and a scheduler started again after a crash, share it.
            self._tls_folder = tempfile.TemporaryDirectory(prefix="autoencoder-lab-dask-")
            self._tls_environment = embedded_certificates(Path(self._tls_folder.name))
            ca, cert, key = (self._tls_environment[name] for name in TLS_VARIABLES)
            self.security = Security(
                require_encryption=True,
                tls_ca_file=ca,
                tls_client_cert=cert,
                tls_client_key=key,
            )
        process = subprocess.Popen(
            self.scheduler_command,
            cwd=ROOT,
            env={
                **os.environ,
                **quiet_dask_environment(),
                **self._tls_environment,
                "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = first_line(process, self.start_seconds, self._stop)  # Its address, once it listens.
        if line is None or not line.startswith("tls://"):
            process.kill()
            process.wait(timeout=10)  # Killed: it goes at once (and is reaped, not a zombie).
            process.stdout.close()
            if line is None:
                raise RuntimeError(
                    "the engine is shutting down"
                    if self._stop.is_set()
                    else f"the scheduler did not start within {self.start_seconds:.0f} s"
                )
            said = line.strip() or f"no output, exit code {process.returncode}"
            raise RuntimeError(f"the scheduler did not start ({said})")
        with self._lock:
            self.scheduler_process, self.address = process, line.strip()
            for worker in self.worker_processes:  # Workers of a scheduler that died are useless.
                if worker.poll() is None:
                    worker.terminate()
            self.worker_processes.clear()

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
                "core.cluster.tasks.train_run",
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

    def call(self, function: str, *args, timeout: float = 120.0):
        """Run `function(*args)` in a training worker and return its result (the Inside
        page's experiments: the server never loads the training images). `function` is its
        dotted name, e.g. "core.cluster.tasks.few_labels"."""
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

    def send(self, function: str, *args) -> None:
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
        client = self.client
        # A client gives up on a scheduler it lost for CONNECT_SECONDS and closes itself.
        gave_up = client is not None and client.status in {"closing", "closed"}
        if (
            client is None
            or gave_up
            or (
                self.embedded
                and self.scheduler_process
                and self.scheduler_process.poll() is not None
            )
        ):
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
            if self.client is None:
                return
        workers = self._training_workers()
        if workers is None:
            return
        self.ready_workers = len(workers)
        self._interrupt_lost(workers)
        counts = self.store.counts()
        self._scale(at_least=1 if self._warm_wanted else 0, counts=counts)
        self._warm_wanted = False
        if counts.get("queued"):  # No write transaction every second for nothing.
            self._note_waiting()
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_SECONDS:
            self._last_sweep = now
            self.sweep()
        if now - self._last_prune >= PRUNE_SECONDS:
            self._last_prune = now
            self.store.prune(self.max_runs, self.retention_days)

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
            self.resubmit()
        return {
            address
            for address, worker in info.get("workers", {}).items()
            if tasks.RESOURCE in (worker.get("resources") or {})
        }

    def _interrupt_lost(self, workers: set[str]) -> None:
        """A run whose worker is no longer in the cluster (killed, machine gone) and has been
        silent a while ends as interrupted; so does one whose worker is still listed but has
        written no heartbeat for longer (frozen, hung, or cut off from the database: a live
        worker beats every core.cluster.job.HEARTBEAT_SECONDS from a thread of its own). Its last
        checkpoint stays usable, and the claim's fence stops that worker from writing should
        it come back."""
        now = time.time()
        for run in self.store.running():
            silent = now - (run.heartbeat_at or run.started_at or 0)
            listed = run.worker in workers
            if silent <= (STUCK_SECONDS if listed else LOST_SECONDS):
                continue
            LOG.warning(
                "run %s: its worker %s is %s", run.id, run.worker, "silent" if listed else "gone"
            )
            self.store.finish(
                run.id,
                "interrupted",
                (
                    "its training worker stopped answering (frozen, or cut off); the last "
                    "epoch's weights are kept"
                    if listed
                    else "its training worker stopped (killed, or its machine went away); the "
                    "last epoch's weights are kept"
                ),
                attempt=run.attempt,  # Not a claim made since this read.
            )

    def _scale(self, at_least: int = 0, counts: dict[str, int] | None = None) -> None:
        """Embedded: start workers while there is work for them, up to `capacity`."""
        if not self.embedded or self.address is None:
            return
        with self._lock:
            self.worker_processes = [p for p in self.worker_processes if p.poll() is None]
            counts = counts if counts is not None else self.store.counts()
            work = counts.get("queued", 0) + counts.get("running", 0) + self._calls
            wanted = min(self.capacity, max(work, at_least))
            for _ in range(wanted - len(self.worker_processes)):
                self.worker_processes.append(self._spawn_worker())

    def _spawn_worker(self) -> subprocess.Popen:
        environment = tasks.worker_environment(self.store.url, self.idle_seconds / 60)
        environment.update(quiet_dask_environment())
        environment.update(self._tls_environment)
        LOG.info("starting a training worker")
        return subprocess.Popen(
            # On loopback, like the scheduler: by default Dask listens on every interface.
            [
                sys.executable,
                "-m",
                "core.cluster.worker",
                self.address,
                "--parent",
                str(os.getpid()),
                "--host",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def _note_waiting(self) -> None:
        """Tell queued runs, through the store, why they wait when no worker is ready."""
        if self.ready_workers:
            message = None
        elif self.embedded:
            message = STARTING_MESSAGE
        else:
            message = (
                f"Waiting for a training worker: none is connected to {self.address} "
                "(start one with `python -m core.worker`)."
            )
        self.store.note_queued(message)

    def _ended(self, run_id: int, future) -> None:
        """A run's task is over: record what the task itself could not."""
        with self._lock:
            if self.futures.get(run_id) is future:
                del self.futures[run_id]
        if future.status != "error":
            return  # Finished (the task recorded the run's end) or cancelled (it left).
        error = future.exception(timeout=self.call_seconds)  # Done: it is there already.
        try:
            if type(error).__name__ == "KilledWorker":
                self.store.finish(
                    run_id,
                    "interrupted",
                    "its training worker stopped several times; the last epoch's weights are kept",
                )
            else:
                self.store.finish(run_id, "failed", f"{type(error).__name__}: {error}")
        except StoreError:
            LOG.error("run %s: could not record its task's error %r", run_id, error)

    def sweep(self) -> None:
        """Presence and abandoned runs; queued runs without a task; tasks without a run."""
        if self.live_students is not None:
            self.store.touch_students(self.live_students())
            abandoned = self.store.abandon(self.abandon_seconds)
            if abandoned:
                LOG.info("stopping abandoned runs %s", abandoned)
        self.resubmit()
        with self._lock:
            ours = list(self.futures)
        for run_id in ours:
            run = self.store.run(run_id)
            if run is None or not run.active:  # Left the queue through another server.
                self.cancel(run_id)

    def resubmit(self) -> None:
        """Submit every queued run this engine has no task for (submitting one that another
        server already submitted joins that task: same key)."""
        if self.client is None:
            return
        with self._lock:
            missing = [run_id for run_id in self.store.queued(1000) if run_id not in self.futures]
        for run_id in missing:
            try:
                self.submit(run_id)
            except Exception:
                LOG.exception("submitting run %s", run_id)
                return
