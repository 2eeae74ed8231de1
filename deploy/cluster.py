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
2. A Dask scheduler (`dask scheduler`), the runs' queue, on `tls://` only: a CA made for this
   cluster (`deploy.certs`, in the state folder's `tls/`, its key never written) signs one
   certificate per part, and every part refuses a peer without one (a Dask scheduler or worker
   runs whatever function a connected peer sends it).
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
system-wide.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.cluster.tasks import RESOURCE
from deploy import certs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE = ROOT / ".cluster"
HOST = "127.0.0.1"
DATABASE = "lab"
DB_USER = "lab"
# The order `down` stops things in: the front first, the database last.
STOP_ORDER = ("haproxy", "app", "worker", "scheduler")
READY_SECONDS = 180.0  # Workers load TensorFlow and the images before joining (~10 s each).


class ClusterError(RuntimeError):
    """Something did not come up (the message says what, with the end of its log)."""


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


@dataclass
class Part:
    """One process of the topology and how to start it again."""

    name: str
    kind: str  # haproxy | app | worker | scheduler
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    address: str = ""
    pid: int | None = None


@dataclass
class Postgres:
    bin: str
    base: str  # Holds the data folder, its socket and its log; removed by `down`.
    port: int
    password: str
    as_user: list[str]  # ["runuser", "-u", "postgres", "--"] when we are root.

    @property
    def data(self) -> str:
        return str(Path(self.base) / "data")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{DB_USER}:{self.password}@{HOST}:{self.port}/{DATABASE}"

    @property
    def shown_url(self) -> str:
        from sqlalchemy.engine import make_url  # As the store shows its URL: no password.

        return make_url(self.url).render_as_string(hide_password=True)

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, f"{self.bin}/pg_ctl", "-D", self.data, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )


def postgres_bin() -> str:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise ClusterError(
            "PostgreSQL's server is not installed (Debian: apt-get install postgresql; "
            "`make cluster` runs scripts/ensure-postgresql)"
        )
    return str(versions[-1].parent)


def haproxy_bin() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if not found:
        raise ClusterError(
            "HAProxy is not installed (Debian: apt-get install haproxy; `make cluster` runs "
            "scripts/ensure-haproxy)"
        )
    return found


HAPROXY_CONFIG = """\
# Written by `python -m deploy.cluster up`; docs/DEPLOY.md explains every line.
global
  stats socket {socket} mode 600 level admin
  log stderr format raw local0 notice

defaults
  mode http
  log global
  timeout connect 5s
  # A student's page holds one websocket for the whole lesson.
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout check 2s
  # A request whose server is down goes to another one (the page reconnects there).
  option redispatch
  retries 3

frontend lab
  bind {host}:{port}
  default_backend app_servers

backend app_servers
  # Sessions are websockets that last: a new one goes to the server with the fewest.
  balance leastconn
  # Sticky sessions: a Streamlit session lives in one server (websocket, uploads, media).
  cookie LABSRV insert indirect nocache httponly
  option httpchk GET /_stcore/health
  http-check expect string ok
  default-server inter 1s fall 2 rise 2
{servers}
"""


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
        if not 1 <= servers <= 26 or not 1 <= workers <= 64:
            raise ClusterError("servers: 1 to 26, workers: 1 to 64")
        port = port or free_port()
        if not port_free(port):
            raise ClusterError(f"port {port} is taken: choose another (make cluster PORT=...)")
        haproxy = haproxy_bin()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.parts = {}
        try:
            self._start_postgres()
            self._migrate()
            # Every certificate now, and no CA key kept: nothing else can ever join.
            shutil.rmtree(self.tls, ignore_errors=True)
            certs.create(
                self.tls,
                [
                    "scheduler",
                    "client",
                    *(f"worker-{index}" for index in range(1, workers + 1)),
                    *(f"app-{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"[:servers]),
                ],
                keep_ca_key=False,
            )
            scheduler_port = free_port()
            scheduler_tls = self.tls_environment("scheduler")
            self._add(
                Part(
                    "scheduler",
                    "scheduler",
                    [
                        str(Path(sys.executable).parent / "dask"),
                        "scheduler",
                        "--protocol",
                        "tls",
                        "--host",
                        HOST,
                        "--port",
                        str(scheduler_port),
                        "--tls-ca-file",
                        scheduler_tls["AE_DASK_TLS_CA_FILE"],
                        "--tls-cert",
                        scheduler_tls["AE_DASK_TLS_CERT"],
                        "--tls-key",
                        scheduler_tls["AE_DASK_TLS_KEY"],
                        "--dashboard-address",
                        f"{HOST}:{free_port()}",
                    ],
                    # One run per worker thread, the rest queued on the scheduler in order.
                    {"DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"},
                    address=f"tls://{HOST}:{scheduler_port}",
                )
            )
            wait_for(
                lambda: listens(HOST, scheduler_port),
                self.parts["scheduler"],
                self.logs,
                f"does not listen on {HOST}:{scheduler_port}",
            )
            for index in range(1, workers + 1):
                self._add(
                    Part(
                        f"worker-{index}",
                        "worker",
                        [
                            sys.executable,
                            "-m",
                            "core.cluster.worker",
                            self.scheduler_address,
                            "--name",
                            f"worker-{index}",
                            "--host",
                            HOST,
                        ],
                        {
                            "AE_DATABASE_URL": self.database_url,
                            "TF_CPP_MIN_LOG_LEVEL": "2",
                            **self.tls_environment(f"worker-{index}"),
                        },
                    )
                )
            cookie_secret = secrets.token_urlsafe(32)
            for index in range(servers):
                letter = "abcdefghijklmnopqrstuvwxyz"[index]
                app_port = free_port()
                self._add(
                    Part(
                        f"app-{letter}",
                        "app",
                        [
                            sys.executable,
                            "-m",
                            "streamlit",
                            "run",
                            "app.py",
                            "--server.address",
                            HOST,
                            "--server.port",
                            str(app_port),
                        ],
                        {
                            "AE_DATABASE_URL": self.database_url,
                            "AE_DASK_SCHEDULER": self.scheduler_address,
                            **self.tls_environment(f"app-{letter}"),
                            # Every server must read a cookie another one wrote.
                            "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret,
                        },
                        address=f"http://{HOST}:{app_port}",
                    )
                )
            for part in self.named("app"):
                wait_http(part.address + "/_stcore/health", part, self.logs)
            self._wait_workers()
            config = self.state / "haproxy.cfg"
            config.write_text(
                HAPROXY_CONFIG.format(
                    socket=self.state / "haproxy.sock",
                    host=host,
                    port=port,
                    servers="\n".join(
                        f"  server {part.name} {part.address.removeprefix('http://')} check "
                        f"cookie {part.name.removeprefix('app-')}"
                        for part in self.named("app")
                    ),
                )
            )
            checked = subprocess.run(
                [haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True
            )
            if checked.returncode:
                raise ClusterError(f"HAProxy refused its configuration: {checked.stderr}")
            shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
            self._add(
                Part(
                    "haproxy",
                    "haproxy",
                    [haproxy, "-f", str(config), "-db"],
                    {},
                    address=f"http://{shown}:{port}",
                )
            )
            self.url = self.parts["haproxy"].address
            self.save()
            self._wait_proxy()
        except BaseException:
            self.down(quiet=True)
            raise
        return self.url

    def _add(self, part: Part) -> None:
        self.parts[part.name] = part
        self._spawn(part)
        self.save()

    def _spawn(self, part: Part) -> None:
        log = open(self.logs / f"{part.name}.log", "a")  # noqa: SIM115 - the child owns it.
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

    def _start_postgres(self) -> None:
        binaries = postgres_bin()
        root = os.geteuid() == 0
        # initdb refuses to run as root: the server runs as Debian's `postgres` user then, in a
        # folder that user owns (under /tmp: the checkout may not be readable by it).
        base = Path(tempfile.mkdtemp(prefix="autoencoder-lab-pg-"))
        as_user = ["runuser", "-u", "postgres", "--"] if root else []
        self.postgres = postgres = Postgres(
            binaries, str(base), free_port(), secrets.token_urlsafe(24), as_user
        )
        self.save()
        password_file = base / "password"
        password_file.write_text(postgres.password + "\n")
        if root:
            shutil.chown(base, "postgres", "postgres")
            shutil.chown(password_file, "postgres", "postgres")
        base.chmod(0o700)
        password_file.chmod(0o600)
        initialised = subprocess.run(
            [
                *as_user,
                f"{binaries}/initdb",
                "-D",
                postgres.data,
                "-U",
                DB_USER,
                "--pwfile",
                str(password_file),
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "-E",
                "UTF8",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        password_file.unlink()
        if initialised.returncode:
            raise ClusterError(f"initdb failed: {initialised.stderr.strip()}")
        log = base / "postgresql.log"
        started = postgres.pg_ctl(
            "-l",
            str(log),
            "-w",
            "-o",
            f"-p {postgres.port} -c listen_addresses={HOST} -c unix_socket_directories={base}",
            "start",
        )
        with contextlib.suppress(OSError):
            (self.logs / "postgresql.log").unlink(missing_ok=True)
            (self.logs / "postgresql.log").symlink_to(log)
        if started.returncode:
            raise ClusterError(f"PostgreSQL did not start: {started.stderr.strip()}\n{tail(log)}")
        import psycopg

        with psycopg.connect(
            host=HOST,
            port=postgres.port,
            user=DB_USER,
            password=postgres.password,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")

    def _migrate(self) -> None:
        """The schema, once, before anyone opens the store (in this process: the store's
        code loads no Keras)."""
        from core.store import Store, StoreError

        try:
            Store(self.database_url).engine.dispose()
        except StoreError as error:
            raise ClusterError(f"creating the store's schema failed: {error}") from error

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
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(5)
            connection.connect(str(self.state / "haproxy.sock"))
            connection.sendall(b"show stat\n")
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
        lines = data.decode().lstrip("# ").splitlines()
        header = lines[0].split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {
            row["svname"]: {"status": row["status"], "current": row["scur"], "total": row["stot"]}
            for row in rows
            if row.get("pxname") == "app_servers" and row["svname"] not in {"BACKEND", "FRONTEND"}
        }

    def stop(self, name: str, kill: bool = False) -> None:
        part = self._part(name)
        stop_process(part.pid, signal.SIGKILL if kill else signal.SIGTERM)
        self.save()

    def start(self, name: str) -> None:
        """Start a stopped part again with its command, port and environment."""
        part = self._part(name)
        if alive(part.pid):
            raise ClusterError(f"{name} is running already (pid {part.pid})")
        self._spawn(part)
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
            pid = postmaster_pid(self.postgres)
            rows.append(
                {
                    "name": "postgresql",
                    "pid": pid,
                    "address": self.postgres.shown_url,
                    **usage(pid, children=True),
                }
            )
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
            postgres = self.postgres
            if Path(postgres.data).exists():
                stopped = postgres.pg_ctl("-m", "fast", "-w", "stop")
                if stopped.returncode and not quiet and "not running" not in stopped.stderr:
                    print(f"pg_ctl stop: {stopped.stderr.strip()}", file=sys.stderr)
            shutil.rmtree(postgres.base, ignore_errors=True)
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


def postmaster_pid(postgres: Postgres) -> int | None:
    try:
        return int((Path(postgres.data) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


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
