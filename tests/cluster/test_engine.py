"""The training engine on the session's warm embedded cluster (tests/support/cluster.py: two
training workers that have loaded TensorFlow) and a real store: a run trains and lands in the
store, two train at once and a third waits for the first free worker, a queued run is
cancelled, a running one stopped and continued, a task that raises fails its run, a SIGKILLed
worker interrupts its run (checkpoint kept) and the next run trains. The embedded cluster
speaks TLS and refuses peers without its certificate. Runs that only show orchestration are
stopped once seen running, not trained to their end.

Schedulers the engine does not share with other tests (external, cold, hung, frozen) are in
test_schedulers.py.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from core.cluster import housekeeping, tasks
from core.cluster.job import train_run
from core.ml import metrics, onnx_export, variants
from core.ml.choices import build_model, settings_for
from core.ml.data import sample_indices
from core.ml.served import Served
from core.ml.training import TrainConfig
from core.store import Store
from tests.cluster.helpers import identity, worker_pid
from tests.support.cluster import ended, queue_run, wait_for_run

pytestmark = pytest.mark.slow

# Long enough never to end by itself while a test looks at it: such runs are stopped.
LONG = {"epochs": 40, "subset": 5000, "batch_size": 16}


@pytest.fixture(scope="module")
def engine(warm_engine):
    """The warm engine, sweeping every second (a server sweeps every 10 s): the tests of
    abandoned and orphaned runs wait for a sweep."""
    warm_engine.sweep_seconds = 1.0
    yield warm_engine
    warm_engine.sweep_seconds = housekeeping.SWEEP_SECONDS


@pytest.fixture(scope="module")
def store(warm_store):
    return warm_store


@pytest.fixture(scope="module")
def presence(warm_presence):
    return warm_presence


def queue(store, presence, **settings):
    return queue_run(store, presence, **settings)


def stop(store, run_id: int, student: int) -> None:
    """Press Stop and wait until the run has stopped."""
    store.request_stop(run_id, student)
    assert wait_for_run(store, run_id, ended).status == "stopped"


def test_a_run_trains_in_a_worker_and_everything_lands_in_the_store(
    store, engine, presence, splits
):
    _, run_id = queue(store, presence, engine=engine)
    run = wait_for_run(store, run_id, ended)
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
    # What the web tier runs of it (core.ml.served), exported by the worker: the checkpoint's
    # model under ONNX Runtime, within float32 rounding of Keras.
    bundle_epoch, data = store.bundle(run_id)
    assert bundle_epoch == 2
    served_model = Served(data)
    np.testing.assert_allclose(
        served_model(samples), np.asarray(model(samples, training=False)), atol=1e-5
    )


def test_the_embedded_cluster_refuses_peers_without_its_certificate(engine):
    """The scheduler and the workers listen on loopback over TLS only: a plain-tcp client, and a
    client whose certificate another CA signed (even one that trusts the cluster's CA), are
    refused by both; the engine's own certificate is let in (the same requests, so a refusal
    is the certificate's doing)."""
    from distributed import Client
    from distributed.security import Security

    workers = list(engine.client.scheduler_info(n_workers=-1)["workers"])
    assert workers and engine.address.startswith("tls://127.0.0.1:")
    assert all(address.startswith("tls://127.0.0.1:") for address in workers)
    plain = Security()
    foreign = Security.temporary()  # Another CA's certificate ...
    foreign.tls_ca_file = engine.security.tls_ca_file  # ... that trusts the cluster's CA.
    for address in [engine.address, workers[0]]:
        assert identity(address, engine.security)["type"] in {"Scheduler", "Worker"}
        started = time.monotonic()
        with pytest.raises(OSError):  # Dask's CommClosedError: reset, or TLS refused.
            identity(address.replace("tls://", "tcp://"), plain)
        with pytest.raises(OSError):
            identity(address, foreign)
        assert time.monotonic() - started < 5  # Refused at once, not timed out.
    with pytest.raises(OSError):
        Client(engine.address.replace("tls://", "tcp://"), timeout=5, set_as_default=False)
    # The throwaway certificate's files: the engine's user alone can read them.
    folder = Path(engine.security.tls_ca_file).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()} == {
        "ca.pem": 0o600,
        "cert.pem": 0o600,
        "key.pem": 0o600,
    }


def test_stop_keeps_the_weights_and_continue_finishes_the_plan(store, engine, presence):
    # 188 batches an epoch (about 1 s here), so the stop lands inside the planned epochs. Only
    # completed epochs count: the stop comes once one is done.
    student, run_id = queue(store, presence, engine=engine, epochs=4, subset=3000, batch_size=16)
    wait_for_run(store, run_id, lambda r: r.epochs_done >= 1)
    store.request_stop(run_id, student)
    store.request_stop(run_id, student)  # Pressing Stop twice is harmless.
    run = wait_for_run(store, run_id, ended)
    assert run.status == "stopped" and 1 <= run.epochs_done < 4 and run.metrics is not None
    stopped_at = run.epochs_done
    assert store.checkpoint(run_id)[0] == stopped_at
    assert store.bundle(run_id)[0] == stopped_at  # A stopped run is shown as it stopped.
    batches_before = len(store.losses(run_id).x)
    store.continue_run(run_id, student)
    engine.submit(run_id)  # A new task under a new key: the first one's is spent.
    run = wait_for_run(store, run_id, ended)
    assert run.status == "finished" and run.epochs_done == 4, run.message
    assert store.bundle(run_id)[0] == 4  # Replaced by the continued session's.
    assert [e.epoch for e in store.epochs(run_id)] == [0, 1, 2, 3, 4]
    losses = store.losses(run_id)
    # The cut epoch's batches were replaced by its redo: every epoch's batches once.
    assert batches_before >= stopped_at * 188 and len(losses.x) == 4 * 188
    assert np.all(np.diff(losses.x) > 0)  # One curve, continued where it stopped.


def test_two_workers_train_two_runs_at_once_and_a_third_waits(store, engine, presence):
    queued = [queue(store, presence, engine=engine, **LONG) for _ in range(3)]
    (first_student, first), (second_student, second), (third_student, third) = queued
    both = wait_for_run(
        store, first, lambda r: r.status == "running" and store.run(second).status == "running"
    )
    assert both.worker != store.run(second).worker  # Two workers, one run each.
    waiting = store.run(third)
    assert waiting.status == "queued" and store.queue_position(waiting) == 1
    assert len(engine.worker_processes) == 2  # The embedded cluster is at its capacity.
    # The third run waited on the scheduler: it goes to the first worker that frees up.
    freed = store.run(second).worker
    stop(store, second, second_student)
    assert wait_for_run(store, third, lambda r: r.status == "running").worker == freed
    assert store.run(first).status == "running"
    stop(store, first, first_student)
    stop(store, third, third_student)


def test_leaving_the_queue_cancels_the_task(store, engine, presence):
    busy = [queue(store, presence, engine=engine, **LONG) for _ in range(2)]
    student, waiting = queue(store, presence, engine=engine)
    for _, run_id in busy:
        wait_for_run(store, run_id, lambda r: r.status == "running")
    future = engine.futures[waiting]
    store.request_stop(waiting, student)  # What "Leave the queue" does, then:
    engine.cancel(waiting)
    assert store.run(waiting) is None  # Never started: nothing to keep.
    deadline = time.monotonic() + 10
    while future.status != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert future.status == "cancelled"
    for student, run_id in busy:  # Trained on while the third left.
        assert store.run(run_id).status == "running"
        stop(store, run_id, student)


def test_a_task_that_raises_fails_its_run_with_the_message(store, engine, presence):
    _, run_id = queue(store, presence, engine=engine, batch_size=0)  # Keras refuses batch 0.
    run = wait_for_run(store, run_id, ended)
    assert run.status == "failed" and run.message


def test_a_run_whose_student_left_is_stopped_and_kept(store, engine, presence):
    _, run_id = queue(store, presence, engine=engine, present=False, **LONG)
    run = wait_for_run(store, run_id, ended, timeout=120)
    assert run.status == "stopped" and "no page of yours" in run.message


def test_an_exploding_loss_ends_as_diverged(store, engine, presence):
    _, run_id = queue(store, presence, engine=engine, learning_rate=10.0)
    run = wait_for_run(store, run_id, ended)
    assert run.status == "diverged" and "exploded" in run.message


def test_a_queued_run_left_by_a_gone_server_is_submitted_by_the_engine(store, engine, presence):
    _, run_id = queue(store, presence)  # In the store only: its server died before submitting.
    assert wait_for_run(store, run_id, ended, timeout=120).status == "finished"


def test_the_few_label_experiment_runs_in_a_worker(engine):
    scores = engine.call(tasks.few_labels, "deep", 10, 0, timeout=120)
    assert set(scores) == {"raw pixels", "frozen encoder", "fine-tuned encoder"}
    assert all(0.2 < value <= 1.0 for value in scores.values())  # Well above chance (0.1).


def test_a_second_task_for_a_running_run_leaves_it_alone(store, engine, presence):
    """Another server (or a resubmission) may queue a run's task twice: the second one loses
    the claim, and must neither train it nor mark it interrupted."""
    student, run_id = queue(store, presence, engine=engine, **LONG)
    wait_for_run(store, run_id, lambda r: r.phase == "training")
    # The other worker runs it (as an engine call, ahead of any queued run).
    again = engine.call(tasks.train_run, run_id, store.display_url, timeout=120)
    assert again is None
    run = store.run(run_id)
    assert run.status == "running" and run.message is None
    stop(store, run_id, student)


def test_a_killed_worker_interrupts_its_run_and_the_next_run_trains(
    store, engine, presence, splits, monkeypatch
):
    """Last here: the engine starts a worker again, cold, for the tests after it. The engine's
    housekeeping (in this process) takes a run silent 8 s for lost, instead of 15."""
    monkeypatch.setenv("AE_LOST_WORKER_SECONDS", "8")
    student, run_id = queue(store, presence, engine=engine, epochs=40, subset=3000, batch_size=32)
    run = wait_for_run(store, run_id, lambda r: r.epochs_done >= 1)
    os.kill(worker_pid(engine, run.worker), signal.SIGKILL)
    run = wait_for_run(store, run_id, ended, timeout=60)
    assert run.status == "interrupted" and "training worker stopped" in run.message
    checkpoint = store.checkpoint(run_id)
    assert checkpoint[0] >= 1
    # Its pages can use it: the bundle of the checkpoint's weights was written with it.
    bundle_epoch, data = store.bundle(run_id)
    assert bundle_epoch == checkpoint[0]
    model = build_model(run.variant, run.settings)
    model.set_weights(checkpoint[1])
    measured = onnx_export.differences(model, Served(data), splits.x_test[:32])
    assert all(measured[part] <= onnx_export.TOLERANCE[part] for part in measured), measured
    _, following = queue(store, presence, engine=engine, epochs=1, subset=500)
    assert wait_for_run(store, following, ended).status == "finished"
    store.continue_run(run_id, student)  # From its checkpoint, in whichever worker is free.
    engine.submit(run_id)
    run = wait_for_run(store, run_id, lambda r: r.status == "running" and r.phase == "training")
    assert run.epochs_done >= 1
    stop(store, run_id, student)


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
    """`core.cluster.job.train_run`, store in, store out: no scheduler, no worker."""
    store, run_id = claimed_run(tmp_path)
    assert train_run(store, run_id, splits) == "finished"
    run = store.run(run_id)
    assert run.status == "finished" and run.epochs_done == 1
    assert len(store.losses(run_id).x) == 5 and store.checkpoint(run_id)[0] == 1
    assert 0 < run.metrics["bce"] < 0.7


class SeesEachCheckpoint(Store):
    """A store that notes what each epoch's write carries, and how the run looks just before
    it is marked ended."""

    seen = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.writes = []

    def add_epoch(self, run_id, epoch, logs, samples, weights=None, **kwargs):
        self.writes.append((epoch, weights is not None, kwargs.get("bundle")))
        super().add_epoch(run_id, epoch, logs, samples, weights, **kwargs)

    def finish(self, run_id, *args, **kwargs):
        self.seen = self.run(run_id)
        return super().finish(run_id, *args, **kwargs)


def test_each_checkpoint_has_its_bundle_and_the_run_is_shown_trained_before_its_metrics(
    tmp_path, splits
):
    """A page can use a run from its first checkpoint on, a killed worker's included: each
    checkpoint is written with the serving bundle of its weights, in one transaction. And
    the page says "Trained" from the measuring phase on (ui.run_view.measuring_ui): by then
    every epoch and the training time are stored; the test metrics come after."""
    store = SeesEachCheckpoint(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student = store.new_student()[0]
    config = TrainConfig(epochs=2, subset=500, batch_size=100)
    run_id = store.create_run(
        student, "vanilla", settings_for(config, variants.make_config("vanilla")), 2
    )
    assert train_run(store, run_id, splits, attempt=store.claim(run_id, "test:0")) == "finished"
    # Epoch 0 (the untrained samples) has no checkpoint; epochs 1 and 2 have both.
    assert [(epoch, checkpoint) for epoch, checkpoint, _ in store.writes] == [
        (0, False),
        (1, True),
        (2, True),
    ]
    first, second = (Served(bundle) for _, _, bundle in store.writes[1:])
    images = splits.x_test[:32]
    assert np.abs(first(images) - second(images)).max() > 1e-3  # Each epoch's own weights.
    model = build_model("vanilla", store.run(run_id).settings)
    model.set_weights(store.checkpoint(run_id)[1])
    measured = onnx_export.differences(model, Served(store.bundle(run_id)[1]), images)
    assert all(measured[part] <= onnx_export.TOLERANCE[part] for part in measured), measured
    assert store.bundle(run_id)[0] == 2
    seen = store.seen
    assert (seen.status, seen.phase, seen.epochs_done, seen.batch) == ("running", "measuring", 2, 0)
    assert seen.metrics is None and seen.seconds > 0 and seen.samples_per_second > 0
    assert len(store.losses(run_id).x) == 10 and store.checkpoint(run_id)[0] == 2
    finished = store.run(run_id)
    assert finished.seconds == seen.seconds and finished.metrics["bce"] > 0


def test_a_store_error_during_a_run_fails_it_with_a_message(tmp_path, splits):
    import sqlalchemy as sa

    store, run_id = claimed_run(tmp_path)
    with store.engine.begin() as connection:  # The table progress goes to is gone.
        connection.execute(sa.text("DROP TABLE loss_chunks"))
    assert train_run(store, run_id, splits) == "failed"
    run = store.run(run_id)
    assert run.status == "failed" and "the store failed during training" in run.message
    assert "no such table" in run.message
