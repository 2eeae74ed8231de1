"""The lab's whole multi-server topology on one machine, for trying it and for tests.

    python -m deploy.cluster up [--port 8600]   # = make cluster
    python -m deploy.cluster status             # every process: pid, address, memory, CPU
    python -m deploy.cluster stop app-a         # stop one part (failover drills), --kill: SIGKILL
    python -m deploy.cluster start app-a        # start it again, same command and port
    python -m deploy.cluster down               # = make cluster-down: stops all, drops the data

What `up` starts, each as its own process, in this order (docs/DEPLOY.md runs the same commands
on several machines):

1. PostgreSQL (Debian's server binaries): a throwaway cluster made with `initdb`, on a free
   loopback port, with a password; the store's schema is created once (`python -m core.store`)
   before any app server or worker opens it.
2. A Dask scheduler (`dask scheduler`, with the checkout on its `PYTHONPATH`: it reads the
   lab's tasks), the runs' queue, on `tls://` only: a CA made for this cluster (`deploy.certs`,
   in the state folder's `tls/`, its key never written) signs one certificate per part, and
   every part refuses a peer without one (a Dask scheduler or worker runs whatever function a
   connected peer sends it).
3. Training workers (`python -m core.worker`), each one run at a time, on that scheduler, each
   with its certificate (`AE_DASK_TLS_*`).
4. App servers (`streamlit run app.py`) on their own ports, all on the same database and
   scheduler (with their certificates) and with one cookie secret.
5. HAProxy in front, on `--port`: sticky sessions by cookie (a Streamlit session lives in one
   server: its websocket, uploads and media), health checks on `/_stcore/health`, and
   redispatch, so the pages of a server that stops reconnect to another one.

It returns once everything is healthy (PostgreSQL answers, every worker has joined the
scheduler, every app server answers its health check, HAProxy sees them all up), printing a
summary whose last line is `cluster ready: URL`. State (pids, ports, commands) and logs live in
the state folder (`.cluster/`, or `--state` / `AE_CLUSTER_DIR`); nothing is configured
system-wide. The parts are in `deploy.processes` (the supervisor's tools), `deploy.postgres`
and `deploy.haproxy` (with its configuration, `haproxy.cfg.template`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

from core.cluster.tasks import RESOURCE
from deploy import certs, haproxy, parts, postgres
from deploy.postgres import Postgres
from deploy.processes import (
    HOST,
    ROOT,
    ClusterError,
    Part,
    alive,
    free_port,
    listens,
    port_free,
    spawn,
    stop_process,
    tail,
    usage,
    wait_for,
    wait_http,
)

# What bench.chaos and the tests import from here.
__all__ = ["HOST", "Cluster", "ClusterError", "alive", "listens", "main", "training_workers"]

DEFAULT_STATE = ROOT / ".cluster"
# The order `down` stops things in: the front first, the database last.
STOP_ORDER = ("haproxy", "app", "worker", "scheduler")
READY_SECONDS = 180.0  # Workers load TensorFlow and the images before joining (~10 s each).
LETTERS = "abcdefghijklmnopqrstuvwxyz"  # App servers' names: app-a, app-b, ...


class Cluster:
    """The topology's state folder: what runs, where, and how to start each part again."""

    def __init__(self, state: Path | str | None = None):
        self.state = Path(state or os.environ.get("AE_CLUSTER_DIR") or DEFAULT_STATE)
        self.logs = self.state / "logs"
        self.parts: dict[str, Part] = {}
        self.postgres: Postgres | None = None
        self.url = ""
        self.load()

    # State -----------------------------------------------------------------------------------

    @property
    def file(self) -> Path:
        return self.state / "state.json"

    def load(self) -> None:
        if not self.file.exists():
            return
        saved = json.loads(self.file.read_text())
        self.parts = {name: Part(**part) for name, part in saved["parts"].items()}
        self.postgres = Postgres(**saved["postgres"]) if saved.get("postgres") else None
        self.url = saved.get("url", "")

    def save(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        saved = {
            "url": self.url,
            "postgres": asdict(self.postgres) if self.postgres else None,
            "parts": {name: asdict(part) for name, part in self.parts.items()},
        }
        self.file.write_text(json.dumps(saved, indent=1))
        self.file.chmod(0o600)  # It holds the database password.

    @property
    def running(self) -> bool:
        return any(alive(part.pid) for part in self.parts.values()) or self.postgres is not None

    def named(self, kind: str) -> list[Part]:
        return [part for part in self.parts.values() if part.kind == kind]

    @property
    def database_url(self) -> str:
        return self.postgres.url if self.postgres else ""

    @property
    def scheduler_address(self) -> str:
        return self.parts["scheduler"].address

    @property
    def tls(self) -> Path:
        """The cluster's CA and its parts' certificates (`deploy.certs`)."""
        return self.state / "tls"

    def tls_environment(self, name: str) -> dict[str, str]:
        """The `AE_DASK_TLS_*` variables that give the part `name` its certificate."""
        return {
            "AE_DASK_TLS_CA_FILE": str(self.tls / certs.CA_FILE),
            "AE_DASK_TLS_CERT": str(self.tls / f"{name}.pem"),
            "AE_DASK_TLS_KEY": str(self.tls / f"{name}-key.pem"),
        }

    def security(self):
        """A Dask `Security` for a client of this cluster from outside it (this command, tests,
        benchmarks): its own certificate ("client"), signed by the cluster's CA."""
        from distributed.security import Security

        files = self.tls_environment("client")
        return Security(
            require_encryption=True,
            tls_ca_file=files["AE_DASK_TLS_CA_FILE"],
            tls_client_cert=files["AE_DASK_TLS_CERT"],
            tls_client_key=files["AE_DASK_TLS_KEY"],
        )

    # Bringing it up --------------------------------------------------------------------------

    def up(self, port: int = 8600, servers: int = 2, workers: int = 2, host: str = HOST) -> str:
        """Start everything and wait until it is healthy; returns the proxy's URL."""
        if self.running:
            raise ClusterError(
                f"a cluster is already running from {self.state} ({self.url or 'starting'}); "
                "stop it first: make cluster-down"
            )
        if not 1 <= servers <= len(LETTERS) or not 1 <= workers <= 64:
            raise ClusterError("servers: 1 to 26, workers: 1 to 64")
        port = port or free_port()
        if not port_free(port):
            raise ClusterError(f"port {port} is taken: choose another (make cluster PORT=...)")
        binary = haproxy.haproxy_bin()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.parts = {}
        try:
            self.postgres = postgres.make()
            self.save()  # First: `down` drops whatever `start` leaves.
            postgres.start(self.postgres, self.logs)
            postgres.migrate(self.database_url)
            apps = [f"app-{letter}" for letter in LETTERS[:servers]]
            # Every certificate now, and no CA key kept: nothing else can ever join.
            shutil.rmtree(self.tls, ignore_errors=True)
            trainers = [f"worker-{index}" for index in range(1, workers + 1)]
            certs.create(self.tls, ["scheduler", "client", *trainers, *apps], keep_ca_key=False)
            self._add_scheduler()
            for name in trainers:
                tls = self.tls_environment(name)
                self._add(parts.worker(name, self.scheduler_address, self.database_url, tls))
            cookie_secret = secrets.token_urlsafe(32)
            for name in apps:
                tls = self.tls_environment(name)
                address, database = self.scheduler_address, self.database_url
                self._add(parts.app(name, free_port(), address, database, tls, cookie_secret))
            for part in self.named("app"):
                wait_http(part.address + "/_stcore/health", part, self.logs)
            self._wait_workers()
            config = self.state / "haproxy.cfg"
            haproxy.write_config(
                config, binary, self.state / "haproxy.sock", host, port, self.named("app")
            )
            shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
            front = Part("haproxy", "haproxy", [binary, "-f", str(config), "-db"])
            front.address = f"http://{shown}:{port}"
            self._add(front)
            self.url = front.address
            self.save()
            self._wait_proxy()
        except BaseException:
            self.down(quiet=True)
            raise
        return self.url

    def _add_scheduler(self) -> None:
        part = parts.scheduler(free_port(), free_port(), self.tls_environment("scheduler"))
        self._add(part)
        port = int(part.address.rpartition(":")[2])
        wait_for(lambda: listens(HOST, port), part, self.logs, f"does not listen on {HOST}:{port}")

    def _add(self, part: Part) -> None:
        self.parts[part.name] = part
        spawn(part, self.logs)
        self.save()

    def _wait_workers(self) -> None:
        """Until every running worker part has joined the scheduler (they load TensorFlow and
        the training images first)."""
        from distributed import Client

        wanted = [part for part in self.named("worker") if alive(part.pid)]
        deadline = time.monotonic() + READY_SECONDS
        with Client(
            self.scheduler_address, security=self.security(), timeout=10, set_as_default=False
        ) as client:
            while True:
                joined = set(training_workers(client).values())
                if {part.name for part in wanted} <= joined:
                    return
                for part in wanted:
                    if not alive(part.pid):
                        raise ClusterError(
                            f"{part.name} exited:\n{tail(self.logs / f'{part.name}.log')}"
                        )
                if time.monotonic() > deadline:
                    missing = sorted({part.name for part in wanted} - joined)
                    raise ClusterError(f"{', '.join(missing)} did not join the scheduler in time")
                time.sleep(0.5)

    def _wait_proxy(self) -> None:
        deadline = time.monotonic() + 30
        part = self.parts["haproxy"]
        while True:
            if not alive(part.pid):
                raise ClusterError(f"HAProxy exited:\n{tail(self.logs / 'haproxy.log')}")
            with contextlib.suppress(OSError):
                servers = self.proxy_servers()
                if servers and all(s["status"] == "UP" for s in servers.values()):
                    break
            if time.monotonic() > deadline:
                raise ClusterError("HAProxy did not see the app servers up in 30 s")
            time.sleep(0.3)
        wait_http(self.url + "/_stcore/health", part, self.logs)

    # While it runs ---------------------------------------------------------------------------

    def proxy_servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's view of each app server: status (UP/DOWN), current and total sessions."""
        return haproxy.servers(self.state / "haproxy.sock")

    def stop(self, name: str, kill: bool = False) -> None:
        part = self._part(name)
        stop_process(part.pid, signal.SIGKILL if kill else signal.SIGTERM)
        self.save()

    def start(self, name: str) -> None:
        """Start a stopped part again with its command, port and environment."""
        part = self._part(name)
        if alive(part.pid):
            raise ClusterError(f"{name} is running already (pid {part.pid})")
        spawn(part, self.logs)
        self.save()
        if part.kind == "app":
            wait_http(part.address + "/_stcore/health", part, self.logs)
        elif part.kind == "worker":
            self._wait_workers()

    def _part(self, name: str) -> Part:
        if name not in self.parts:
            raise ClusterError(f"no part named {name!r}: {', '.join(self.parts) or 'none'}")
        return self.parts[name]

    def status(self) -> list[dict]:
        """Every process: its pid, address, state, resident memory (MB) and CPU seconds."""
        rows = []
        if self.postgres:
            pid = self.postgres.pid
            shown = self.postgres.shown_url
            rows.append({"name": "postgresql", "pid": pid, "address": shown, **usage(pid, True)})
        for part in self.parts.values():
            rows.append(
                {
                    "name": part.name,
                    "pid": part.pid,
                    "address": part.address,
                    **usage(part.pid, children=part.kind == "haproxy"),
                }
            )
        return rows

    def summary(self) -> str:
        lines = []
        for row in self.status():
            state = f"{row['rss_mb']:.0f} MB" if row["alive"] else "STOPPED"
            lines.append(f"  {row['name']:<11} pid {row['pid']!s:<8} {state:<8} {row['address']}")
        lines.append(f"  logs: {self.logs}/")
        return "\n".join(lines)

    # Bringing it down ------------------------------------------------------------------------

    def down(self, quiet: bool = False) -> None:
        """Stop every part (the front first) and drop the database with its data."""
        for kind in STOP_ORDER:
            for part in self.named(kind):
                stop_process(part.pid, signal.SIGTERM)
        if self.postgres:
            self.postgres.drop(quiet)
        shutil.rmtree(self.tls, ignore_errors=True)  # The parts' keys: of no use any more.
        self.parts, self.postgres, self.url = {}, None, ""
        with contextlib.suppress(FileNotFoundError):
            self.file.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.state / "haproxy.sock").unlink()


def training_workers(client) -> dict[str, str]:
    """Address -> name of the scheduler's training workers."""
    info = client.scheduler_info(n_workers=-1)
    return {
        address: worker.get("name", "")
        for address, worker in info.get("workers", {}).items()
        if RESOURCE in (worker.get("resources") or {})
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "stop", "start"])
    parser.add_argument("name", nargs="?", help="the part to stop or start, e.g. app-a, worker-2")
    parser.add_argument("--state", help="the state folder (default .cluster, or AE_CLUSTER_DIR)")
    parser.add_argument("--port", type=int, default=8600, help="HAProxy's port (0: any free)")
    parser.add_argument("--host", default=HOST, help="HAProxy's address (0.0.0.0: the LAN)")
    parser.add_argument("--servers", type=int, default=2, help="app servers (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="training workers (default 2)")
    parser.add_argument("--kill", action="store_true", help="stop with SIGKILL (a crash)")
    args = parser.parse_args(argv)
    cluster = Cluster(args.state)
    try:
        if args.command == "up":
            started = time.monotonic()
            url = cluster.up(args.port, args.servers, args.workers, args.host)
            print(cluster.summary())
            print(f"  took {time.monotonic() - started:.0f} s; stop it with: make cluster-down")
            print(f"cluster ready: {url}")
        elif args.command == "down":
            if not cluster.running:
                print(f"no cluster is running from {cluster.state}")
                return 0
            cluster.down()
            print("cluster stopped; its database is dropped")
        elif args.command == "status":
            if not cluster.running:
                print(f"no cluster is running from {cluster.state}")
                return 1
            print(cluster.summary())
            print(f"proxy: {cluster.url}")
        else:
            if not args.name:
                parser.error(f"{args.command} needs the name of a part")
            if args.command == "stop":
                cluster.stop(args.name, kill=args.kill)
            else:
                cluster.start(args.name)
            print(cluster.summary())
    except ClusterError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
