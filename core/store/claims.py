"""A worker's side of a run: claiming it from the queue and every write it makes while it trains,
each fenced by the claim's attempt number.

A claim bumps `runs.attempt`; the worker's writes name that number and change nothing (raising
Fenced) once the run is no longer under it: the worker was taken for dead and the run continued
elsewhere, or a sweep ended it. `Claimed` is the store as one such worker sees it.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from core.store.codecs import weights_without_optimizer
from core.store.database import Database
from core.store.errors import Fenced
from core.store.runs import CONTINUABLE
from core.store.schema import ACTIVE, checkpoints, runs


class Claims(Database):
    """Claiming queued runs, reporting their progress and ending them."""

    def claim(self, run_id: int, worker: str) -> int | None:
        """queued -> running for this worker, in one conditional update; returns the claim's
        attempt number, which every write of this worker names (`attempt=`), or None if
        someone else took it or it left the queue."""
        now = time.time()
        with self.transaction() as connection:
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

    def progress(self, run_id: int, attempt: int | None = None, **values: Any) -> None:
        """Update a running run's progress fields and its heartbeat; Fenced if `attempt` lost
        the run."""
        with self.transaction() as connection:
            heartbeat(connection, run_id, attempt, **values)

    def stop_wanted(self, run_id: int, attempt: int | None = None) -> bool:
        """True when the run should end now: a stop was asked for, or it is no longer ours
        (ended, deleted, or claimed again under another attempt)."""
        rows = self.rows(
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
        `attempt`, another claim holds it now; returns whether this call ended it.

        A run that cannot be continued (finished, diverged, failed) keeps its weights but not
        the optimizer's state, which only a continued run reads: two thirds of an Adam
        checkpoint's bytes."""
        condition = runs.c.id == run_id
        if attempt is not None:
            condition &= runs.c.attempt == attempt
        with self.transaction() as connection:
            changed = connection.execute(
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
            ).rowcount
            if changed == 1 and status not in CONTINUABLE:
                _forget_optimizer_state(connection, run_id)
        return changed == 1


def fence(run_id: int, attempt: int | None):
    """The condition on `runs` a worker holding claim `attempt` may still write under: its run,
    running, under that very claim (`attempt` None: any running claim, for callers outside a
    worker)."""
    condition = (runs.c.id == run_id) & (runs.c.status == "running")
    return condition if attempt is None else condition & (runs.c.attempt == attempt)


def heartbeat(connection: sa.Connection, run_id: int, attempt: int | None, **values: Any) -> None:
    """In the caller's transaction: update the run's progress fields and heartbeat under the
    worker's claim, or raise Fenced (and so roll the transaction back) when the claim is no
    longer the run's. Every write of a worker starts with it."""
    changed = connection.execute(
        runs.update().where(fence(run_id, attempt)).values(heartbeat_at=time.time(), **values)
    ).rowcount
    if changed != 1:
        raise Fenced(f"run {run_id}: attempt {attempt} no longer holds it")


def _forget_optimizer_state(connection: sa.Connection, run_id: int) -> None:
    """Rewrite the run's checkpoint with its model weights alone (if it holds more)."""
    blob = connection.execute(
        sa.select(checkpoints.c.weights).where(checkpoints.c.run_id == run_id)
    ).scalar()
    smaller = None if blob is None else weights_without_optimizer(blob)
    if smaller is not None:
        connection.execute(
            checkpoints.update().where(checkpoints.c.run_id == run_id).values(weights=smaller)
        )


class Claimed:
    """The store as one training worker sees it while it holds claim `attempt` of a run:
    every write of the run's progress names the claim, so a worker that lost it (taken for
    dead and the run continued elsewhere, or ended by a sweep) is refused with Fenced and
    writes nothing. Reads and other calls go to the store itself."""

    def __init__(self, store, attempt: int):
        self.store, self.attempt = store, attempt

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def progress(self, run_id: int, **values: Any) -> None:
        self.store.progress(run_id, attempt=self.attempt, **values)

    def add_losses(self, run_id: int, *args: Any) -> None:
        self.store.add_losses(run_id, *args, attempt=self.attempt)

    def add_epoch(self, run_id: int, *args: Any, **values: Any) -> None:
        self.store.add_epoch(run_id, *args, attempt=self.attempt, **values)

    def add_bundle(self, run_id: int, epoch: int, data: bytes) -> None:
        self.store.add_bundle(run_id, epoch, data, attempt=self.attempt)

    def stop_wanted(self, run_id: int) -> bool:
        return self.store.stop_wanted(run_id, attempt=self.attempt)

    def finish(self, run_id: int, status: str, message: str | None = None, **values: Any):
        return self.store.finish(run_id, status, message, attempt=self.attempt, **values)
