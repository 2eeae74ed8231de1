"""The training engine of one server: worker processes fed from the store's queue.

The queue is the store itself: runs with status "queued", first come first served. A thread in
the server process (`LocalEngine`, one per process) looks twice a second for queued runs while
fewer than `capacity` runs are training (counted in the store), claims the next one (queued ->
running, atomically, so two servers never take the same run) and hands its id to an idle worker
(`core.worker`), starting one if needed. Workers stay for `idle_seconds` after their last run,
so the next run does not pay TensorFlow's import again.

The same thread keeps the store honest: it records which students have a page open
(`live_students`), stops the runs of students who have been gone for `abandon_seconds`, marks
runs whose worker died as interrupted (their last checkpoint stays usable), and prunes old runs.
Nothing here imports Streamlit; the server passes in what it knows about sessions.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.store import Store, StoreError

LOG = logging.getLogger("autoencoder_lab.engine")
ROOT = Path(__file__).resolve().parents[1]
HOST = socket.gethostname()
STALE_SECONDS = 60.0  # A running run whose worker has been silent this long is interrupted.
SWEEP_SECONDS = 10.0
PRUNE_SECONDS = 3600.0


def worker_label(pid: int) -> str:
    return f"{HOST}:{pid}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Alive, someone else's.
        return True
    return True


@dataclass
class Worker:
    process: subprocess.Popen
    run_id: int | None = None
    idle_since: float = field(default_factory=time.monotonic)

    @property
    def label(self) -> str:
        return worker_label(self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None


class LocalEngine:
    """Trains queued runs in up to `capacity` worker processes on this machine."""

    def __init__(
        self,
        store: Store,
        capacity: int = 1,
        live_students: Callable[[], set[int]] | None = None,
        abandon_seconds: float = 120.0,
        idle_seconds: float = 600.0,
        max_runs: int = 30,
        retention_days: float = 30.0,
        poll: float = 0.5,
    ):
        self.store = store
        self.capacity = capacity
        self.live_students = live_students
        self.abandon_seconds = abandon_seconds
        self.idle_seconds = idle_seconds
        self.max_runs = max_runs
        self.retention_days = retention_days
        self.poll = poll
        self.workers: list[Worker] = []
        self.error: str | None = None  # The last store error the loop met, for the page.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._last_prune = 0.0

    # Life cycle ----------------------------------------------------------------------------

    def start(self) -> LocalEngine:
        """Recover from a previous server's end, then run the loop in a daemon thread."""
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="training-engine", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop the loop and the workers (a run in training ends as interrupted)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for worker in self.workers:
                if worker.process.stdin:
                    worker.process.stdin.close()
                worker.process.terminate()
            for worker in self.workers:
                try:
                    worker.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
            self.workers.clear()

    def recover(self) -> list[int]:
        """Mark runs left running by a server that is gone as interrupted."""
        interrupted = []
        ours = {worker.label for worker in self.workers}
        now = time.time()
        for run in self.store.running():
            host, _, pid = (run.worker or "").rpartition(":")
            dead_here = host == HOST and pid.isdigit() and not pid_alive(int(pid))
            silent = now - (run.heartbeat_at or run.started_at or 0) > STALE_SECONDS
            if run.worker not in ours and (dead_here or silent):
                self.store.finish(
                    run.id, "interrupted", "the training process ended (the server restarted?)"
                )
                interrupted.append(run.id)
        if interrupted:
            LOG.warning("runs interrupted by a previous shutdown: %s", interrupted)
        return interrupted

    # The loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.tick()
                self.error = None
            except StoreError as error:  # The database is down: keep trying, tell the page.
                self.error = str(error)
                LOG.error("engine: %s", error)
            except Exception:  # A bug here must not end the loop for every student.
                LOG.exception("engine loop")

    def tick(self) -> None:
        with self._lock:
            self._reap()
            self._dispatch()
            self._retire_idle()
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_SECONDS:
            self._last_sweep = now
            self.sweep()
        if now - self._last_prune >= PRUNE_SECONDS:
            self._last_prune = now
            self.store.prune(self.max_runs, self.retention_days)

    def sweep(self) -> None:
        """Presence, abandoned runs and silent workers."""
        if self.live_students is not None:
            self.store.touch_students(self.live_students())
            abandoned = self.store.abandon(self.abandon_seconds)
            if abandoned:
                LOG.info("stopping abandoned runs %s", abandoned)
        self.recover()

    def _reap(self) -> None:
        """Free workers whose run ended; forget dead ones, failing the run they had."""
        for worker in list(self.workers):
            if worker.run_id is not None:
                run = self.store.run(worker.run_id)
                if not worker.alive():
                    if run is not None and run.active:
                        self.store.finish(
                            run.id,
                            "interrupted",
                            f"the training process ended unexpectedly (exit code "
                            f"{worker.process.returncode}); the last epoch's weights are kept",
                        )
                elif run is None or not run.active:
                    worker.run_id, worker.idle_since = None, time.monotonic()
            if not worker.alive():
                self.workers.remove(worker)

    def _dispatch(self) -> None:
        # Counted in the store, not in this process: the limit holds for every server that
        # shares the database.
        free = self.capacity - self.store.counts().get("running", 0)
        if free <= 0:
            return
        for run_id in self.store.queued(free):
            worker = next((w for w in self.workers if w.run_id is None), None) or self._spawn()
            if not self.store.claim(run_id, worker.label):
                continue  # Cancelled in the meantime, or another server took it.
            worker.run_id = run_id
            try:
                worker.process.stdin.write(f"{run_id}\n")
                worker.process.stdin.flush()
            except OSError:  # Died between spawn and now: the next reap fails the run.
                LOG.error("worker %s gone before run %s", worker.label, run_id)

    def _retire_idle(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.run_id is None and now - worker.idle_since > self.idle_seconds:
                worker.process.stdin.close()  # The worker exits at the end of its input.
                self.workers.remove(worker)

    def _spawn(self) -> Worker:
        environment = {**os.environ, "AE_DATABASE_URL": self.store.url}
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        process = subprocess.Popen(
            [sys.executable, "-m", "core.worker"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        worker = Worker(process)
        self.workers.append(worker)
        return worker

    # For the pages -------------------------------------------------------------------------

    def prewarm(self) -> None:
        """Start an idle worker now if none is ready, so pressing Train starts at once."""
        with self._lock:
            idle = any(w.run_id is None and w.alive() for w in self.workers)
            if not idle and len(self.workers) < self.capacity:
                self._spawn()

    @property
    def training(self) -> int:
        with self._lock:
            return sum(worker.run_id is not None for worker in self.workers)
