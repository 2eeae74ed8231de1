"""The run store against real databases: SQLite files and a PostgreSQL server.

`make test` runs these under scripts/with-postgresql, which starts a throwaway PostgreSQL
cluster and sets AE_TEST_POSTGRES_URL; run alone, the PostgreSQL half is skipped with a reason.
"""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest
import sqlalchemy as sa

from core.store import Busy, Refused, Store, StoreError, hash_token, schema

SETTINGS = {"train": {"epochs": 3, "batch_size": 64}, "model": {"code_size": 32}}


def new_run(store: Store, student: int | None = None, epochs: int = 3) -> tuple[int, int]:
    student = student or store.new_student()[0]
    return student, store.create_run(student, "vanilla", SETTINGS, epochs)


def test_migrations_build_exactly_the_schema_the_code_uses(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), schema.metadata)
        version = connection.execute(sa.text("select version_num from alembic_version")).scalar()
    assert differences == []
    assert version == "0006"
    Store(store.url).close()  # Opening again (a restart) migrates nothing and loses nothing.


def test_servers_opening_a_new_postgresql_database_at_once_migrate_it_once(postgres_url):
    """Several app servers and workers start together on an empty database (make cluster, a
    Kubernetes rollout): every one opens it, and the schema is built exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    # Without the migration lock the servers' DDL blocks on each other's: fail, do not hang.
    waiting = postgres_url + "?options=-c%20lock_timeout%3D30000"

    def open_store(_):
        opened = Store(waiting)
        opened.close()
        return True

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(open_store, range(6))) == [True] * 6
    checked = Store(postgres_url)
    with checked.engine.connect() as connection:
        versions = connection.execute(sa.text("select version_num from alembic_version")).all()
    assert [row[0] for row in versions] == ["0006"]
    student, run = new_run(checked)
    assert checked.run(run).student_id == student
    checked.close()


def test_tokens_are_long_random_and_only_their_hash_is_stored(store):
    first_id, first = store.new_student()
    second_id, second = store.new_student()
    assert first != second and len(first) >= 32  # 192 random bits, URL-safe.
    assert store.find_student(first) == first_id and store.find_student(second) == second_id
    with store.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(sa.select(schema.students.c.token_hash))]
    assert sorted(stored) == sorted([hash_token(first), hash_token(second)])
    assert first not in stored and second not in stored
    for garbage in (None, "", "nope", first + "x", "x" * 500, "' or 1=1 --"):
        assert store.find_student(garbage) is None


def test_one_active_run_per_student_and_only_their_own_runs(store):
    student, run_id = new_run(store)
    with pytest.raises(Busy):
        store.create_run(student, "deep", SETTINGS, 2)
    other, other_run = new_run(store)  # Another student may train at the same time.
    assert store.run(run_id, student).variant == "vanilla"
    assert store.run(run_id, other) is None  # Another student's link sees nothing of it.
    assert [run.id for run in store.runs(other)] == [other_run]
    store.request_stop(other_run, student)  # Not theirs: nothing happens.
    assert store.run(other_run).status == "queued"
    assert store.delete_run(run_id, other) is False


def test_queue_order_claim_and_positions(store):
    runs = [new_run(store)[1] for _ in range(3)]
    assert store.queued(10) == runs
    assert [store.queue_position(store.run(r)) for r in runs] == [1, 2, 3]
    assert store.claim(runs[0], "host:1") == 1  # The claim's attempt, which fences its writes.
    assert store.claim(runs[0], "host:2") is None  # Never trained twice.
    assert store.run(runs[0]).status == "running" and store.run(runs[0]).worker == "host:1"
    assert [store.queue_position(store.run(r)) for r in runs[1:]] == [1, 2]
    assert store.counts() == {"running": 1, "queued": 2}


def test_progress_losses_epochs_and_checkpoint_round_trip(store):
    _, run_id = new_run(store)
    store.claim(run_id, "host:1")
    store.add_losses(run_id, 0, 0, 4, {"loss": [0.7, 0.6]})
    store.add_losses(run_id, 0, 2, 4, {"loss": [0.5, None]})  # A diverged batch is null.
    store.add_losses(run_id, 1, 0, 4, {"loss": [0.4]})
    losses = store.losses(run_id)
    np.testing.assert_allclose(losses.x, [0.25, 0.5, 0.75, 1.0, 1.25])
    np.testing.assert_allclose(losses.series["loss"], [0.7, 0.6, 0.5, np.nan, 0.4])
    # A live view reads the first two chunks, then only what came after them.
    seen = store.losses(run_id)
    seen = type(seen)(seen.x[:4], {"loss": seen.series["loss"][:4]}, 2)
    newer = store.losses(run_id, after=seen.last_seq)
    assert len(newer.x) == 1 and newer.last_seq == 3
    both = seen.extend(newer)
    np.testing.assert_allclose(both.x, losses.x)
    np.testing.assert_allclose(both.series["loss"], losses.series["loss"])
    assert both.extend(store.losses(run_id, after=3)) is both  # Nothing new: unchanged.
    samples = np.linspace(0, 1, 8 * 28 * 28, dtype=np.float32).reshape(8, 28, 28, 1)
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
    store.add_epoch(run_id, 1, {"loss": 0.5, "val_loss": 0.45}, samples, weights, epochs_done=1)
    store.add_epoch(run_id, 2, {"loss": 0.4}, samples, [w * 2 for w in weights], epochs_done=2)
    epochs = store.epochs(run_id)
    assert [e.epoch for e in epochs] == [1, 2] and epochs[0].logs["val_loss"] == 0.45
    np.testing.assert_allclose(epochs[0].samples, samples, atol=0.5 / 255)  # Stored as uint8.
    np.testing.assert_allclose(store.samples(run_id, 2), samples, atol=0.5 / 255)
    assert store.samples(run_id, 7) is None
    epoch, stored = store.checkpoint(run_id)  # Only the latest checkpoint is kept.
    assert epoch == 2 and all(
        np.array_equal(a, w * 2) for a, w in zip(stored, weights, strict=True)
    )
    assert store.epoch_losses([run_id]) == {run_id: [0.5, 0.4]}
    assert store.run(run_id).epochs_done == 2


def test_stop_a_running_run_and_leave_the_queue(store):
    student, running = new_run(store)
    store.claim(running, "host:1")
    assert store.stop_wanted(running) is False
    store.request_stop(running, student)
    assert store.stop_wanted(running) is True and store.run(running).status == "running"
    store.finish(running, "stopped", "stopped by you", epochs_done=1)
    _, queued = new_run(store, student)
    store.request_stop(queued, student)  # Never started: nothing to keep.
    assert store.run(queued) is None
    store.finish(running, "finished")  # An ended run is never rewritten.
    assert store.run(running).status == "stopped"


def test_continue_a_stopped_run_until_its_planned_epochs(store):
    student, run_id = new_run(store, epochs=5)
    store.claim(run_id, "host:1")
    store.progress(run_id, epochs_done=2)
    store.finish(run_id, "stopped", "stopped by you")
    store.continue_run(run_id, student)
    run = store.run(run_id)
    assert run.status == "queued" and run.message is None and run.epochs_done == 2
    with pytest.raises(Busy):  # It counts as the student's one active run again.
        store.continue_run(run_id, student)
    store.claim(run_id, "host:2")
    store.finish(run_id, "finished", epochs_done=5)
    with pytest.raises(Refused, match="cannot be continued"):  # A message, not a failure.
        store.continue_run(run_id, student)


def test_delete_removes_everything_the_run_stored(store):
    student, run_id = new_run(store)
    store.claim(run_id, "host:1")
    store.add_losses(run_id, 0, 0, 2, {"loss": [0.5]})
    store.add_epoch(run_id, 1, {}, np.zeros((8, 28, 28, 1)), [np.zeros(2)])
    assert store.delete_run(run_id, student) is False  # Running: stop it first.
    store.finish(run_id, "finished")
    assert store.delete_run(run_id, student) is True
    with store.engine.connect() as connection:
        for table in (schema.loss_chunks, schema.epochs, schema.checkpoints, schema.runs):
            assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


def test_abandoned_runs_are_stopped_and_kept(store):
    gone, running = new_run(store)
    store.claim(running, "host:1")
    _, waiting = new_run(store, store.new_student()[0])
    here, mine = new_run(store)
    now = time.time()
    store.touch_students([gone], now=now - 300)
    store.touch_students([store.run(waiting).student_id], now=now - 300)
    store.touch_students([here], now=now)
    assert sorted(store.abandon(120, now=now)) == sorted([running, waiting])
    assert store.run(running).status == "running" and store.stop_wanted(running)
    assert store.run(waiting).status == "stopped"  # Its settings are kept, not deleted.
    assert "no page of yours" in store.run(waiting).message
    assert store.run(mine).status == "queued"


def test_limits_prune_the_oldest_runs_and_old_students(store):
    student = store.new_student()[0]
    ids = []
    for _ in range(4):
        run_id = store.create_run(student, "vanilla", SETTINGS, 1, max_runs=3)
        store.claim(run_id, "host:1")
        store.finish(run_id, "finished")
        ids.append(run_id)
    assert [run.id for run in store.runs(student)] == ids[::-1][:3]  # The oldest went.
    assert store.prune(max_runs=2, retention_days=30) == 1
    assert [run.id for run in store.runs(student)] == ids[::-1][:2]
    idle = store.new_student()[0]
    store.touch_students([idle], now=time.time() - 40 * 86400)
    assert store.prune(max_runs=30, retention_days=30, now=time.time() + 31 * 86400) == 2
    assert store.runs(student) == []
    with store.engine.connect() as connection:
        left = connection.execute(sa.select(sa.func.count()).select_from(schema.students)).scalar()
    assert left == 0  # Students with nothing left and not seen for the retention time.


def test_summary_counts_runs_and_bytes(store):
    _, run_id = new_run(store)
    store.claim(run_id, "host:1")
    store.add_epoch(run_id, 1, {}, np.zeros((8, 28, 28, 1)), [np.zeros(1000, np.float32)])
    summary = store.summary()
    assert summary["students"] == 1 and summary["runs"] == {"running": 1}
    assert summary["bytes"]["samples"] == 8 * 28 * 28
    assert summary["bytes"]["checkpoints"] > 4000  # 1,000 float32 weights in an .npz.
    assert summary["database_bytes"] > 0
    assert "password" not in summary["url"]


def test_sqlite_runs_in_wal_mode(tmp_path):
    Store(f"sqlite:///{tmp_path / 'runs.sqlite'}").close()
    with sqlite3.connect(tmp_path / "runs.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_corrupt_sqlite_file_is_a_clear_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Store(f"sqlite:///{path}")


def test_a_read_only_sqlite_file_is_a_clear_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    Store(f"sqlite:///{path}").close()
    # Opened read-only through SQLite's URI mode: file permissions do not stop root.
    store = Store(f"sqlite:///file:{path}?mode=ro&uri=true", migrate=False)
    with pytest.raises(StoreError, match=r"readonly|read-only"):
        store.new_student()


def test_an_unreachable_postgresql_fails_fast_without_the_password(tmp_path):
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        Store("postgresql+psycopg://lab:secret@127.0.0.1:1/lab")
    assert time.monotonic() - started < 15
    assert "secret" not in str(raised.value) and "127.0.0.1" in str(raised.value)


def test_a_continued_runs_redone_epoch_replaces_the_batches_its_stop_cut(store):
    # A stop in the middle of epoch 2 keeps epoch 1's checkpoint; continuing redoes epoch 2
    # from its start, and the chart must not draw the cut batches and the redone ones twice.
    _, run_id = new_run(store, epochs=3)
    attempt = store.claim(run_id, "host:1")
    store.add_losses(run_id, 0, 0, 4, {"loss": [4.0, 3.0, 2.0, 1.0]}, attempt=attempt)
    store.add_losses(run_id, 1, 0, 4, {"loss": [0.9, 0.8]}, attempt=attempt)  # Cut here.
    seen = store.losses(run_id)  # What a live view held when the run stopped.
    store.add_losses(run_id, 1, 0, 4, {"loss": [0.7, 0.6, 0.5, 0.4]}, attempt=attempt)
    whole = store.losses(run_id)
    assert whole.x.tolist() == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert whole.series["loss"].tolist() == [4.0, 3.0, 2.0, 1.0, 0.7, 0.6, 0.5, 0.4]
    live = seen.extend(store.losses(run_id, after=seen.last_seq))
    assert live.x.tolist() == whole.x.tolist()
    assert live.series["loss"].tolist() == whole.series["loss"].tolist()
