"""The throwaway PostgreSQL of `deploy.cluster`: Debian's server binaries, a cluster made with
`initdb` in a temporary folder, on a free loopback port, with a random password; the store's
schema is created in this process (the store's code loads no Keras) before anyone opens it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import HOST, ClusterError, free_port, tail

DATABASE = "lab"
DB_USER = "lab"


@dataclass
class Postgres:
    bin: str
    base: str  # Holds the data folder, its socket and its log; removed by `drop`.
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

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while it runs."""
        try:
            return int((Path(self.data) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, f"{self.bin}/pg_ctl", "-D", self.data, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def drop(self, quiet: bool = False) -> None:
        """Stop the server and delete its folder, data included."""
        if Path(self.data).exists():
            stopped = self.pg_ctl("-m", "fast", "-w", "stop")
            if stopped.returncode and not quiet and "not running" not in stopped.stderr:
                print(f"pg_ctl stop: {stopped.stderr.strip()}", file=sys.stderr)
        shutil.rmtree(self.base, ignore_errors=True)


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


def make() -> Postgres:
    """A new server's settings: its folder, a free port and a password (nothing runs yet; the
    caller saves them first, so `down` can drop whatever `start` leaves)."""
    root = os.geteuid() == 0
    # initdb refuses to run as root: the server runs as Debian's `postgres` user then, in a
    # folder that user owns (under /tmp: the checkout may not be readable by it).
    base = Path(tempfile.mkdtemp(prefix="autoencoder-lab-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if root else []
    return Postgres(postgres_bin(), str(base), free_port(), secrets.token_urlsafe(24), as_user)


def start(postgres: Postgres, logs: Path) -> None:
    """initdb, start the server (its log linked into `logs`) and create the lab's database."""
    base = Path(postgres.base)
    password_file = base / "password"
    password_file.write_text(postgres.password + "\n")
    if postgres.as_user:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    base.chmod(0o700)
    password_file.chmod(0o600)
    initialised = subprocess.run(
        [
            *postgres.as_user,
            f"{postgres.bin}/initdb",
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
        (logs / "postgresql.log").unlink(missing_ok=True)
        (logs / "postgresql.log").symlink_to(log)
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


def migrate(url: str) -> None:
    """The schema, once, before anyone opens the store (in this process: the store's code
    loads no Keras)."""
    from core.store import Store, StoreError

    try:
        Store(url).engine.dispose()
    except StoreError as error:
        raise ClusterError(f"creating the store's schema failed: {error}") from error
