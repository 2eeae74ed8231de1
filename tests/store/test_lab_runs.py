"""`core.lab.runs`, the one path every page takes for a run, on a real store (SQLite and
PostgreSQL): the store changes first and is what counts; the cluster is told after, and a
cluster that cannot be reached leaves the runs queued, not lost. The real cluster's side is
tested in tests/cluster."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.lab import classroom, runs
from core.store import Busy, LabBusy

QUICK = {"epochs": 3, "subset": 1000}


class Cluster:
    """The interface `core.lab.runs` uses (`core.cluster.client.Engine`'s `submit` and
    `cancel`), recording what it was told; `reachable=False` raises as the Engine does when
    its scheduler is away (`EngineUnavailable` is a `ConnectionError`)."""

    def __init__(self, reachable: bool = True):
        self.reachable = reachable
        self.submitted: list[int] = []
        self.cancelled: list[int] = []

    def submit(self, run_id: int) -> None:
        if not self.reachable:
            raise ConnectionError("the training cluster is not connected")
        self.submitted.append(run_id)

    def cancel(self, run_id: int) -> None:
        if not self.reachable:
            raise ConnectionError("the training cluster is not connected")
        self.cancelled.append(run_id)


def test_the_engines_refusal_is_what_the_lab_catches():
    from core.cluster.client import EngineUnavailable

    assert issubclass(EngineUnavailable, ConnectionError)


def test_a_run_is_queued_in_the_store_then_submitted(store):
    student, _ = store.new_student()
    cluster = Cluster()
    started = runs.start(store, cluster, student, [("vanilla", QUICK)])
    assert started.submitted and cluster.submitted == started.ids
    run = store.run(started.ids[0], student)
    assert run.status == "queued" and run.epochs_total == 3
    assert run.settings["train"]["subset"] == 1000


def test_an_unreachable_cluster_leaves_the_run_queued(store):
    student, _ = store.new_student()
    started = runs.start(store, Cluster(reachable=False), student, [("vanilla", QUICK)])
    assert not started.submitted
    assert store.run(started.ids[0], student).status == "queued"
    assert store.queued(10) == started.ids  # The cluster's client submits it once back.
    assert not runs.start(store, None, *store.new_student()[:1], [("deep", QUICK)]).submitted


def test_one_active_run_per_student_and_the_servers_limits(store):
    student, _ = store.new_student()
    runs.start(store, Cluster(), student, [("vanilla", QUICK)])
    with pytest.raises(Busy):
        runs.start(store, Cluster(), student, [("deep", QUICK)])
    limits = Settings(max_epochs=2, max_queued=1)
    other, _ = store.new_student()
    with pytest.raises(LabBusy):  # One run waits already: the server's queue is full.
        runs.start(store, Cluster(), other, [("vanilla", QUICK)], limits=limits)
    third, _ = store.new_student()
    started = runs.start(
        store, Cluster(), third, [("vanilla", QUICK)], limits=Settings(max_epochs=2)
    )
    assert store.run(started.ids[0], third).epochs_total == 2  # Clamped to the server's limit.


def test_a_lessons_locks_win_over_what_the_browser_sent(store):
    class_id, key = classroom.create_class(
        store, "Lesson", classroom.Setup(locks={"vanilla": {"code_size": 2}}, max_epochs=4)
    )
    student, _ = classroom.join(store, classroom.class_code(key))
    started = runs.start(store, Cluster(), student, [("vanilla", {"code_size": 32, "epochs": 9})])
    run = store.run(started.ids[0], student)
    assert run.settings["model"]["code_size"] == 2 and run.epochs_total == 4
    assert run.class_id == class_id


def test_a_race_queues_its_racers_together(store):
    student, _ = store.new_student()
    cluster = Cluster()
    started = runs.start(store, cluster, student, [("vanilla", QUICK), ("linear", QUICK)])
    assert len(started.ids) == 2 and cluster.submitted == started.ids
    with pytest.raises(classroom.ClassError):
        runs.start(store, cluster, *store.new_student()[:1], [("vanilla", QUICK)] * 5)


def test_leaving_the_queue_takes_the_task_out_and_stopping_waits_for_the_batch(store):
    student, _ = store.new_student()
    cluster = Cluster()
    queued = store.run(runs.start(store, cluster, student, [("vanilla", QUICK)]).ids[0], student)
    assert runs.stop(store, cluster, queued, student) == "left"
    assert cluster.cancelled == [queued.id]
    assert store.run(queued.id, student) is None  # Never started: nothing to keep.
    run_id = runs.start(store, cluster, student, [("vanilla", QUICK)]).ids[0]
    store.claim(run_id, "test:0")
    running = store.run(run_id, student)
    assert runs.stop(store, Cluster(reachable=False), running, student) == "stopping"
    assert store.run(run_id, student).stop_requested


def test_continue_and_delete(store):
    student, _ = store.new_student()
    run_id = runs.start(store, Cluster(), student, [("vanilla", QUICK)]).ids[0]
    store.claim(run_id, "test:0")
    store.finish(run_id, "interrupted", "its worker stopped")
    run = store.run(run_id, student)
    assert runs.continuable(run) and not runs.usable(run)  # No epoch trained: no weights.
    cluster = Cluster()
    assert runs.resume(store, cluster, run_id, student) and cluster.submitted == [run_id]
    assert store.run(run_id, student).status == "queued"
    assert not runs.delete(store, run_id, student)  # An active run is not deleted.
    store.request_stop(run_id, student)  # Leaves the queue: deleted, it never trained again.
    other = runs.start(store, cluster, student, [("linear", QUICK)]).ids[0]
    store.claim(other, "test:0")
    store.finish(other, "failed", "a test")
    assert runs.delete(store, other, student) and store.run(other, student) is None
