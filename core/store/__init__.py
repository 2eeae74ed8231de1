"""The run store: every training a student starts is a row that outlives sessions and servers.

SQLite in the user data folder by default (WAL mode, so the training process writes while the
server reads), or any SQLAlchemy URL in `AE_DATABASE_URL` (PostgreSQL through psycopg 3).
Alembic migrates the schema when the server opens the store, so a class database survives
upgrades of the app. The server's pages read; the training worker writes (`core.cluster.job`).

Students have no accounts: a random link token identifies one, and only its SHA-256 is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.store.classes import ClassRow, ClassStore, Member
from core.store.schema import ACTIVE, checkpoints, epochs, loss_chunks, runs, scores, students

__all__ = [
    "Busy",
    "ClassRow",
    "Fenced",
    "LabBusy",
    "Member",
    "Refused",
    "Run",
    "Store",
    "StoreError",
    "StoreUnavailable",
]

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: the PostgreSQL advisory lock held while migrating (see `migrate`).
MIGRATION_LOCK = 0x4145_4C41_4230_3031
TOKEN_BYTES = 24  # 192 bits from `secrets`: unguessable, and 32 characters in a link.
# Statuses whose run ended and can be continued from its last checkpoint.
CONTINUABLE = ("stopped", "interrupted")


class StoreError(RuntimeError):
    """A database operation failed; the message says why (without SQL or password)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (connection lost or refused, file unreadable): the one
    failure that turns training off for the whole server until it is back."""


class Conflict(StoreError):
    """A write broke one of the database's constraints (two writers raced)."""


class Fenced(StoreError):
    """A training worker's write names an attempt that is no longer the run's: another worker
    (or a sweep) took the run over, so this one must stop without writing anything."""


class Refused(Exception):
    """A rule of the lab said no to one user's action: a message for that user, never a
    failure of the store (which would turn training off for everyone)."""


class Busy(Refused):
    """The student already has a queued or running run."""

    def __init__(self, message: str = "you already have a run queued or training; stop it first"):
        super().__init__(message)


class LabBusy(Refused):
    """The server's queue is full (`AE_MAX_QUEUED`): a public demo cannot be flooded."""

    def __init__(self, waiting: int):
        super().__init__(
            f"the lab is busy ({waiting} runs are waiting to train); try again in a minute"
        )


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the default SQLite file lives: `$AE_DATA_DIR`, else the user data folder."""
    if environ.get("AE_DATA_DIR"):
        return Path(environ["AE_DATA_DIR"])
    base = environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "autoencoder-lab"


def database_url(environ: Mapping[str, str] = os.environ) -> str:
    """`$AE_DATABASE_URL`, else an SQLite file `runs.sqlite` in `data_dir()`."""
    if environ.get("AE_DATABASE_URL"):
        return environ["AE_DATABASE_URL"].strip()
    return f"sqlite:///{data_dir(environ) / 'runs.sqlite'}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def weights_to_bytes(
    weights: list[np.ndarray], optimizer_state: list[np.ndarray] | None = None
) -> bytes:
    """A model's weight arrays as an .npz (plain arrays, loadable without pickle): arr_0,
    arr_1, ..., and the optimizer's variables (`core.ml.callbacks.optimizer_state`) beside them as
    opt_0, opt_1, ... when given, so a continued run goes on with Adam's moments."""
    buffer = io.BytesIO()
    optimizer = {f"opt_{index}": value for index, value in enumerate(optimizer_state or [])}
    np.savez(buffer, *weights, **optimizer)
    return buffer.getvalue()


def _npz_arrays(archive, prefix: str) -> list[np.ndarray]:
    """An .npz's arrays named prefix0, prefix1, ... in order (members load lazily: only these)."""
    count = sum(name.startswith(prefix) for name in archive.files)
    return [archive[f"{prefix}{index}"] for index in range(count)]


def weights_from_bytes(blob: bytes) -> list[np.ndarray]:
    """The model weights of a checkpoint, without its optimizer state."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return _npz_arrays(archive, "arr_")


def checkpoint_from_bytes(blob: bytes) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """(model weights, optimizer state) of a checkpoint; the state is None in a checkpoint
    written before it was kept (a run continued from it restarts Adam's moments)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return _npz_arrays(archive, "arr_"), _npz_arrays(archive, "opt_") or None


def samples_to_bytes(images: np.ndarray) -> bytes:
    """Reconstructions in [0, 1] as uint8 bytes (8 x 28 x 28 = 6 KB an epoch)."""
    return (np.clip(np.asarray(images), 0.0, 1.0) * 255).round().astype(np.uint8).tobytes()


def samples_from_bytes(blob: bytes) -> np.ndarray:
    """Back to float images (N, 28, 28, 1) in [0, 1]."""
    return (np.frombuffer(blob, np.uint8).reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)


def codes_to_bytes(codes: np.ndarray) -> bytes:
    """2-D codes as float16 bytes: 4 bytes an image, ample for a scatter plot."""
    return np.asarray(codes, np.float16).reshape(-1, 2).tobytes()


def codes_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, np.float16).reshape(-1, 2).astype(np.float32)


@dataclass(frozen=True)
class Run:
    """One training run as the pages see it (without its losses, samples or weights)."""

    id: int
    student_id: int
    variant: str
    settings: dict
    status: str
    phase: str | None
    message: str | None
    stop_requested: bool
    created_at: float
    queued_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    worker: str | None
    epochs_total: int
    epochs_done: int
    batches: int | None
    batch: int | None
    seconds: float
    samples_per_second: float | None
    metrics: dict | None
    class_id: int | None = None  # The class it was started in, if any.
    uid: str = ""  # Random, never shared with another run: what caches key on.
    lane: int = 0  # A racer's place in its race (0 for a single run).
    attempt: int = 0  # How many times a worker claimed it; the current claim's fence.

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def key(self) -> str:
        """The model's stable identity in every cache: the run's random uid (an id can be
        given again by a database restored from a backup; a uid cannot) and the epoch of its
        weights."""
        return f"run-{self.uid}@{self.epochs_done}"

    @property
    def fraction(self) -> float:
        """Share of the planned batches done, in [0, 1]."""
        total = max(1, self.epochs_total * (self.batches or 1))
        done = self.epochs_done * (self.batches or 1) + (self.batch or 0)
        return min(1.0, done / total)

    @property
    def seconds_left(self) -> float | None:
        """Estimated training time left from the pace so far (as `Progress.seconds_left`)."""
        if self.fraction <= 0 or not self.seconds:
            return None
        return self.seconds * (1.0 - self.fraction) / self.fraction


@dataclass(frozen=True)
class Losses:
    """The per-batch training losses of a run: x in epochs (fractional) and each series;
    `last_seq` is the newest chunk read, so a live view can ask for only what came after."""

    x: np.ndarray
    series: dict[str, np.ndarray]
    last_seq: int = 0

    def extend(self, newer: Losses) -> Losses:
        """These losses followed by `newer` (read with `after=self.last_seq`). A continued run
        redoes the epoch its stop cut short: the redone batches replace the cut ones."""
        if not len(newer.x):
            return self
        kept = int(np.searchsorted(self.x, newer.x[0]))  # The points before the redone ones.
        old_gap, new_gap = np.full(kept, np.nan), np.full(len(newer.x), np.nan)
        return Losses(
            np.concatenate([self.x[:kept], newer.x]),
            {
                key: np.concatenate(
                    [self.series.get(key, old_gap)[:kept], newer.series.get(key, new_gap)]
                )
                for key in set(self.series) | set(newer.series)
            },
            newer.last_seq,
        )


@dataclass(frozen=True)
class Epoch:
    epoch: int
    logs: dict
    samples: np.ndarray


class Store(ClassStore):
    """Every read and write of runs and students goes through here."""

    def __init__(self, url: str | None = None, *, migrate: bool = True):
        self.url = url or database_url()
        self.statements = 0  # SQL statements sent, for `make soak` (see AE_STORE_STATS).
        try:
            self.engine = _engine(self.url)
            sa.event.listen(self.engine, "before_cursor_execute", self._counted)
            if os.environ.get("AE_STORE_STATS"):
                _report_statements(self, Path(os.environ["AE_STORE_STATS"]))
            if migrate:
                self.migrate()
            else:
                with self.engine.connect() as connection:
                    connection.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as error:
            raise StoreUnavailable(_describe(error, self.url)) from error
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
    def _transaction(self):
        """A connection in a transaction; database errors come out as StoreError (see
        `_failure` for which kind)."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.SQLAlchemyError as error:
            raise _failure(error, self.url) from error

    def _write(self, statement) -> tuple[int, int | None]:
        """Execute one write in its own transaction: (rows changed, new primary key or None)."""
        with self._transaction() as connection:
            result = connection.execute(statement)
            key = result.inserted_primary_key if statement.is_insert else None
            return result.rowcount, (int(key[0]) if key else None)

    def _rows(self, statement) -> list[sa.Row]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(statement))
        except sa.exc.SQLAlchemyError as error:
            raise _failure(error, self.url) from error

    # Students ------------------------------------------------------------------------------

    def new_student(
        self, class_id: int | None = None, nickname: str | None = None
    ) -> tuple[int, str]:
        """A new student (of a class, with a nickname, when given) and their link token
        (returned once; only its hash is kept)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = time.time()
        _, student_id = self._write(
            students.insert().values(
                token_hash=hash_token(token),
                created_at=now,
                last_seen_at=now,
                class_id=class_id,
                nickname=nickname,
                on_board=True,
            )
        )
        return student_id, token

    def find_student(self, token: str | None) -> int | None:
        """The student whose link carries `token`, or None (unknown or malformed)."""
        if not token or len(token) > 128:
            return None
        rows = self._rows(
            sa.select(students.c.id).where(students.c.token_hash == hash_token(token))
        )
        return int(rows[0].id) if rows else None

    def touch_students(self, ids: Iterable[int], now: float | None = None) -> None:
        """Record that these students have a page open."""
        ids = sorted(set(ids))
        if ids:
            self._write(
                students.update()
                .where(students.c.id.in_(ids))
                .values(last_seen_at=now or time.time())
            )

    # Runs: the page's side -----------------------------------------------------------------

    def create_run(
        self,
        student_id: int,
        variant: str,
        settings: dict,
        epochs_total: int,
        max_runs: int = 30,
        class_id: int | None = None,
        max_queued: int | None = None,
    ) -> int:
        """Queue a new run; raises Busy if the student has one queued or running already.

        The student's oldest ended runs beyond `max_runs` (this one included) are deleted.
        """
        specs = [(variant, settings, epochs_total)]
        return self.create_runs(student_id, specs, max_runs, class_id, max_queued=max_queued)[0]

    def create_runs(
        self,
        student_id: int,
        specs: list[tuple[str, dict, int]],
        max_runs: int = 30,
        class_id: int | None = None,
        race: bool = False,
        max_queued: int | None = None,
    ) -> list[int]:
        """Queue (variant, settings, epochs) runs together, in one transaction; raises Busy if
        the student has a run queued or running already (the database's unique index decides
        when two requests race), LabBusy if `max_queued` runs wait already. With `race`, each
        run's settings get `"race": <the first run's id>`, which `race_runs` finds them by.

        The student's oldest ended runs beyond `max_runs` (these included) are deleted.
        """
        now = time.time()
        try:
            return self._create_runs(student_id, specs, max_runs, class_id, race, max_queued, now)
        except Conflict:
            raise Busy() from None

    def _create_runs(self, student_id, specs, max_runs, class_id, race, max_queued, now):
        with self._transaction() as connection:
            _refuse_if_busy(connection, student_id)
            if max_queued is not None:
                waiting = connection.execute(
                    sa.select(sa.func.count()).select_from(runs).where(runs.c.status == "queued")
                ).scalar_one()
                if waiting + len(specs) > max_queued:
                    raise LabBusy(waiting)
            ids: list[int] = []
            for lane, (variant, settings, epochs_total) in enumerate(specs):
                result = connection.execute(
                    runs.insert().values(
                        student_id=student_id,
                        variant=variant,
                        settings=settings,
                        status="queued",
                        stop_requested=False,
                        created_at=now,
                        queued_at=now,
                        epochs_total=epochs_total,
                        epochs_done=0,
                        seconds=0.0,
                        class_id=class_id,
                        uid=secrets.token_hex(16),
                        lane=lane,
                        attempt=0,
                    )
                )
                ids.append(int(result.inserted_primary_key[0]))
            if race:  # Named after its first run, known once that row exists.
                for run_id, (_, settings, _) in zip(ids, specs, strict=True):
                    connection.execute(
                        runs.update()
                        .where(runs.c.id == run_id)
                        .values(settings={**settings, "race": ids[0]})
                    )
            ended = connection.execute(
                sa.select(runs.c.id)
                .where(runs.c.student_id == student_id, runs.c.status.not_in(ACTIVE))
                .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            ).all()
            _delete_runs(connection, [row.id for row in ended[max(0, max_runs - len(ids)) :]])
            return ids

    def races(self, student_id: int) -> dict[int, list[Run]]:
        """The student's races, newest first: race id -> its runs in racing order."""
        found: dict[int, list[Run]] = {}
        for run in reversed(self.runs(student_id)):
            race = run.settings.get("race")
            if race is not None:
                found.setdefault(int(race), []).append(run)
        return dict(sorted(found.items(), reverse=True))

    def run(self, run_id: int, student_id: int | None = None) -> Run | None:
        """The run, or None if it does not exist (or belongs to another student)."""
        query = sa.select(runs).where(runs.c.id == run_id)
        if student_id is not None:
            query = query.where(runs.c.student_id == student_id)
        rows = self._rows(query)
        return Run(**rows[0]._mapping) if rows else None

    def runs(self, student_id: int, variant: str | None = None) -> list[Run]:
        """A student's runs, newest first."""
        query = sa.select(runs).where(runs.c.student_id == student_id)
        if variant is not None:
            query = query.where(runs.c.variant == variant)
        rows = self._rows(query.order_by(runs.c.created_at.desc(), runs.c.id.desc()))
        return [Run(**row._mapping) for row in rows]

    def queue_position(self, run: Run) -> int:
        """1 for the next run to start: queued runs before this one, plus one."""
        ahead = self._rows(
            sa.select(sa.func.count())
            .select_from(runs)
            .where(
                runs.c.status == "queued",
                sa.or_(
                    runs.c.queued_at < run.queued_at,
                    sa.and_(runs.c.queued_at == run.queued_at, runs.c.id < run.id),
                ),
            )
        )[0][0]
        return int(ahead) + 1

    def counts(self) -> dict[str, int]:
        """Runs per status, server-wide."""
        rows = self._rows(sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status))
        return {status: int(count) for status, count in rows}

    def request_stop(self, run_id: int, student_id: int) -> None:
        """Stop a running run after its current batch, or take a queued one out of the line.

        A queued run that never started has nothing to keep: it is deleted. Each step is one
        conditional update, and leaving the queue comes first: a worker's claim that lands
        in between turns the run to running, which the second update then stops (in the
        other order the request fell between the two and was lost).
        """
        owned = (runs.c.id == run_id) & (runs.c.student_id == student_id)
        with self._transaction() as connection:
            left = connection.execute(
                runs.update()
                .where(owned, runs.c.status == "queued")
                .values(
                    status="stopped",
                    message="taken out of the queue",
                    finished_at=time.time(),
                    stop_requested=False,
                )
            ).rowcount
            if left:
                # No longer claimable, so nothing can write to it: a never-started one goes.
                fresh = connection.execute(
                    sa.select(runs.c.id).where(owned, runs.c.epochs_done == 0)
                ).all()
                _delete_runs(connection, [row.id for row in fresh])
                return
        self._write(
            runs.update().where(owned, runs.c.status == "running").values(stop_requested=True)
        )

    def continue_run(self, run_id: int, student_id: int) -> None:
        """Put a stopped or interrupted run back in the queue; it resumes from its checkpoint.
        Raises Busy while another of the student's runs is active (the unique index decides
        between two presses at once), Refused if the run cannot be continued."""
        try:
            self._continue_run(run_id, student_id)
        except Conflict:
            raise Busy() from None

    def _continue_run(self, run_id: int, student_id: int) -> None:
        with self._transaction() as connection:
            _refuse_if_busy(connection, student_id)
            changed = connection.execute(
                runs.update()
                .where(
                    runs.c.id == run_id,
                    runs.c.student_id == student_id,
                    runs.c.status.in_(CONTINUABLE),
                    # An interrupted run may have all its epochs and still lack its test
                    # metrics (its worker was lost while measuring): continuing measures them.
                    (runs.c.epochs_done < runs.c.epochs_total) | (runs.c.status == "interrupted"),
                )
                .values(
                    status="queued",
                    phase=None,
                    message=None,
                    stop_requested=False,
                    queued_at=time.time(),
                    finished_at=None,
                    lane=0,  # Alone now, whichever racer it was.
                )
            ).rowcount
            if not changed:
                raise Refused("this run cannot be continued (it is not stopped, or is complete)")

    def delete_run(self, run_id: int, student_id: int) -> bool:
        """Delete an ended run of this student with everything it stored."""
        with self._transaction() as connection:
            found = connection.execute(
                sa.select(runs.c.id).where(
                    runs.c.id == run_id,
                    runs.c.student_id == student_id,
                    runs.c.status.not_in(ACTIVE),
                )
            ).all()
            _delete_runs(connection, [row.id for row in found])
            return bool(found)

    def losses(self, run_id: int, after: int = 0) -> Losses:
        """Every training batch's loss so far, in order; with `after`, only the chunks written
        after chunk number `after` (a live view reads each chunk once)."""
        rows = self._rows(
            sa.select(loss_chunks)
            .where(loss_chunks.c.run_id == run_id, loss_chunks.c.seq > after)
            .order_by(loss_chunks.c.seq)
        )
        x, series = [], {}
        for row in rows:
            count = len(next(iter(row.values.values()), []))
            first = row.epoch + (row.first_batch + 1) / row.batches
            if x and first <= x[-1]:  # A continued run redoing the epoch its stop cut short.
                kept = int(np.searchsorted(x, first))
                del x[kept:]
                for values in series.values():
                    del values[kept:]
            x.extend(row.epoch + (row.first_batch + 1 + i) / row.batches for i in range(count))
            for key, values in row.values.items():
                series.setdefault(key, []).extend(values)
        return Losses(
            np.asarray(x, np.float64),
            {key: np.asarray(values, np.float64) for key, values in series.items()},
            rows[-1].seq if rows else after,
        )

    def epochs(self, run_id: int, with_samples: bool = True) -> list[Epoch]:
        """The run's epoch rows in order (epoch 0: the untrained model's samples)."""
        columns = [epochs.c.epoch, epochs.c.logs] + ([epochs.c.samples] if with_samples else [])
        rows = self._rows(
            sa.select(*columns).where(epochs.c.run_id == run_id).order_by(epochs.c.epoch)
        )
        return [
            Epoch(row.epoch, row.logs, samples_from_bytes(row.samples) if with_samples else None)
            for row in rows
        ]

    def samples(self, run_id: int, epoch: int) -> np.ndarray | None:
        """The eight reconstructions stored after `epoch`, or None."""
        rows = self._rows(
            sa.select(epochs.c.samples).where(epochs.c.run_id == run_id, epochs.c.epoch == epoch)
        )
        return samples_from_bytes(rows[0].samples) if rows else None

    def replay(self, run_id: int) -> list[tuple[int, np.ndarray]]:
        """(epoch, codes (N, 2)) of every epoch that stored its 2-D codes, in order."""
        rows = self._rows(
            sa.select(epochs.c.epoch, epochs.c.codes)
            .where(epochs.c.run_id == run_id, epochs.c.codes.is_not(None))
            .order_by(epochs.c.epoch)
        )
        return [(row.epoch, codes_from_bytes(row.codes)) for row in rows]

    def epoch_losses(self, run_ids: list[int], key: str = "loss") -> dict[int, list[float]]:
        """Per-epoch mean training loss of several runs, for small curves in a list."""
        if not run_ids:
            return {}
        rows = self._rows(
            sa.select(epochs.c.run_id, epochs.c.logs)
            .where(epochs.c.run_id.in_(run_ids), epochs.c.epoch > 0)
            .order_by(epochs.c.run_id, epochs.c.epoch)
        )
        curves: dict[int, list[float]] = {run_id: [] for run_id in run_ids}
        for row in rows:
            if key in row.logs:
                curves[row.run_id].append(float(row.logs[key]))
        return curves

    def checkpoint(self, run_id: int, optimizer: bool = False) -> tuple | None:
        """(epoch, weight arrays) of the run's latest checkpoint, or None. With `optimizer`:
        (epoch, weights, optimizer state), the state None in a checkpoint from before it was
        kept. The epoch is always a completed one (core.ml.callbacks)."""
        rows = self._rows(sa.select(checkpoints).where(checkpoints.c.run_id == run_id))
        if not rows:
            return None
        if optimizer:
            return (rows[0].epoch, *checkpoint_from_bytes(rows[0].weights))
        return rows[0].epoch, weights_from_bytes(rows[0].weights)

    # Runs: the worker's side ---------------------------------------------------------------

    def claim(self, run_id: int, worker: str) -> int | None:
        """queued -> running for this worker, in one conditional update; returns the claim's
        attempt number, which every write of this worker names (`attempt=`), or None if
        someone else took it or it left the queue."""
        now = time.time()
        with self._transaction() as connection:
            changed = connection.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == "queued")
                .values(
                    status="running",
                    phase="starting",
                    message=None,  # Whatever it said while it waited.
                    worker=worker,
                    heartbeat_at=now,
                    started_at=sa.func.coalesce(runs.c.started_at, now),
                    attempt=runs.c.attempt + 1,
                )
            ).rowcount
            if changed != 1:
                return None
            return int(
                connection.execute(
                    sa.select(runs.c.attempt).where(runs.c.id == run_id)
                ).scalar_one()
            )

    @staticmethod
    def _fenced(run_id: int, attempt: int | None):
        """The rows a worker holding claim `attempt` may still write: its run, running, under
        that very claim (`attempt` None: any running claim, for callers outside a worker)."""
        condition = (runs.c.id == run_id) & (runs.c.status == "running")
        return condition if attempt is None else condition & (runs.c.attempt == attempt)

    def _heartbeat(self, connection, run_id: int, attempt: int | None, **values: Any) -> None:
        """Update the run's progress fields and heartbeat under the worker's claim, or raise
        Fenced (and roll the transaction back) when the claim is no longer the run's."""
        changed = connection.execute(
            runs.update()
            .where(self._fenced(run_id, attempt))
            .values(heartbeat_at=time.time(), **values)
        ).rowcount
        if changed != 1:
            raise Fenced(f"run {run_id}: attempt {attempt} no longer holds it")

    def note_queued(self, message: str) -> None:
        """Say on every queued run why it waits (the engine's view of the cluster)."""
        self._write(
            runs.update()
            .where(runs.c.status == "queued", runs.c.message.is_distinct_from(message))
            .values(message=message)
        )

    def queued(self, limit: int) -> list[int]:
        """The next `limit` queued runs, first come first served."""
        rows = self._rows(
            sa.select(runs.c.id)
            .where(runs.c.status == "queued")
            .order_by(runs.c.queued_at, runs.c.id)
            .limit(limit)
        )
        return [row.id for row in rows]

    def progress(self, run_id: int, attempt: int | None = None, **values: Any) -> None:
        """Update a running run's progress fields and its heartbeat; Fenced if `attempt` lost
        the run."""
        with self._transaction() as connection:
            self._heartbeat(connection, run_id, attempt, **values)

    def add_losses(
        self,
        run_id: int,
        epoch: int,
        first_batch: int,
        batches: int,
        values: dict,
        attempt: int | None = None,
    ):
        """Append a chunk of per-batch losses; Fenced if `attempt` lost the run."""
        with self._transaction() as connection:
            self._heartbeat(connection, run_id, attempt)
            last = connection.execute(
                sa.select(sa.func.max(loss_chunks.c.seq)).where(loss_chunks.c.run_id == run_id)
            ).scalar()
            connection.execute(
                loss_chunks.insert().values(
                    run_id=run_id,
                    seq=(last or 0) + 1,
                    epoch=epoch,
                    first_batch=first_batch,
                    batches=batches,
                    values=values,
                )
            )

    def add_epoch(
        self,
        run_id: int,
        epoch: int,
        logs: dict,
        samples: np.ndarray,
        weights: list[np.ndarray] | None = None,
        codes: np.ndarray | None = None,
        attempt: int | None = None,
        optimizer_state: list[np.ndarray] | None = None,
        **progress: Any,
    ) -> None:
        """Record a finished epoch: its logs, samples, the 2-D codes of the replay's images
        (when the code is 2-D) and (after training) the checkpoint, with the optimizer's state
        when given; all or nothing, and nothing (Fenced) if `attempt` lost the run."""
        with self._transaction() as connection:
            self._heartbeat(connection, run_id, attempt, **progress)
            connection.execute(
                epochs.delete().where(epochs.c.run_id == run_id, epochs.c.epoch == epoch)
            )
            connection.execute(
                epochs.insert().values(
                    run_id=run_id,
                    epoch=epoch,
                    logs=logs,
                    samples=samples_to_bytes(samples),
                    codes=None if codes is None else codes_to_bytes(codes),
                )
            )
            if weights is not None:
                connection.execute(checkpoints.delete().where(checkpoints.c.run_id == run_id))
                connection.execute(
                    checkpoints.insert().values(
                        run_id=run_id,
                        epoch=epoch,
                        weights=weights_to_bytes(weights, optimizer_state),
                    )
                )

    def stop_wanted(self, run_id: int, attempt: int | None = None) -> bool:
        """True when the run should end now: a stop was asked for, or it is no longer ours
        (ended, deleted, or claimed again under another attempt)."""
        rows = self._rows(
            sa.select(runs.c.stop_requested, runs.c.status, runs.c.attempt).where(
                runs.c.id == run_id
            )
        )
        return (
            not rows
            or rows[0].stop_requested
            or rows[0].status != "running"
            or (attempt is not None and rows[0].attempt != attempt)
        )

    def finish(
        self,
        run_id: int,
        status: str,
        message: str | None = None,
        attempt: int | None = None,
        **values: Any,
    ) -> bool:
        """End a run with `status`, unless it already ended (a sweep marked it first) or, with
        `attempt`, another claim holds it now; returns whether this call ended it."""
        condition = runs.c.id == run_id
        if attempt is not None:
            condition &= runs.c.attempt == attempt
        changed, _ = self._write(
            runs.update()
            .where(condition, runs.c.status.in_(ACTIVE))
            .values(
                status=status,
                phase=None,
                message=message,
                finished_at=time.time(),
                stop_requested=False,
                **values,
            )
        )
        return changed == 1

    # Housekeeping --------------------------------------------------------------------------

    def running(self) -> list[Run]:
        rows = self._rows(sa.select(runs).where(runs.c.status == "running"))
        return [Run(**row._mapping) for row in rows]

    def abandon(self, idle_seconds: float, now: float | None = None) -> list[int]:
        """Stop the runs of students who have had no page open for `idle_seconds`.

        A running one gets a stop request (its worker keeps the weights reached); a queued
        one leaves the queue, kept as stopped so its settings are not lost.
        """
        now = now or time.time()
        gone = sa.select(students.c.id).where(students.c.last_seen_at < now - idle_seconds)
        found = self._rows(
            sa.select(runs.c.id).where(runs.c.status.in_(ACTIVE), runs.c.student_id.in_(gone))
        )
        ids = [row.id for row in found]
        if ids:
            note = "stopped because no page of yours was open"
            self._write(
                runs.update()
                .where(runs.c.id.in_(ids), runs.c.status == "running")
                .values(stop_requested=True, message=note)
            )
            self._write(
                runs.update()
                .where(runs.c.id.in_(ids), runs.c.status == "queued")
                .values(status="stopped", message=note, finished_at=now)
            )
        return ids

    def prune(self, max_runs: int, retention_days: float, now: float | None = None) -> int:
        """Delete ended runs older than `retention_days` and each student's beyond `max_runs`,
        then students with nothing left who have not been seen for as long; returns the runs
        deleted."""
        now = now or time.time()
        cutoff = now - retention_days * 86400
        with self._transaction() as connection:
            ended = connection.execute(
                sa.select(runs.c.id, runs.c.student_id, runs.c.created_at)
                .where(runs.c.status.not_in(ACTIVE))
                .order_by(runs.c.student_id, runs.c.created_at.desc(), runs.c.id.desc())
            ).all()
            doomed, kept = [], {}
            for row in ended:
                kept[row.student_id] = kept.get(row.student_id, 0) + 1
                if row.created_at < cutoff or kept[row.student_id] > max_runs:
                    doomed.append(row.id)
            _delete_runs(connection, doomed)
            connection.execute(
                students.delete().where(
                    students.c.last_seen_at < cutoff,
                    students.c.id.not_in(sa.select(runs.c.student_id).distinct()),
                )
            )
            return len(doomed)

    def summary(self) -> dict[str, Any]:
        """What the store holds: students, runs per status, bytes of stored data."""
        sizes = {}
        for name, column in (("checkpoints", checkpoints.c.weights), ("samples", epochs.c.samples)):
            sizes[name] = int(
                self._rows(sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(column)), 0)))[0][
                    0
                ]
            )
        database_bytes = None
        if self.engine.dialect.name == "sqlite":
            path = Path(make_url(self.url).database or "")
            database_bytes = sum(
                p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file()
            )
        elif self.engine.dialect.name == "postgresql":
            database_bytes = int(
                self._rows(sa.select(sa.func.pg_database_size(sa.func.current_database())))[0][0]
            )
        return {
            "url": self.display_url,
            "students": int(self._rows(sa.select(sa.func.count()).select_from(students))[0][0]),
            "runs": self.counts(),
            "loss_chunks": int(
                self._rows(sa.select(sa.func.count()).select_from(loss_chunks))[0][0]
            ),
            "bytes": sizes,
            "database_bytes": database_bytes,
        }


class Claimed:
    """The store as one training worker sees it while it holds claim `attempt` of a run:
    every write of the run's progress names the claim, so a worker that lost it (taken for
    dead and the run continued elsewhere, or ended by a sweep) is refused with Fenced and
    writes nothing. Reads and other calls go to the store itself."""

    def __init__(self, store: Store, attempt: int):
        self.store, self.attempt = store, attempt

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def progress(self, run_id: int, **values: Any) -> None:
        self.store.progress(run_id, attempt=self.attempt, **values)

    def add_losses(self, run_id: int, *args: Any) -> None:
        self.store.add_losses(run_id, *args, attempt=self.attempt)

    def add_epoch(self, run_id: int, *args: Any, **values: Any) -> None:
        self.store.add_epoch(run_id, *args, attempt=self.attempt, **values)

    def stop_wanted(self, run_id: int) -> bool:
        return self.store.stop_wanted(run_id, attempt=self.attempt)

    def finish(self, run_id: int, status: str, message: str | None = None, **values: Any):
        return self.store.finish(run_id, status, message, attempt=self.attempt, **values)


def _report_statements(store: Store, folder: Path, every: float = 1.0) -> None:
    """Write this process's statement count to `folder/store-<pid>.json` every second, so a
    benchmark can tell what a page costs the database (`make soak`'s class)."""
    import json
    import sys
    import threading

    folder.mkdir(parents=True, exist_ok=True)
    # One file per store: a process may open more than one (each counts its own statements).
    path = folder / f"store-{os.getpid()}-{id(store):x}.json"
    role = " ".join(sys.argv[:3])

    def write() -> None:
        while True:
            record = {"role": role, "statements": store.statements, "time": time.time()}
            path.write_text(json.dumps(record))
            time.sleep(every)

    threading.Thread(target=write, name="store-stats", daemon=True).start()


def _refuse_if_busy(connection, student_id: int) -> None:
    """One queued or running run per student: raises Busy if they have one."""
    active = connection.execute(
        sa.select(sa.func.count())
        .select_from(runs)
        .where(runs.c.student_id == student_id, runs.c.status.in_(ACTIVE))
    ).scalar_one()
    if active:
        raise Busy("you already have a run queued or training; stop it first")


def _delete_runs(connection, ids: list[int]) -> None:
    """Delete runs and everything they stored (explicitly: SQLite ignores ON DELETE by default)."""
    if not ids:
        return
    for table in (loss_chunks, epochs, checkpoints, scores):
        connection.execute(table.delete().where(table.c.run_id.in_(ids)))
    connection.execute(runs.delete().where(runs.c.id.in_(ids)))


def _engine(url: str) -> sa.Engine:
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


def _failure(error: sa.exc.SQLAlchemyError, url: str) -> StoreError:
    """The StoreError for a database error, of the kind the pages act on: a broken constraint
    (two writers raced) is a Conflict for the caller to explain; a lost or refused connection,
    or a file that cannot be read or written, is StoreUnavailable (training goes off for the
    server until it is back); anything else is a StoreError for the one action that met it.
    SQLite's "database is locked" is a wait that ran out, not a store that is gone."""
    message = _describe(error, url)
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


def _describe(error: Exception, url: str) -> str:
    """A one-line reason without the SQL statement or the password."""
    shown = make_url(url).render_as_string(hide_password=True)
    original = getattr(error, "orig", None) or error
    reason = (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
    return f"{shown}: {reason}"
