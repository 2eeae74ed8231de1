"""The store's invariants held by the database, against SQLite and a real PostgreSQL server:
ids never reused, one active run per student under real concurrency, leaving the queue that
cannot be lost to a claim, and every worker write fenced by its claim.

Each test here failed on the store before these invariants moved into the database (issue 25).
"""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from core.lab import classroom
from core.store import (
    Busy,
    Conflict,
    Fenced,
    LabBusy,
    Refused,
    Store,
    StoreError,
    StoreUnavailable,
    schema,
)

SETTINGS = {"train": {"epochs": 3, "batch_size": 64}, "model": {"code_size": 32}}
SAMPLES = np.zeros((8, 28, 28, 1), np.float32)
RACERS = [("vanilla", SETTINGS, 3), ("deep", SETTINGS, 3)]


def together(count: int, action) -> list:
    """Run `action(i)` in `count` threads released at the same instant; their results (or
    the exceptions they raised), in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as error:  # Collected: the test decides what was allowed.
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_run_and_student_ids_are_never_reused(store):
    # On SQLite, student A's finished and deleted run 1 was given to student B's next run, and
    # every cache keyed on the id served B the deleted weights.
    first, _ = store.new_student()
    run = store.create_run(first, "vanilla", SETTINGS, 3)
    store.request_stop(run, first)  # Never started: deleted with everything it had.
    assert store.run(run) is None
    second, _ = store.new_student()
    again = store.create_run(second, "vanilla", SETTINGS, 3)
    assert again > run
    assert store.run(again).uid != ""
    store.request_stop(again, second)
    store.prune(max_runs=0, retention_days=0, now=10**12)  # Deletes both students too.
    third, _ = store.new_student()
    assert third > second


def test_a_runs_uid_is_random_and_is_what_its_cache_key_names(store):
    student, _ = store.new_student()
    ids = store.create_runs(student, [("vanilla", SETTINGS, 3), ("deep", SETTINGS, 3)])
    uids = {store.run(run_id).uid for run_id in ids}
    assert len(uids) == 2 and all(len(uid) == 32 for uid in uids)
    found = store.run(ids[0])
    assert found.key == f"run-{found.uid}@0"


def test_an_existing_sqlite_database_keeps_its_rows_and_ids_through_the_migration(tmp_path):
    from tests.support.stores import store_at_revision

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with store_at_revision(tmp_path / "old.sqlite", "0003") as connection:
        student = connection.execute(
            sa.text(
                "insert into students (token_hash, created_at, last_seen_at, on_board) "
                "values ('h', 0, 0, 1)"
            )
        ).lastrowid
        for status in ("finished", "queued", "queued"):  # A race of two, still waiting.
            connection.execute(
                sa.text(
                    "insert into runs (student_id, variant, settings, status, stop_requested, "
                    "created_at, queued_at, epochs_total, epochs_done, seconds) values "
                    f"({student}, 'vanilla', '{{}}', '{status}', 0, 0, 0, 3, 0, 0)"
                )
            )
        connection.execute(sa.text("delete from runs where id = 3"))
        connection.execute(
            sa.text(
                "insert into runs (student_id, variant, settings, status, stop_requested, "
                "created_at, queued_at, epochs_total, epochs_done, seconds) values "
                f"({student}, 'deep', '{{}}', 'queued', 0, 0, 0, 3, 0, 0)"
            )
        )
    store = Store(url)  # Migrates to head.
    rows = {run.id: run for run in store.runs(student)}
    assert sorted(rows) == [1, 2, 3]
    assert [rows[i].status for i in (1, 2, 3)] == ["finished", "queued", "queued"]
    assert {rows[2].lane, rows[3].lane} == {0, 1}  # The racers each got a lane.
    assert len({run.uid for run in rows.values()}) == 3
    store.request_stop(3, student)  # The newest, deleted: its id must not come back.
    store.request_stop(2, student)
    assert store.create_run(student, "vanilla", SETTINGS, 3) == 4
    with sqlite3.connect(tmp_path / "old.sqlite") as raw:
        sql = raw.execute("select sql from sqlite_master where name = 'runs'").fetchone()[0]
    assert "AUTOINCREMENT" in sql


def test_two_train_presses_at_once_queue_one_run(store):
    # The check was a read followed by an insert: two presses at once (two tabs, a double
    # click, PostgreSQL under load) could both queue a run.
    for _ in range(15):
        student, _ = store.new_student()
        results = together(4, lambda _, s=student: store.create_run(s, "vanilla", SETTINGS, 3))
        created = [result for result in results if isinstance(result, int)]
        refused = [result for result in results if isinstance(result, Busy)]
        assert len(created) == 1, results
        assert len(refused) == 3, results  # A refusal the page explains, not a store failure.
        assert len([run for run in store.runs(student) if run.active]) == 1


def test_a_race_and_a_run_started_at_once_do_not_both_queue(store):
    for _ in range(10):
        student, _ = store.new_student()
        results = together(
            2,
            lambda index, s=student: (
                store.create_runs(s, RACERS, race=True)
                if index
                else store.create_run(s, "vanilla", SETTINGS, 3)
            ),
        )
        assert len([r for r in results if isinstance(r, Busy)]) == 1, results
        active = [run for run in store.runs(student) if run.active]
        assert len(active) in (1, 2) and len({run.settings.get("race") for run in active}) == 1


def test_two_continue_presses_at_once_queue_one_run(store):
    student, _ = store.new_student()
    ids = []
    for _ in range(2):
        run_id = store.create_run(student, "vanilla", SETTINGS, 3)
        attempt = store.claim(run_id, "w:1")
        store.add_epoch(run_id, 1, {}, SAMPLES, [np.zeros(2)], attempt=attempt, epochs_done=1)
        store.finish(run_id, "stopped", attempt=attempt)
        ids.append(run_id)
    for _ in range(10):
        results = together(2, lambda index: store.continue_run(ids[index], student))
        assert len([r for r in results if isinstance(r, Busy)]) == 1, results
        active = [run for run in store.runs(student) if run.active]
        assert len(active) == 1
        store.request_stop(active[0].id, student)  # Back to stopped (it has epochs).


def test_leaving_the_queue_is_never_lost_to_a_claim_landing_at_once(store):
    # request_stop was three statements; a claim landing between them lost the request and
    # the run trained on.
    for round_ in range(25):
        student, _ = store.new_student()
        run_id = store.create_run(student, "vanilla", SETTINGS, 3)
        results = together(
            2,
            lambda index, r=run_id, s=student, w=f"w:{round_}": (
                store.claim(r, w) if index else store.request_stop(r, s)
            ),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        run = store.run(run_id)
        if run is None:  # Left the queue before the claim: deleted, and the claim failed.
            assert results[1] is None
        else:  # Claimed first: it trains, and stops at its next look at the flag.
            assert run.status == "running" and run.stop_requested, run
            assert store.stop_wanted(run_id, attempt=results[1])


def test_a_claim_is_made_once_under_concurrency(store):
    for _ in range(10):
        student, _ = store.new_student()
        run_id = store.create_run(student, "vanilla", SETTINGS, 3)
        results = together(3, lambda index, r=run_id: store.claim(r, f"w:{index}"))
        assert sorted(results, key=lambda r: r is None)[1:] == [None, None], results
        assert store.run(run_id).attempt == 1
        store.finish(run_id, "finished")


def test_a_worker_that_lost_its_claim_writes_nothing(store):
    # progress, add_epoch and finish did not check that the writer still owned the run: a
    # worker declared lost that came back wrote over the run another worker continued.
    student, _ = store.new_student()
    run_id = store.create_run(student, "vanilla", SETTINGS, 5)
    old = store.claim(run_id, "old:1")
    store.add_epoch(run_id, 1, {"loss": 1.0}, SAMPLES, [np.ones(2)], attempt=old, epochs_done=1)
    # Taken for dead (a sweep), then continued by its student and claimed by another worker.
    assert store.finish(run_id, "interrupted", "lost", attempt=old)
    store.continue_run(run_id, student)
    new = store.claim(run_id, "new:1")
    assert new == old + 1
    store.add_epoch(
        run_id,
        2,
        {"loss": 0.5},
        SAMPLES,
        [np.full(2, 2.0)],
        attempt=new,
        epochs_done=2,
        bundle=b"epoch 2's",
    )
    # The old worker wakes up (SIGCONT, a healed network split) and writes.
    with pytest.raises(Fenced):
        store.progress(run_id, attempt=old, epochs_done=9, batch=3)
    with pytest.raises(Fenced):
        store.add_epoch(
            run_id,
            3,
            {"loss": 9.0},
            SAMPLES,
            [np.full(2, 9.0)],
            attempt=old,
            epochs_done=3,
            bundle=b"stale",
        )
    with pytest.raises(Fenced):
        store.add_bundle(run_id, 3, b"stale", attempt=old)
    with pytest.raises(Fenced):
        store.add_losses(run_id, 2, 0, 10, {"loss": [9.0]}, attempt=old)
    assert store.stop_wanted(run_id, attempt=old)
    assert not store.finish(run_id, "failed", "stale", attempt=old)
    run = store.run(run_id)
    assert (run.status, run.epochs_done, run.worker, run.batch) == ("running", 2, "new:1", None)
    assert store.checkpoint(run_id)[0] == 2
    np.testing.assert_array_equal(store.checkpoint(run_id)[1][0], np.full(2, 2.0))
    assert store.bundle(run_id) == (2, b"epoch 2's")  # The checkpoint's, written with it.
    assert [epoch.epoch for epoch in store.epochs(run_id)] == [1, 2]
    assert len(store.losses(run_id).x) == 0
    assert not store.stop_wanted(run_id, attempt=new)
    assert store.finish(run_id, "finished", attempt=new)


@pytest.mark.slow  # Trains.
def test_a_stale_worker_stops_itself_at_its_first_write(store, tmp_path, splits):
    # The whole task, as a worker runs it: its claim is gone before it starts writing, so it
    # returns without touching the run that another claim holds.
    from core.cluster import job as runs
    from core.ml import variants
    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig

    student, _ = store.new_student()
    config = TrainConfig(epochs=2, subset=256, batch_size=64)
    run_id = store.create_run(
        student, "vanilla", settings_for(config, variants.make_config("vanilla")), 2
    )
    old = store.claim(run_id, "old:1")
    store.finish(run_id, "interrupted", attempt=old)
    store.request_stop(run_id, student)  # No-op: it is not queued or running.
    with store._transaction() as connection:  # Continued with no epoch yet (a test shortcut).
        connection.execute(
            schema.runs.update().where(schema.runs.c.id == run_id).values(status="queued")
        )
    new = store.claim(run_id, "new:1")
    assert runs.train_run(store, run_id, splits, attempt=old) == "fenced"
    run = store.run(run_id)
    assert (run.status, run.attempt, run.worker, run.epochs_done) == ("running", new, "new:1", 0)
    assert store.epochs(run_id) == [] and len(store.losses(run_id).x) == 0


def test_the_server_queue_cap_refuses_with_a_message(store):
    students = [store.new_student()[0] for _ in range(3)]
    store.create_run(students[0], "vanilla", SETTINGS, 3, max_queued=2)
    store.create_run(students[1], "vanilla", SETTINGS, 3, max_queued=2)
    with pytest.raises(LabBusy, match=r"the lab is busy.*try again in a minute"):
        store.create_run(students[2], "vanilla", SETTINGS, 3, max_queued=2)
    assert not store.runs(students[2])


def test_refusals_are_not_store_failures(store):
    # ClassError subclassed StoreError: a teacher's second Remove of the same challenge
    # tripped the server-wide "store unavailable" latch for every student for 30 s.
    assert not issubclass(classroom.ClassError, StoreError)
    assert issubclass(Busy, Refused) and not issubclass(Busy, StoreError)
    _, key = classroom.create_class(store, "Lesson")
    challenge = classroom.add_challenge(
        store, key, classroom.Challenge(title="Best BCE", metric="bce")
    )
    results = together(2, lambda index: classroom.remove_challenge(store, key, challenge))
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) <= 1 and all(isinstance(r, classroom.ClassError) for r in failures)
    with pytest.raises(classroom.ClassError, match="removed already"):
        classroom.remove_challenge(store, key, challenge)
    with pytest.raises(classroom.ClassError, match="teacher link is not valid"):
        classroom.remove_challenge(store, "wrong-key", challenge)
    student, _ = store.new_student()
    run_id = store.create_run(student, "vanilla", SETTINGS, 3)
    store.finish(run_id, "finished", attempt=store.claim(run_id, "w:1"))
    with pytest.raises(Refused, match="cannot be continued"):
        store.continue_run(run_id, student)


def test_only_a_lost_database_is_unavailable(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'lab.sqlite'}")
    student, _ = store.new_student()
    store.create_run(student, "vanilla", SETTINGS, 3)
    # The index said no: not a lost database.
    with pytest.raises(Conflict) as raised, store._transaction() as connection:
        connection.execute(
            schema.runs.insert().values(
                student_id=student,
                variant="vanilla",
                settings={},
                status="queued",
                stop_requested=False,
                created_at=0,
                queued_at=0,
                epochs_total=1,
                epochs_done=0,
                seconds=0,
                uid="x" * 32,
            )
        )
    assert not isinstance(raised.value, StoreUnavailable)
    store.engine.dispose()
    (tmp_path / "lab.sqlite").write_bytes(b"this is not a database file at all" * 200)
    with pytest.raises(StoreUnavailable):
        store.runs(student)


def test_a_silent_run_is_interrupted_after_the_lost_worker_limit(store, monkeypatch):
    """AE_LOST_WORKER_SECONDS: silent past it with its worker gone, or past twice it with its
    worker still listed (frozen), a running run ends interrupted; a fresher one is left alone."""
    import time

    from core.cluster.housekeeping import interrupt_lost

    monkeypatch.setenv("AE_LOST_WORKER_SECONDS", "8")
    runs = {}
    for name, silent in (("gone", 10), ("frozen", 10), ("frozen long", 20), ("gone fresh", 6)):
        run_id = store.create_run(store.new_student()[0], "vanilla", SETTINGS, 3)
        store.claim(run_id, f"{name}:1")
        with store.engine.begin() as connection:
            connection.execute(
                schema.runs.update()
                .where(schema.runs.c.id == run_id)
                .values(heartbeat_at=time.time() - silent)
            )
        runs[name] = run_id
    interrupt_lost(store, workers={"frozen:1", "frozen long:1"})
    statuses = {name: store.run(run_id).status for name, run_id in runs.items()}
    assert statuses == {
        "gone": "interrupted",
        "frozen": "running",
        "frozen long": "interrupted",
        "gone fresh": "running",
    }
