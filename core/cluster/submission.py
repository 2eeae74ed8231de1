"""How the lab's tasks reach a Dask scheduler: as functions, with a key, a priority and a
deadline on every request. It holds the one private Dask call the lab needs (`queue_task`).

A task's function travels by reference (`core.cluster.tasks.train_run`): the scheduler
unpickles each task it is given, which imports `core`, `core.cluster` and the module of the
function. Those load nothing but the standard library (measured: the scheduler holds the same
memory with them, docs/DEPLOY.md), but the scheduler must run where the project is importable:
the embedded one runs `python -m core.cluster.scheduler` in the checkout, and a cluster's
`dask scheduler` gets `PYTHONPATH=<the checkout>`. `scheduler_settings` is what the engine asks
a cluster's scheduler when it connects, so a scheduler that cannot import the project says so
then, not through a failed run.

This module imports nothing but the standard library at its top: the scheduler imports it too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

LOG = logging.getLogger("autoencoder_lab.engine")
SATURATION = "distributed.scheduler.worker-saturation"


def queue_task(client, key: str, priority: int, function: Callable, *args):
    """Submit `function(*args)` under `key`: it waits on the scheduler until a worker thread is
    free, and higher `priority` goes first.

    The one private call: Dask's public `client.submit(function, *args, key=, priority=)` sends
    a lone task to a worker at once, even a busy one (it waits there behind that worker's run,
    while another worker may free up first: later runs overtake it), and `resources=` makes
    that so in every case (a task with restrictions is never queued on the scheduler). Marked as
    a data producer (Dask's term for a root task), with the scheduler's worker-saturation at
    1.0, a task stays in the scheduler's queue, in priority order, for whichever worker thread
    frees up first, one that joins later included. tests/cluster/test_queue.py fails the day
    Dask changes this.
    """
    from dask._task_spec import Task

    task = Task(key, function, *args, _data_producer=True)
    return client.get({key: task}, key, sync=False, priority=priority)


def within(client, seconds: float, request: Callable[[], Awaitable]):
    """Await `request()` on the client's event loop for at most `seconds` (TimeoutError after
    that, and the request is cancelled). `request` uses Dask's asynchronous API, e.g.
    `lambda: client.scheduler.identity(n_workers=-1)`; its blocking twins have no deadline."""

    async def call():
        return await request()

    return client.sync(call, callback_timeout=seconds)


def scheduler_settings() -> dict:
    """On the scheduler: the settings the lab relies on. Running at all means the scheduler
    could import this module, so it can read the lab's tasks."""
    import dask

    return {"worker-saturation": dask.config.get(SATURATION)}


def one_run_per_thread(settings: dict) -> bool:
    """Whether a scheduler with these settings keeps queued runs for free worker threads
    (worker-saturation 1.0; Dask's default 1.1 sends a one-thread worker a second run to wait
    behind its first)."""
    try:
        return float(settings.get("worker-saturation")) == 1.0
    except (TypeError, ValueError):
        return False


class UnfitScheduler(RuntimeError):
    """The scheduler answers, but cannot run the lab's tasks."""


def check_scheduler(client, seconds: float, address: str) -> None:
    """A cluster's scheduler must import the lab's tasks (else every run would fail: raises
    UnfitScheduler, and the client is closed), and should queue runs for free worker threads
    (a warning in the log). Its operator configures it (docs/DEPLOY.md)."""
    try:
        settings = within(
            client, seconds, lambda: client.run_on_scheduler(scheduler_settings, asynchronous=True)
        )
    except Exception as error:
        client.close(timeout=2)
        raise UnfitScheduler(
            f"its scheduler cannot import the project ({error}): start it with "
            "PYTHONPATH=<the checkout> (docs/DEPLOY.md)"
        ) from error
    if not one_run_per_thread(settings):
        LOG.warning(
            "the scheduler %s runs with worker-saturation %s: start it with "
            "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0, or a busy worker may hold a "
            "run while another is free (docs/DEPLOY.md)",
            address,
            settings.get("worker-saturation"),
        )
