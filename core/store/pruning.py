"""Keeping the store small and honest: runs of students who left, old runs, and what it holds.

The engine's sweeps call `running` and `abandon` while the server runs; `prune` and `summary`
are `python -m core.store`'s (and the app's at start, with the limits of `core.lab.limits`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.i18n import N_
from core.store.database import Database
from core.store.records import Run
from core.store.runs import count_by_status, delete_runs
from core.store.schema import (
    ACTIVE,
    bundles,
    checkpoints,
    datasets,
    epochs,
    loss_chunks,
    runs,
    students,
)


class Housekeeping(Database):
    """Sweeps, pruning and the store's summary."""

    def running(self) -> list[Run]:
        rows = self.rows(sa.select(runs).where(runs.c.status == "running"))
        return [Run.from_row(row) for row in rows]

    def abandon(self, idle_seconds: float, now: float | None = None) -> list[int]:
        """Stop the runs of students who have had no page open for `idle_seconds`.

        A running one gets a stop request (its worker keeps the weights reached); a queued
        one leaves the queue, kept as stopped so its settings are not lost.
        """
        now = now or time.time()
        gone = sa.select(students.c.id).where(students.c.last_seen_at < now - idle_seconds)
        found = self.rows(
            sa.select(runs.c.id).where(runs.c.status.in_(ACTIVE), runs.c.student_id.in_(gone))
        )
        ids = [row.id for row in found]
        if ids:
            note = N_("stopped because no page of yours was open")  # Translated where shown.
            self.write(
                runs.update()
                .where(runs.c.id.in_(ids), runs.c.status == "running")
                .values(stop_requested=True, message=note)
            )
            self.write(
                runs.update()
                .where(runs.c.id.in_(ids), runs.c.status == "queued")
                .values(status="stopped", message=note, finished_at=now)
            )
        return ids

    def prune(self, max_runs: int, retention_days: float, now: float | None = None) -> int:
        """Delete ended runs older than `retention_days` and each student's beyond `max_runs`,
        uploaded datasets as old, then students with nothing left who have not been seen for
        as long; returns the runs deleted."""
        now = now or time.time()
        cutoff = now - retention_days * 86400
        with self.transaction() as connection:
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
            delete_runs(connection, doomed)
            # Uploaded datasets are kept as long as runs are; a student who still owns one is
            # kept with it (its row is the dataset's owner).
            connection.execute(datasets.delete().where(datasets.c.created_at < cutoff))
            connection.execute(
                students.delete().where(
                    students.c.last_seen_at < cutoff,
                    students.c.id.not_in(sa.select(runs.c.student_id).distinct()),
                    students.c.id.not_in(
                        sa.select(datasets.c.student_id).where(datasets.c.student_id.is_not(None))
                    ),
                )
            )
            return len(doomed)

    def summary(self) -> dict[str, Any]:
        """What the store holds: students, runs per status, bytes of stored data."""
        sizes = {
            name: int(
                self.scalar(sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(column)), 0)))
            )
            for name, column in (
                ("checkpoints", checkpoints.c.weights),
                ("bundles", bundles.c.data),
                ("samples", epochs.c.samples),
            )
        }
        return {
            "url": self.display_url,
            "students": int(self.scalar(sa.select(sa.func.count()).select_from(students))),
            "runs": count_by_status(self),
            "loss_chunks": int(self.scalar(sa.select(sa.func.count()).select_from(loss_chunks))),
            "bytes": sizes,
            "database_bytes": self._database_bytes(),
        }

    def _database_bytes(self) -> int | None:
        """The database's size on disk: the SQLite file and its write-ahead log, or what
        PostgreSQL reports; None for anything else."""
        if self.engine.dialect.name == "sqlite":
            path = Path(make_url(self.url).database or "")
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.is_file())
        if self.engine.dialect.name == "postgresql":
            return int(self.scalar(sa.select(sa.func.pg_database_size(sa.func.current_database()))))
        return None
