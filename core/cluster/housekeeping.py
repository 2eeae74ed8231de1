"""What the engine's loop does every second or so to keep the store and the scheduler in step.

The store is the truth about runs; the scheduler holds their tasks. Each app server's engine:

- ends as interrupted a running run whose worker left the cluster, or is still listed but
  silent (frozen, cut off from the database): `interrupt_lost`;
- tells queued runs why they wait when no worker is ready (`note_waiting`);
- records a task's error the task itself could not (`record_task_error`);
- every SWEEP_SECONDS: stops the runs of students who closed every page, submits queued runs no
  task carries (after a restart, or from a server that is gone: task keys make a second
  submission of a run join the first), cancels tasks whose run left the queue (`sweep`);
- every PRUNE_SECONDS: prunes old runs.

Several servers doing all this at once is safe: every write is conditional (a run's attempt
number fences a claim made since it was read).

The messages written on runs are in no reader's language: fixed English texts marked N_(), which
the Train page translates as it shows them (`core.store.runs.TEMPLATED` for the ones with a value).
"""

from __future__ import annotations

import logging
import time

from core.cluster import tasks
from core.i18n import N_
from core.store import Store, StoreError
from core.store.runs import NO_WORKER

LOG = logging.getLogger("autoencoder_lab.engine")
SWEEP_SECONDS = 10.0
PRUNE_SECONDS = 3600.0
STARTING_MESSAGE = N_(
    "A training worker is starting: TensorFlow and the training data load once (about 10 s), "
    "and later runs start at once."
)


def interrupt_lost(store: Store, workers: set[str]) -> None:
    """A run whose worker is no longer in the cluster (killed, machine gone) and has been
    silent a while ends as interrupted; so does one whose worker is still listed but has
    written no heartbeat for longer (frozen, hung, or cut off from the database: a live
    worker beats every core.cluster.beside.HEARTBEAT_SECONDS from a thread of its own). Its last
    checkpoint stays usable, and the claim's fence stops that worker from writing should
    it come back."""
    now = time.time()
    # Silent `lost` seconds, its worker not in the cluster: lost. Silent twice that while its
    # worker is still in the cluster: frozen or cut off (Dask keeps a silent worker listed for
    # minutes); twice, for a worker slowed by a loaded machine.
    lost = tasks.lost_seconds()
    for run in store.running():
        silent = now - (run.heartbeat_at or run.started_at or 0)
        listed = run.worker in workers
        if silent <= (2 * lost if listed else lost):
            continue
        LOG.warning(
            "run %s: its worker %s is %s", run.id, run.worker, "silent" if listed else "gone"
        )
        store.finish(
            run.id,
            "interrupted",
            (
                N_(
                    "its training worker stopped answering (frozen, or cut off); the last "
                    "epoch's weights are kept"
                )
                if listed
                else N_(
                    "its training worker stopped (killed, or its machine went away); the "
                    "last epoch's weights are kept"
                )
            ),
            attempt=run.attempt,  # Not a claim made since this read.
        )


def note_waiting(store: Store, ready_workers: int, embedded: bool, address: str | None) -> None:
    """Tell queued runs, through the store, why they wait when no worker is ready."""
    if ready_workers:
        message = None
    elif embedded:
        message = STARTING_MESSAGE
    else:
        message = NO_WORKER.format(address=address)
    store.note_queued(message)


def record_task_error(store: Store, run_id: int, error: BaseException) -> None:
    """A run's task raised (the task records every ending it sees itself): a worker that died
    several times under it (Dask's KilledWorker) interrupts the run, anything else fails it."""
    try:
        if type(error).__name__ == "KilledWorker":
            store.finish(
                run_id,
                "interrupted",
                N_("its training worker stopped several times; the last epoch's weights are kept"),
            )
        else:
            # The error as Python says it (a technical detail, shown as stored).
            store.finish(run_id, "failed", f"{type(error).__name__}: {error}")
    except StoreError:
        LOG.error("run %s: could not record its task's error %r", run_id, error)


def sweep(engine) -> None:
    """Presence and abandoned runs; queued runs without a task; tasks without a run."""
    store = engine.store
    if engine.live_students is not None:
        store.touch_students(engine.live_students())
        abandoned = store.abandon(engine.abandon_seconds)
        if abandoned:
            LOG.info("stopping abandoned runs %s", abandoned)
    resubmit(engine)
    for run_id in engine.submitted():
        run = store.run(run_id)
        if run is None or not run.active:  # Left the queue through another server.
            engine.cancel(run_id)


def resubmit(engine) -> None:
    """Submit every queued run `engine` has no task for (submitting one that another server
    already submitted joins that task: same key)."""
    if engine.client is None:
        return
    ours = set(engine.submitted())
    for run_id in engine.store.queued(1000):
        if run_id in ours:
            continue
        try:
            engine.submit(run_id)
        except Exception:
            LOG.exception("submitting run %s", run_id)
            return
