"""Runs and their queue: what a student's page starts, stops, continues, deletes and reads, and
the order the engine submits queued runs in. A worker's side of a run is `core.store.claims`.

The database decides every race: a partial unique index keeps one queued-or-running run per
student (see `core.store.schema.ONE_ACTIVE_RUN`), and each change of status is one conditional
update, so two presses at once (two tabs, two servers) cannot both win.
"""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa

from core.i18n import N_, _
from core.store.database import Database
from core.store.errors import Busy, Conflict, LabBusy, Refused
from core.store.records import Run
from core.store.schema import ACTIVE, bundles, checkpoints, epochs, loss_chunks, runs, scores

# Statuses whose run ended and can be continued from its last checkpoint.
CONTINUABLE = ("stopped", "interrupted")

# A run's `message` (why it waits, why it ended) is written by whoever holds or ends the run (a
# worker, the engine's sweeps), in no reader's language: a fixed English text marked N_() where
# it is written, which the Train page translates as it shows it (ui.run_view.message_text). The
# few that carry a value are these templates, formatted where written; the page recognises a
# stored message by its template and translates the template around the value.
NO_WORKER = N_(
    "Waiting for a training worker: none is connected to {address} "
    "(start one with `python -m core.worker`)."
)
STORE_FAILED = N_("the store failed during training ({error})")
TEMPLATED = (NO_WORKER, STORE_FAILED)


class Runs(Database):
    """A student's runs, from Train to deletion, and the server's queue."""

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
        with self.transaction() as connection:
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
                for run_id, (_variant, settings, _epochs) in zip(ids, specs, strict=True):
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
            delete_runs(connection, [row.id for row in ended[max(0, max_runs - len(ids)) :]])
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
        rows = self.rows(query)
        return Run.from_row(rows[0]) if rows else None

    def runs(self, student_id: int, variant: str | None = None) -> list[Run]:
        """A student's runs, newest first."""
        query = sa.select(runs).where(runs.c.student_id == student_id)
        if variant is not None:
            query = query.where(runs.c.variant == variant)
        rows = self.rows(query.order_by(runs.c.created_at.desc(), runs.c.id.desc()))
        return [Run.from_row(row) for row in rows]

    def queue_position(self, run: Run) -> int:
        """1 for the next run to start: queued runs before this one, plus one."""
        ahead = self.scalar(
            sa.select(sa.func.count())
            .select_from(runs)
            .where(
                runs.c.status == "queued",
                sa.or_(
                    runs.c.queued_at < run.queued_at,
                    sa.and_(runs.c.queued_at == run.queued_at, runs.c.id < run.id),
                ),
            )
        )
        return int(ahead) + 1

    def counts(self) -> dict[str, int]:
        """Runs per status, server-wide."""
        return count_by_status(self)

    def queued(self, limit: int) -> list[int]:
        """The next `limit` queued runs, first come first served."""
        rows = self.rows(
            sa.select(runs.c.id)
            .where(runs.c.status == "queued")
            .order_by(runs.c.queued_at, runs.c.id)
            .limit(limit)
        )
        return [row.id for row in rows]

    def note_queued(self, message: str) -> None:
        """Say on every queued run why it waits (the engine's view of the cluster)."""
        self.write(
            runs.update()
            .where(runs.c.status == "queued", runs.c.message.is_distinct_from(message))
            .values(message=message)
        )

    def request_stop(self, run_id: int, student_id: int) -> None:
        """Stop a running run after its current batch, or take a queued one out of the line.

        A queued run that never started has nothing to keep: it is deleted. Each step is one
        conditional update, and leaving the queue comes first: a worker's claim that lands
        in between turns the run to running, which the second update then stops (in the
        other order the request fell between the two and was lost).
        """
        owned = (runs.c.id == run_id) & (runs.c.student_id == student_id)
        with self.transaction() as connection:
            left = connection.execute(
                runs.update()
                .where(owned, runs.c.status == "queued")
                .values(
                    status="stopped",
                    message=N_("taken out of the queue"),
                    finished_at=time.time(),
                    stop_requested=False,
                )
            ).rowcount
            if left:
                # No longer claimable, so nothing can write to it: a never-started one goes.
                fresh = connection.execute(
                    sa.select(runs.c.id).where(owned, runs.c.epochs_done == 0)
                ).all()
                delete_runs(connection, [row.id for row in fresh])
                return
        self.write(
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
        with self.transaction() as connection:
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
                raise Refused(_("this run cannot be continued (it is not stopped, or is complete)"))

    def delete_run(self, run_id: int, student_id: int) -> bool:
        """Delete an ended run of this student with everything it stored."""
        with self.transaction() as connection:
            found = connection.execute(
                sa.select(runs.c.id).where(
                    runs.c.id == run_id,
                    runs.c.student_id == student_id,
                    runs.c.status.not_in(ACTIVE),
                )
            ).all()
            delete_runs(connection, [row.id for row in found])
            return bool(found)


def count_by_status(database: Database) -> dict[str, int]:
    """Runs per status, server-wide (the pages' count and `python -m core.store`'s summary)."""
    rows = database.rows(sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status))
    return {status: int(count) for status, count in rows}


def delete_runs(connection: sa.Connection, ids: list[int]) -> None:
    """Delete runs and everything they stored, in the caller's transaction (explicitly: SQLite
    ignores ON DELETE by default)."""
    if not ids:
        return
    for table in (loss_chunks, epochs, checkpoints, bundles, scores):
        connection.execute(table.delete().where(table.c.run_id.in_(ids)))
    connection.execute(runs.delete().where(runs.c.id.in_(ids)))


def _refuse_if_busy(connection, student_id: int) -> None:
    """One queued or running run per student: raises Busy if they have one."""
    active = connection.execute(
        sa.select(sa.func.count())
        .select_from(runs)
        .where(runs.c.student_id == student_id, runs.c.status.in_(ACTIVE))
    ).scalar_one()
    if active:
        raise Busy()  # Its message, in the language of the student who asked.
