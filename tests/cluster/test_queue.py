"""The scheduler is the runs' queue: what `core.cluster.submission.queue_task` (the one private
Dask call) must keep doing, on a real Dask cluster in this process (no TensorFlow, seconds).

With worker-saturation 1.0, a run's task waits on the scheduler while every worker thread is
busy, goes to whichever worker frees up first, in priority order (first come, first served
across servers), and to a worker that joins later. Dask's public `client.submit` does not do
this (it hands the task to a busy worker at once), so this test fails the day Dask changes the
private call's behaviour or signature.
"""

from __future__ import annotations

import threading
import time
import uuid

import dask
import pytest

from core.cluster.submission import one_run_per_thread, queue_task, scheduler_settings

# Tasks run in this process's workers (threads): they wait on these gates and note their start.
GATES: dict[str, threading.Event] = {}
STARTED: list[str] = []


def held(name: str) -> str:
    """A task that runs until the test opens its gate."""
    STARTED.append(name)
    assert GATES[name].wait(60), f"{name}'s gate was never opened"
    return name


def states(keys: list[str], dask_scheduler=None) -> dict[str, str]:
    return {key: dask_scheduler.tasks[key].state for key in keys if key in dask_scheduler.tasks}


@pytest.fixture
def cluster():
    from distributed import Client, LocalCluster

    GATES.clear()
    STARTED.clear()
    saturation = dask.config.set({"distributed.scheduler.worker-saturation": 1.0})
    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    with saturation, local, Client(local, set_as_default=False) as client:
        try:
            yield local, client
        finally:  # Nothing left waiting, whatever failed.
            for gate in GATES.values():
                gate.set()


def until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def submit(client, name: str, priority: int):
    GATES[name] = threading.Event()
    return queue_task(client, f"{name}-{uuid.uuid4().hex[:6]}", priority, held, name)


def test_runs_wait_on_the_scheduler_for_the_first_free_worker_in_priority_order(cluster):
    local, client = cluster
    busy = [submit(client, name, 0) for name in ("a", "b")]
    until(lambda: sorted(STARTED) == ["a", "b"])  # One run per worker thread.
    later = submit(client, "later", -2000)  # Queued later (lower priority), submitted first.
    earlier = submit(client, "earlier", -1000)
    keys = [later.key, earlier.key]
    until(lambda: client.run_on_scheduler(states, keys) == dict.fromkeys(keys, "queued"))
    time.sleep(0.5)  # Nothing is sent ahead to a busy worker meanwhile.
    assert client.run_on_scheduler(states, keys) == dict.fromkeys(keys, "queued")
    assert STARTED == ["a", "b"]
    GATES["b"].set()  # One worker frees up: it takes the earlier run, the later one waits.
    until(lambda: len(STARTED) == 3)
    assert STARTED[2] == "earlier"
    assert client.run_on_scheduler(states, [later.key]) == {later.key: "queued"}
    local.scale(3)  # A worker that joins takes the queued run while the others are busy.
    until(lambda: len(STARTED) == 4, seconds=30)
    assert STARTED[3] == "later" and not GATES["a"].is_set()
    for gate in GATES.values():
        gate.set()
    assert [future.result(timeout=20) for future in [*busy, earlier, later]] == [
        "a",
        "b",
        "earlier",
        "later",
    ]


def test_the_scheduler_reports_its_worker_saturation(cluster):
    """What the engine reads from a cluster's scheduler it did not start (and warns about)."""
    _, client = cluster
    settings = client.run_on_scheduler(scheduler_settings)
    assert one_run_per_thread(settings)
    assert not one_run_per_thread({"worker-saturation": 1.1})  # Dask's default.
    assert not one_run_per_thread({"worker-saturation": "inf"})
    assert not one_run_per_thread({})
