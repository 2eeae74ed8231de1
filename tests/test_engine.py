"""The training engine on a real local Dask cluster and a real store: two runs train at once,
a queued run is cancelled, a running one stopped and continued, a SIGKILLed worker interrupts
its run (checkpoint kept) and the next run trains, a task that raises fails its run, an
external scheduler is used as it is, and an unreachable one is reported, not raised."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core import metrics, variants
from core.engine import Engine, EngineUnavailable
from core.runs import build_model, sample_indices, settings_for, train_run
from core.store import Store
from core.training import TrainConfig, load_splits
from tests.conftest import free_port

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
    """The embedded cluster: a scheduler and up to two training workers, as the app runs it."""
    started = Engine(store, capacity=2, live_students=presence, abandon_seconds=3.0).start()
    assert started.wait_connected(60), started.error
    yield started
    started.shutdown()
    assert all(p.poll() is not None for p in started.worker_processes)


@pytest.fixture(scope="module")
def splits():
    return load_splits()


def queue(store, presence, name="vanilla", present=True, engine=None, **train):
    """A run queued as the Train page queues it: a row in the store, then its task."""
    student = store.new_student()[0]
    if present:
        presence.here.add(student)
    config = TrainConfig(**{"epochs": 2, "subset": 1000, "batch_size": 100, **train})
    run_id = store.create_run(
        student, name, settings_for(config, variants.make_config(name)), config.epochs
    )
    if engine is not None:
        engine.submit(run_id)
    return student, run_id


def worker_pid(engine, address: str) -> int:
    return engine.client.run(os.getpid, workers=[address])[address]


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
    _, run_id = queue(store, presence, engine=engine)
    run = wait_for(store, run_id, ended)
    assert run.status == "finished", run.message
    assert run.worker in engine.client.scheduler_info(n_workers=-1)["workers"]
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
    student, run_id = queue(store, presence, engine=engine, epochs=4, subset=5000, batch_size=16)
    wait_for(store, run_id, lambda r: r.phase == "training")
    store.request_stop(run_id, student)
    store.request_stop(run_id, student)  # Pressing Stop twice is harmless.
    run = wait_for(store, run_id, ended)
    assert run.status == "stopped" and 1 <= run.epochs_done < 4 and run.metrics is not None
    stopped_at = run.epochs_done
    assert store.checkpoint(run_id)[0] == stopped_at
    batches_before = len(store.losses(run_id).x)
    store.continue_run(run_id, student)
    engine.submit(run_id)  # A new task under a new key: the first one's is spent.
    run = wait_for(store, run_id, ended)
    assert run.status == "finished" and run.epochs_done == 4, run.message
    assert [e.epoch for e in store.epochs(run_id)] == [0, 1, 2, 3, 4]
    losses = store.losses(run_id)
    assert len(losses.x) == batches_before + (4 - stopped_at) * 313  # The epochs left.
    assert np.all(np.diff(losses.x) > 0)  # One curve, continued where it stopped.


def test_two_workers_train_two_runs_at_once_and_a_third_waits(store, engine, presence):
    # Long enough (about 15 s each here) for the second worker to start while the first trains.
    runs = [
        queue(store, presence, engine=engine, epochs=8, subset=5000, batch_size=16)[1]
        for _ in range(3)
    ]
    both = wait_for(
        store, runs[0], lambda r: r.status == "running" and store.run(runs[1]).status == "running"
    )
    assert both.worker != store.run(runs[1]).worker  # Two workers, one run each.
    third = store.run(runs[2])
    assert third.status == "queued" and store.queue_position(third) == 1
    assert len(engine.worker_processes) == 2  # The embedded cluster grew to its capacity.
    for run_id in runs:
        assert wait_for(store, run_id, ended).status == "finished"


def test_leaving_the_queue_cancels_the_task(store, engine, presence):
    busy = [
        queue(store, presence, engine=engine, epochs=3, subset=5000, batch_size=16)
        for _ in range(2)
    ]
    student, waiting = queue(store, presence, engine=engine)
    wait_for(store, busy[1][1], lambda r: r.status == "running")
    future = engine.futures[waiting]
    store.request_stop(waiting, student)  # What "Leave the queue" does, then:
    engine.cancel(waiting)
    assert store.run(waiting) is None  # Never started: nothing to keep.
    deadline = time.monotonic() + 10
    while future.status != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert future.status == "cancelled"
    for _, run_id in busy:
        assert wait_for(store, run_id, ended).status == "finished"


def test_a_killed_worker_interrupts_its_run_and_the_next_run_trains(store, engine, presence):
    student, run_id = queue(store, presence, engine=engine, epochs=40, subset=3000, batch_size=32)
    run = wait_for(store, run_id, lambda r: r.epochs_done >= 1)
    os.kill(worker_pid(engine, run.worker), signal.SIGKILL)
    run = wait_for(store, run_id, ended, timeout=60)
    assert run.status == "interrupted" and "training worker stopped" in run.message
    assert store.checkpoint(run_id)[0] >= 1
    _, following = queue(store, presence, engine=engine)
    assert wait_for(store, following, ended).status == "finished"
    store.continue_run(run_id, student)  # From its checkpoint, in whichever worker is free.
    engine.submit(run_id)
    run = wait_for(store, run_id, lambda r: r.status == "running" and r.phase == "training")
    assert run.epochs_done >= 1
    store.request_stop(run_id, student)
    assert wait_for(store, run_id, ended).status == "stopped"


def test_a_task_that_raises_fails_its_run_with_the_message(store, engine, presence):
    _, run_id = queue(store, presence, engine=engine, batch_size=0)  # Keras refuses batch 0.
    run = wait_for(store, run_id, ended)
    assert run.status == "failed" and run.message


def test_a_run_whose_student_left_is_stopped_and_kept(store, engine, presence):
    _, run_id = queue(
        store, presence, engine=engine, present=False, epochs=40, subset=3000, batch_size=32
    )
    run = wait_for(store, run_id, ended, timeout=120)
    assert run.status == "stopped" and "no page of yours" in run.message


def test_an_exploding_loss_ends_as_diverged(store, engine, presence):
    _, run_id = queue(store, presence, engine=engine, learning_rate=10.0)
    run = wait_for(store, run_id, ended)
    assert run.status == "diverged" and "exploded" in run.message


def test_a_queued_run_left_by_a_gone_server_is_submitted_by_the_engine(store, engine, presence):
    _, run_id = queue(store, presence)  # In the store only: its server died before submitting.
    assert wait_for(store, run_id, ended, timeout=120).status == "finished"


def test_the_few_label_experiment_runs_in_a_worker(engine):
    scores = engine.call("core.tasks.few_labels", "deep", 10, 0, timeout=120)
    assert set(scores) == {"raw pixels", "frozen encoder", "fine-tuned encoder"}
    assert all(0.2 < value <= 1.0 for value in scores.values())  # Well above chance (0.1).


def claimed_run(tmp_path) -> tuple[Store, int]:
    """A new store with one short vanilla run, claimed as a worker claims it."""
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student = store.new_student()[0]
    config = TrainConfig(epochs=1, subset=500, batch_size=100)
    run_id = store.create_run(
        student, "vanilla", settings_for(config, variants.make_config("vanilla")), 1
    )
    assert store.claim(run_id, "test:0")
    return store, run_id


def test_the_task_body_trains_without_dask(tmp_path, splits):
    """`core.runs.train_run`, store in, store out: no scheduler, no worker."""
    store, run_id = claimed_run(tmp_path)
    assert train_run(store, run_id, splits) == "finished"
    run = store.run(run_id)
    assert run.status == "finished" and run.epochs_done == 1
    assert len(store.losses(run_id).x) == 5 and store.checkpoint(run_id)[0] == 1
    assert 0 < run.metrics["bce"] < 0.7


def test_a_store_error_during_a_run_fails_it_with_a_message(tmp_path, splits):
    import sqlalchemy as sa

    store, run_id = claimed_run(tmp_path)
    with store.engine.begin() as connection:  # The table progress goes to is gone.
        connection.execute(sa.text("DROP TABLE loss_chunks"))
    assert train_run(store, run_id, splits) == "failed"
    run = store.run(run_id)
    assert run.status == "failed" and "the store failed during training" in run.message
    assert "no such table" in run.message


def test_an_external_scheduler_and_a_worker_started_by_hand(tmp_path, presence):
    """AE_DASK_SCHEDULER's path: `dask scheduler` and `python -m core.worker ADDRESS`, as the
    README gives them; the app starts nothing and trains there."""
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    address = f"tcp://127.0.0.1:{free_port()}"
    environment = {**os.environ, "AE_DATABASE_URL": store.url, "TF_CPP_MIN_LOG_LEVEL": "2"}
    bin_dir = os.path.dirname(sys.executable)
    scheduler = subprocess.Popen(
        [
            f"{bin_dir}/dask",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rpartition(":")[2],
            "--no-dashboard",
        ],
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "core.worker", address], env=environment, stderr=subprocess.DEVNULL
    )
    external = Engine(store, capacity=1, scheduler=address, live_students=presence)
    try:
        assert external.start().wait_connected(60), external.error
        _, run_id = queue(store, presence, engine=external)
        run = wait_for(store, run_id, ended)
        assert run.status == "finished", run.message
        assert external.worker_processes == [] and external.scheduler_process is None
        assert run.worker in external.client.scheduler_info(n_workers=-1)["workers"]
    finally:
        external.shutdown()
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def test_an_unreachable_scheduler_is_reported_not_raised(tmp_path, presence):
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    nowhere = Engine(store, scheduler=f"tcp://127.0.0.1:{free_port()}").start()
    try:
        assert not nowhere.wait_connected(30)
        assert "cannot be reached" in nowhere.error
        _, run_id = queue(store, presence)
        with pytest.raises(EngineUnavailable):
            nowhere.submit(run_id)
        assert store.run(run_id).status == "queued"  # Kept, for when the cluster is back.
    finally:
        nowhere.shutdown()


def test_the_first_run_after_the_workers_retired_says_it_waits_for_one(tmp_path, presence):
    """No worker running (retired, or never started): the queued run's message, which the
    Train page shows, says a worker is starting; once the run trains the message is gone."""
    from core.engine import STARTING_MESSAGE

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    cold = Engine(store, capacity=1, live_students=presence).start()
    try:
        assert cold.wait_connected(60), cold.error
        assert cold.worker_processes == []  # Nothing asked for a worker yet.
        _, run_id = queue(store, presence, engine=cold)
        assert wait_for(store, run_id, lambda r: r.message == STARTING_MESSAGE, timeout=10)
        run = wait_for(store, run_id, ended)
        assert run.status == "finished" and run.message is None
    finally:
        cold.shutdown()


def test_a_second_task_for_a_running_run_leaves_it_alone(store, engine, presence):
    """Another server (or a resubmission) may queue a run's task twice: the second one loses
    the claim, and must neither train it nor mark it interrupted."""

    student, run_id = queue(store, presence, engine=engine, epochs=40, subset=5000, batch_size=16)
    wait_for(store, run_id, lambda r: r.phase == "training")
    # As an engine call it counts as work: a second worker starts if none is free.
    again = engine.call("core.tasks.train_run", run_id, store.display_url, timeout=120)
    assert again is None
    run = store.run(run_id)
    assert run.status == "running" and run.message is None
    store.request_stop(run_id, student)
    assert wait_for(store, run_id, ended).status == "stopped"
