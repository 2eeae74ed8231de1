"""The embedded training cluster: the Dask scheduler and training workers an app server starts
for itself when no `AE_DASK_SCHEDULER` is configured, and their throwaway TLS certificate.

The scheduler (`python -m core.cluster.scheduler`) listens on loopback and prints its address;
workers (`python -m core.cluster.worker`) start when there is work, up to the engine's
capacity, and retire after `idle_minutes` without a task. Every process watches the app that
started it (`--parent`) and exits when it is gone, so a killed server leaves nothing behind.
They are subprocesses, not Dask's `LocalCluster`: that one runs the scheduler inside the app
server (in Streamlit's process, where a frozen event loop would hold every page) and scales
by Dask's own load measure rather than the store's queue. The engine (`core.cluster.client`)
calls these from its own thread, under its lock where it swaps in what they made.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from core.cluster import tasks
from core.cluster.scheduler import TLS_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
# The embedded scheduler prints its address about 1 s after it starts here; one that has said
# nothing after this long is hung (a full disk, a stuck import) and is killed.
START_SECONDS = 30.0


def quiet_dask_environment() -> dict[str, str]:
    """Dask's processes log every connection at INFO; the server log needs only problems."""
    return {"DASK_LOGGING__DISTRIBUTED": "warning"}


def certificates(folder: Path) -> dict[str, str]:
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


def end(processes: list[subprocess.Popen | None]) -> None:
    """Terminate `processes`, wait for them (SIGKILL after 15 s) and reap them."""
    running = [process for process in processes if process is not None]
    for process in running:
        if process.poll() is None:
            process.terminate()
    for process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class EmbeddedCluster:
    """This app server's own scheduler and training workers (processes it started)."""

    def __init__(
        self,
        database_url: str,
        idle_seconds: float,
        scheduler_command: list[str] | None = None,
        start_seconds: float = START_SECONDS,
    ):
        self.database_url = database_url
        self.idle_seconds = idle_seconds
        self.scheduler_command = scheduler_command or [
            sys.executable,
            "-m",
            "core.cluster.scheduler",
            "--parent",
            str(os.getpid()),
        ]
        self.start_seconds = start_seconds
        self.address: str | None = None
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._tls_folder: tempfile.TemporaryDirectory | None = None
        self._tls_environment: dict[str, str] = {}  # AE_DASK_TLS_* for its processes.
        self.security = None  # The engine's client certificate for this cluster.

    @property
    def scheduler_running(self) -> bool:
        return self.scheduler is not None and self.scheduler.poll() is None

    def start_scheduler(self, stop: threading.Event) -> tuple[subprocess.Popen, str]:
        """Start the scheduler and wait, at most `start_seconds`, for its address; returns the
        process and its address, for the engine to swap in (`adopt`). Raises RuntimeError."""
        from distributed.security import Security

        if self._tls_folder is None:  # One certificate for this cluster's life: its workers
            # started later, and a scheduler started again after a crash, share it.
            self._tls_folder = tempfile.TemporaryDirectory(prefix="autoencoder-lab-dask-")
            self._tls_environment = certificates(Path(self._tls_folder.name))
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
                # One run per worker thread, the rest queued on the scheduler in order
                # (core.cluster.submission.queue_task).
                "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = first_line(process, self.start_seconds, stop)  # Its address, once it listens.
        if line is None or not line.startswith("tls://"):
            process.kill()
            process.wait(timeout=10)  # Killed: it goes at once (and is reaped, not a zombie).
            process.stdout.close()
            if line is None:
                raise RuntimeError(
                    "the engine is shutting down"
                    if stop.is_set()
                    else f"the scheduler did not start within {self.start_seconds:.0f} s"
                )
            said = line.strip() or f"no output, exit code {process.returncode}"
            raise RuntimeError(f"the scheduler did not start ({said})")
        return process, line.strip()

    def adopt(self, process: subprocess.Popen, address: str) -> None:
        """Use the scheduler `start_scheduler` started; end the workers of the one before
        (workers of a scheduler that died are useless)."""
        self.scheduler, self.address = process, address
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        self.workers.clear()

    def scale(self, wanted: int) -> None:
        """Start workers until `wanted` run (the engine counts the work: runs and calls)."""
        if self.address is None:
            return
        self.workers = [process for process in self.workers if process.poll() is None]
        for _ in range(wanted - len(self.workers)):
            self.workers.append(self._spawn_worker())

    def _spawn_worker(self) -> subprocess.Popen:
        environment = tasks.worker_environment(self.database_url, self.idle_seconds / 60)
        environment.update(quiet_dask_environment())
        environment.update(self._tls_environment)
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

    def shutdown(self) -> None:
        """End every process (runs in training end as interrupted: their workers see the app
        is gone) and delete the certificate, of no use to anyone now."""
        end([*self.workers, self.scheduler])
        self.workers.clear()
        self.scheduler = None
        if self._tls_folder is not None:
            self._tls_folder.cleanup()
            self._tls_folder = None
