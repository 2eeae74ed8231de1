"""The supervisor's tools for `deploy.cluster`: a part of the topology (one process and how to
start it again), starting it in its own process group with its log, stopping it, and what it
uses (from /proc: Linux, like the rest of `make cluster`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


class ClusterError(RuntimeError):
    """Something did not come up (the message says what, with the end of its log)."""


@dataclass
class Part:
    """One process of the topology and how to start it again."""

    name: str
    kind: str  # haproxy | app | worker | scheduler
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    address: str = ""
    pid: int | None = None


def spawn(part: Part, logs: Path) -> None:
    """Start `part`'s command with its environment, its output appended to its log."""
    log = open(logs / f"{part.name}.log", "a")  # noqa: SIM115 - the child owns it.
    with log:
        process = subprocess.Popen(
            part.command,
            cwd=ROOT,
            env={**os.environ, "DASK_LOGGING__DISTRIBUTED": "warning", **part.environment},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: it outlives this command, and `stop` ends all of it.
            start_new_session=True,
        )
    part.pid = process.pid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # A zombie has exited; only its parent has not reaped it yet.


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(pid: int | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Send `sig` to the process's group and wait for it to exit (SIGKILL after `timeout`)."""
    if not alive(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # Reap it if it is our own child (tests, `start`).
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def usage(pid: int | None, children: bool = False) -> dict:
    """Resident MB and CPU seconds of a process (with its direct children: PostgreSQL's
    backends, HAProxy's worker), from /proc."""
    pids = [pid] if alive(pid) else []
    if pids and children:
        kids = Path(f"/proc/{pid}/task/{pid}/children")
        with contextlib.suppress(OSError):
            pids += [int(kid) for kid in kids.read_text().split()]
    rss = cpu = 0.0
    for each in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return {"alive": bool(pids), "rss_mb": rss, "cpu_seconds": cpu}


def listens(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def healthy(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status == 200
    return False


def wait_for(ready, part: Part, logs: Path, what: str, timeout: float = 120.0) -> None:
    """Until `ready()`; a part that exits meanwhile is reported with the end of its log."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive(part.pid):
            raise ClusterError(f"{part.name} exited:\n{tail(logs / f'{part.name}.log')}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{part.name} {what} after {timeout:.0f} s")
        time.sleep(0.25)


def wait_http(url: str, part: Part, logs: Path) -> None:
    wait_for(lambda: healthy(url), part, logs, f"does not answer {url}")
