"""The training engine with real worker processes and a real store: runs train, stop, continue,
survive a killed worker and a restarted server, and are stopped when their student is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from core import metrics, variants
from core.engine import HOST, LocalEngine
from core.runs import build_model, sample_indices, settings_for
from core.store import Store
from core.training import TrainConfig, load_splits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    opened = Store(f"sqlite:///{tmp_path_factory.mktemp('engine') / 'runs.sqlite'}")
    yield opened
    opened.close()


class Presence:
    """Stands in for the server's session registry: who has a page open."""

    def __init__(self):
        self.here: set[int] = set()

    def __call__(self) -> set[int]:
        return set(self.here)


@pytest.fixture(scope="module")
def presence():
    return Presence()


@pytest.fixture(scope="module")
def engine(store, presence):
    started = LocalEngine(store, capacity=1, live_students=presence, abandon_seconds=3.0)
    started.start()
    yield started
    started.shutdown()


@pytest.fixture(scope="module")
def splits():
    return load_splits()


def queue(store, presence, name="vanilla", present=True, **train) -> tuple[int, int]:
    student = store.new_student()[0]
    if present:
        presence.here.add(student)
    config = TrainConfig(**{"epochs": 2, "subset": 1000, "batch_size": 100, **train})
    run_id = store.create_run(
        student, name, settings_for(config, variants.make_config(name)), config.epochs
    )
    return student, run_id


def wait_for(store, run_id, condition, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.run(run_id)
        if condition(run):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} stuck: {store.run(run_id)}")


def ended(run) -> bool:
    return run is not None and not run.active


def test_a_run_trains_in_a_worker_and_everything_lands_in_the_store(
    store, engine, presence, splits
):
    _, run_id = queue(store, presence)
    run = wait_for(store, run_id, ended)
    assert run.status == "finished", run.message
    assert run.epochs_done == 2 and run.seconds > 0 and run.samples_per_second > 0
    losses = store.losses(run_id)
    assert len(losses.series["loss"]) == 20  # 2 epochs of 10 batches: every batch's loss.
    np.testing.assert_allclose(losses.x[:2], [0.1, 0.2])
    epochs = store.epochs(run_id)
    assert [e.epoch for e in epochs] == [0, 1, 2] and "val_loss" in epochs[2].logs
    # The checkpoint is the trained model: it reproduces the stored samples and metrics.
    epoch, weights = store.checkpoint(run_id)
    model = build_model("vanilla", run.settings)
    model.set_weights(weights)
    samples = splits.x_test[sample_indices(splits.y_test)]
    np.testing.assert_allclose(
        np.asarray(model(samples, training=False)), epochs[2].samples, atol=1 / 255
    )
    reconstructions = metrics.reconstruct(model, splits.x_test)
    assert epoch == 2 and run.metrics["test_images"] == 10000
    assert run.metrics["bce"] == pytest.approx(
        metrics.bce(splits.x_test, reconstructions).mean(), rel=1e-4
    )
    assert run.metrics["mse"] == pytest.approx(
        metrics.mse(splits.x_test, reconstructions).mean(), rel=1e-4
    )


def test_stop_keeps_the_weights_and_continue_finishes_the_plan(store, engine, presence):
    # 313 batches an epoch (about 2 s here), so the stop lands inside the planned epochs.
    student, run_id = queue(store, presence, epochs=4, subset=5000, batch_size=16)
    wait_for(store, run_id, lambda r: r.phase == "training")
    store.request_stop(run_id, student)
    store.request_stop(run_id, student)  # Pressing Stop twice is harmless.
    run = wait_for(store, run_id, ended)
    assert run.status == "stopped" and 1 <= run.epochs_done < 4 and run.metrics is not None
    stopped_at = run.epochs_done
    assert store.checkpoint(run_id)[0] == stopped_at
    batches_before = len(store.losses(run_id).x)
    store.continue_run(run_id, student)
    run = wait_for(store, run_id, ended)
    assert run.status == "finished" and run.epochs_done == 4, run.message
    assert [e.epoch for e in store.epochs(run_id)] == [0, 1, 2, 3, 4]
    losses = store.losses(run_id)
    assert len(losses.x) == batches_before + (4 - stopped_at) * 313  # The epochs left.
    assert np.all(np.diff(losses.x) > 0)  # One curve, continued where it stopped.


def test_the_second_run_waits_its_turn(store, engine, presence):
    _, first = queue(store, presence, epochs=3, subset=5000, batch_size=16)
    _, second = queue(store, presence)
    wait_for(store, first, lambda r: r.status == "running")
    assert store.run(second).status == "queued"
    assert store.queue_position(store.run(second)) == 1
    assert wait_for(store, first, ended).status == "finished"
    assert wait_for(store, second, ended).status == "finished"


def test_a_killed_worker_interrupts_its_run_and_keeps_the_checkpoint(store, engine, presence):
    student, run_id = queue(store, presence, epochs=40, subset=3000, batch_size=32)
    run = wait_for(store, run_id, lambda r: r.epochs_done >= 1)
    os.kill(int(run.worker.rpartition(":")[2]), signal.SIGKILL)
    run = wait_for(store, run_id, ended, timeout=30)
    assert run.status == "interrupted" and "exit code -9" in run.message
    assert store.checkpoint(run_id)[0] >= 1
    store.continue_run(run_id, student)  # A new worker picks it up from the checkpoint.
    wait_for(store, run_id, lambda r: r.status == "running" and r.phase == "training")
    store.request_stop(run_id, student)
    assert wait_for(store, run_id, ended).status == "stopped"


def test_a_run_whose_student_left_is_stopped_and_kept(store, engine, presence):
    _, run_id = queue(store, presence, present=False, epochs=40, subset=3000, batch_size=32)
    run = wait_for(store, run_id, ended, timeout=120)
    assert run.status == "stopped" and "no page of yours" in run.message


def test_an_exploding_loss_ends_as_diverged(store, engine, presence):
    _, run_id = queue(store, presence, learning_rate=10.0)
    run = wait_for(store, run_id, ended)
    assert run.status == "diverged" and "exploded" in run.message


def test_a_restarted_server_marks_its_dead_workers_runs_interrupted(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")  # No engine of the module's here.
    student = store.new_student()[0]
    run_id = store.create_run(student, "vanilla", {"train": {}, "model": {}}, 3)
    gone = subprocess.Popen(["true"])
    gone.wait()
    store.claim(run_id, f"{HOST}:{gone.pid}")  # Its worker died with the old server.
    fresh = LocalEngine(store, capacity=0)  # Trains nothing: only its start-up check runs.
    assert run_id in fresh.recover()
    run = store.run(run_id)
    assert run.status == "interrupted" and "server restarted" in run.message


def test_a_store_error_during_a_run_fails_it_with_a_message(tmp_path, splits):
    import sqlalchemy as sa

    from core.runs import train_run

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student = store.new_student()[0]
    config = TrainConfig(epochs=1, subset=500, batch_size=100)
    run_id = store.create_run(
        student, "vanilla", settings_for(config, variants.make_config("vanilla")), 1
    )
    store.claim(run_id, "test:0")
    with store.engine.begin() as connection:  # The table progress goes to is gone.
        connection.execute(sa.text("DROP TABLE loss_chunks"))
    assert train_run(store, run_id, splits) == "failed"
    run = store.run(run_id)
    assert run.status == "failed" and "the store failed during training" in run.message
    assert "no such table" in run.message
