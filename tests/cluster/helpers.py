"""What the cluster tests share: asking a Dask server who it is over a given certificate, and
starting a scheduler and a training worker by hand, as docs/DEPLOY.md does."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.servers import ROOT, free_port


def identity(address: str, security) -> dict:
    """Ask a Dask server (scheduler or worker) who it is, over `address` with `security`'s
    client certificate: any peer that is let in can also ask it to run code."""
    from distributed.core import rpc

    async def ask():
        async with rpc(
            address, timeout=5, connection_args=security.get_connection_args("client")
        ) as remote:
            return await remote.identity()

    # In a thread of its own: a test before this one (Playwright's sync API) may have left an
    # event loop running in this thread, where asyncio.run refuses to start.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, ask()).result()


def listens(port: int) -> bool:
    """Whether something accepts connections on the loopback `port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def worker_pid(engine, address: str) -> int:
    return engine.client.run(os.getpid, workers=[address])[address]


def until(condition, seconds: float, message: str = "timed out") -> None:
    """Poll `condition` (a process's state, a port) until it holds, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message() if callable(message) else message
        time.sleep(0.1)


def dask_scheduler(
    port: int | None = None, tls: dict[str, str] | None = None, environment: dict | None = None
) -> tuple[subprocess.Popen, str]:
    """`dask scheduler` as docs/DEPLOY.md starts it (the checkout on PYTHONPATH, worker-saturation
    1.0), over TLS with `tls`'s files (`deploy.certs`) or plain tcp; returns the process and its
    address once it listens."""
    port = port or free_port()
    command = [f"{os.path.dirname(sys.executable)}/dask", "scheduler", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-dashboard"]
    if tls:
        command += ["--protocol", "tls", "--tls-ca-file", tls["AE_DASK_TLS_CA_FILE"]]
        command += ["--tls-cert", tls["AE_DASK_TLS_CERT"], "--tls-key", tls["AE_DASK_TLS_KEY"]]
    settings = {
        "PYTHONPATH": str(ROOT),
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
        **(environment or {}),
    }
    process = subprocess.Popen(
        command, cwd="/", env={**os.environ, **settings}, stderr=subprocess.DEVNULL
    )
    # The engine's first attempt waits CONNECT_SECONDS; Dask's command may take longer to
    # import on a busy machine, so tests connect once the scheduler listens.
    until(lambda: listens(port) or process.poll() is not None, 60, "no scheduler")
    assert process.poll() is None, "the scheduler exited"
    return process, f"{'tls' if tls else 'tcp'}://127.0.0.1:{port}"


def training_worker(address: str, database_url: str, log: Path, tls: dict | None = None):
    """`python -m core.worker ADDRESS` started by hand, with the store's URL (and `tls`'s
    certificate), its output in `log`."""
    environment = {**os.environ, "AE_DATABASE_URL": database_url, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.update(tls or {})
    return subprocess.Popen(
        [sys.executable, "-m", "core.cluster.worker", address],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def end(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
