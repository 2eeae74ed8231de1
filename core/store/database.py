"""The database under the store: where it is, its engine, its schema's migrations, and the three
ways every part of the store talks to it (`Database.transaction`, `.rows`, `.write`), which
turn a database error into the StoreError the pages act on (`failure`).

SQLite in the user data folder by default (WAL mode, so the training process writes while the
server reads), or any SQLAlchemy URL in `AE_DATABASE_URL` (PostgreSQL through psycopg 3).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.config import default_data_dir, settings
from core.store.errors import Conflict, StoreError, StoreUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: the PostgreSQL advisory lock held while migrating (see `migrate`).
MIGRATION_LOCK = 0x4145_4C41_4230_3031


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the default SQLite file lives: `AE_DATA_DIR`, else the user data folder."""
    found = settings(environ).data_dir
    return Path(found) if found else default_data_dir()


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The store's URL from the lab's settings (`core.config`): `AE_DATABASE_URL`, else an
    SQLite file `runs.sqlite` in `data_dir()`."""
    return settings(environ).store_url


class Database:
    """An open database, migrated to the newest schema. The base of every part of
    `core.store.Store`: a part reads and writes only through `transaction`, `rows` and
    `write`, so every database error reaches the caller as a StoreError of the right kind."""

    def __init__(self, url: str | None = None, *, migrate: bool = True):
        self.url = url or database_url()
        self.statements = 0  # SQL statements sent, for `make soak` (see AE_STORE_STATS).
        try:
            self.engine = open_engine(self.url)
            sa.event.listen(self.engine, "before_cursor_execute", self._counted)
            if settings().store_stats:
                report_statements(self, Path(settings().store_stats))
            if migrate:
                self.migrate()
            else:
                with self.engine.connect() as connection:
                    connection.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as error:
            raise StoreUnavailable(describe(error, self.url)) from error
        except OSError as error:  # E.g. the data folder cannot be created.
            raise StoreUnavailable(f"{self.display_url}: {error}") from error

    def _counted(self, *_args) -> None:
        self.statements += 1

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Bring the schema up to the newest migration (creating it on a new database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several app servers and workers may open a new database at once: one migrates
                # while the others wait here, then find the schema at head. The lock ends with
                # the transaction (PostgreSQL's DDL is transactional).
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            # A write that changes nothing: a store that cannot be written (a read-only file
            # or user) is found when the server opens it, not at a student's first Train
            # (page views write nothing since students are made on demand).
            connection.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction, committed when the block ends and rolled back if it
        raises; database errors come out as StoreError (see `failure` for which kind)."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.SQLAlchemyError as error:
            raise failure(error, self.url) from error

    def write(self, statement) -> tuple[int, int | None]:
        """Execute one write in its own transaction: (rows changed, new primary key or None)."""
        with self.transaction() as connection:
            result = connection.execute(statement)
            key = result.inserted_primary_key if statement.is_insert else None
            return result.rowcount, (int(key[0]) if key else None)

    def rows(self, statement) -> list[sa.Row]:
        """The rows of one query (outside any transaction of the caller's)."""
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(statement))
        except sa.exc.SQLAlchemyError as error:
            raise failure(error, self.url) from error

    def scalar(self, statement):
        """The first column of a query's first row (a count, a sum)."""
        return self.rows(statement)[0][0]


def open_engine(url: str) -> sa.Engine:
    """The SQLAlchemy engine for `url`: SQLite in WAL mode with its folder made, or a server
    database whose connections are checked before use."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not parsed.query.get("uri"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 15})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            cursor = connection.cursor()
            # WAL: readers never block the writer (server pages read while a worker writes).
            # It fails on a read-only database, which the first write reports clearly.
            with contextlib.suppress(Exception):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # Safe with WAL, fewer fsyncs.
            cursor.close()

        return engine
    # pool_pre_ping: a PostgreSQL server restarted mid-lesson costs one reconnect, not an error.
    return sa.create_engine(url, pool_pre_ping=True, connect_args=_connect_args(parsed))


def _connect_args(parsed) -> dict:
    if parsed.get_backend_name() == "postgresql":
        return {"connect_timeout": 5}  # An unreachable server fails in seconds, not minutes.
    return {}


def failure(error: sa.exc.SQLAlchemyError, url: str) -> StoreError:
    """The StoreError for a database error, of the kind the pages act on: a broken constraint
    (two writers raced) is a Conflict for the caller to explain; a lost or refused connection,
    or a file that cannot be read or written, is StoreUnavailable (training goes off for the
    server until it is back); anything else is a StoreError for the one action that met it.
    SQLite's "database is locked" is a wait that ran out, not a store that is gone."""
    message = describe(error, url)
    if isinstance(error, sa.exc.IntegrityError):
        return Conflict(message)
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return StoreUnavailable(message)
    if url.startswith("sqlite"):
        # SQLite reports nearly everything as OperationalError ("no such table" too): only
        # a file that cannot be opened, read or written is the store being gone.
        gone = ("unable to open", "disk i/o", "readonly database", "not a database", "malformed")
        if any(words in message.lower() for words in gone):
            return StoreUnavailable(message)
        return StoreError(message)
    if isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return StoreUnavailable(message)  # PostgreSQL: the connection failed or was refused.
    return StoreError(message)


def describe(error: Exception, url: str) -> str:
    """A one-line reason without the SQL statement or the password."""
    shown = make_url(url).render_as_string(hide_password=True)
    original = getattr(error, "orig", None) or error
    reason = (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
    return f"{shown}: {reason}"


def report_statements(database: Database, folder: Path, every: float = 1.0) -> None:
    """Write this process's statement count to `folder/store-<pid>.json` every second, so a
    benchmark can tell what a page costs the database (`make soak`'s class)."""
    import json
    import sys
    import threading

    folder.mkdir(parents=True, exist_ok=True)
    # One file per store: a process may open more than one (each counts its own statements).
    path = folder / f"store-{os.getpid()}-{id(database):x}.json"
    role = " ".join(sys.argv[:3])

    def write() -> None:
        while True:
            record = {"role": role, "statements": database.statements, "time": time.time()}
            path.write_text(json.dumps(record))
            time.sleep(every)

    threading.Thread(target=write, name="store-stats", daemon=True).start()
