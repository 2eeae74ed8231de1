"""The training engine on a real local Dask cluster and a real store: two runs train at once,
a queued run is cancelled, a running one stopped and continued, a SIGKILLed worker interrupts
its run (checkpoint kept) and the next run trains, a task that raises fails its run, an
external scheduler is used as it is (plain tcp, or TLS with `deploy.certs`' certificates), and
an unreachable one is reported, not raised. The embedded cluster speaks TLS and refuses peers
without its certificate; a scheduler that hangs at start, freezes or restarts never makes a
page's call wait."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.cluster.client import Engine, EngineUnavailable
from core.cluster.job import train_run
from core.ml import metrics, variants
from core.ml.choices import build_model, settings_for
from core.ml.data import sample_indices
from core.ml.training import TrainConfig, load_splits
from core.store import Store
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


def identity(address: str, security) -> dict:
    """Ask a Dask server (scheduler or worker) who it is, over `address` with `security`'s
    client certificate: any peer that is let in can also ask it to run code."""
    from distributed.core import rpc

    async def ask():
        async with rpc(
            address, timeout=5, connection_args=security.get_connection_args("client")
        ) as remote:
            return await remote.identity()

    # In a thread of its own: a test before this one (Playwright's sync API) may have left an
    # event loop running in this thread, where asyncio.run refuses to start.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, ask()).result()


def listens(port: int) -> bool:
    """Whether something accepts connections on the loopback `port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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


def test_the_embedded_cluster_refuses_peers_without_its_certificate(engine):
    """The scheduler and the workers listen on loopback over TLS only: a plain-tcp client, and a
    client whose certificate another CA signed (even one that trusts the cluster's CA), are
    refused by both; the engine's own certificate is let in (the same requests, so a refusal
    is the certificate's doing). The first test trained, so a worker is up."""
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
    # 313 batches an epoch (about 2 s here), so the stop lands inside the planned epochs. Only
    # completed epochs count: the stop comes once one is done.
    student, run_id = queue(store, presence, engine=engine, epochs=4, subset=5000, batch_size=16)
    wait_for(store, run_id, lambda r: r.epochs_done >= 1)
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
    # The cut epoch's batches were replaced by its redo: every epoch's batches once.
    assert batches_before >= stopped_at * 313 and len(losses.x) == 4 * 313
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
    scores = engine.call("core.cluster.tasks.few_labels", "deep", 10, 0, timeout=120)
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
    """`core.cluster.job.train_run`, store in, store out: no scheduler, no worker."""
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


@pytest.mark.parametrize("protocol", ["tls", "tcp"])
def test_an_external_scheduler_and_a_worker_started_by_hand(
    tmp_path, presence, monkeypatch, protocol
):
    """AE_DASK_SCHEDULER's path: `dask scheduler` and `python -m core.worker ADDRESS`, as
    docs/DEPLOY.md gives them: over TLS with `python -m deploy.certs`' certificates in
    `AE_DASK_TLS_*`, and over plain tcp with none (as before TLS); the app starts nothing and
    trains there."""
    from deploy import certs

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    address = f"{protocol}://127.0.0.1:{free_port()}"
    environment = {**os.environ, "AE_DATABASE_URL": store.url, "TF_CPP_MIN_LOG_LEVEL": "2"}
    bin_dir = os.path.dirname(sys.executable)
    command = [
        f"{bin_dir}/dask",
        "scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        address.rpartition(":")[2],
        "--no-dashboard",
    ]
    if protocol == "tls":
        parts = certs.create(tmp_path / "tls", ["scheduler", "worker-1", "app"])
        command += ["--protocol", "tls"]
        for flag, variable in [
            ("--tls-ca-file", "AE_DASK_TLS_CA_FILE"),
            ("--tls-cert", "AE_DASK_TLS_CERT"),
            ("--tls-key", "AE_DASK_TLS_KEY"),
        ]:
            command += [flag, parts["scheduler"][variable]]
        environment.update(parts["worker-1"])
        for variable, value in parts["app"].items():  # The app server's settings.
            monkeypatch.setenv(variable, value)
    scheduler = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen(
        [sys.executable, "-m", "core.cluster.worker", address],
        env=environment,
        stderr=subprocess.DEVNULL,
    )
    external = Engine(store, capacity=1, scheduler=address, live_students=presence)
    # The engine's first attempt waits CONNECT_SECONDS; Dask's command may take longer to
    # import on a busy machine, so the app server starts once the scheduler listens.
    deadline = time.monotonic() + 60
    while not listens(int(address.rpartition(":")[2])):
        assert time.monotonic() < deadline and scheduler.poll() is None, "no scheduler"
        time.sleep(0.2)
    try:
        assert external.start().wait_connected(60), external.error
        _, run_id = queue(store, presence, engine=external)
        run = wait_for(store, run_id, ended)
        assert run.status == "finished", run.message
        assert external.worker_processes == [] and external.scheduler_process is None
        assert run.worker in external.client.scheduler_info(n_workers=-1)["workers"]
        assert run.worker.startswith(f"{protocol}://")
        if protocol == "tls":  # Nobody without a certificate gets in.
            from distributed.security import Security

            for server in (address, run.worker):
                with pytest.raises(OSError):
                    identity(server.replace("tls://", "tcp://"), Security())
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
    from core.cluster.client import STARTING_MESSAGE

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
    again = engine.call("core.cluster.tasks.train_run", run_id, store.display_url, timeout=120)
    assert again is None
    run = store.run(run_id)
    assert run.status == "running" and run.message is None
    store.request_stop(run_id, student)
    assert wait_for(store, run_id, ended).status == "stopped"


def test_a_scheduler_that_never_starts_is_killed_and_pages_do_not_wait(tmp_path, presence):
    """A scheduler that never prints its address (hung at start) is killed after
    `start_seconds`, `error` says so, and meanwhile a page's calls return at once: the wait
    happens in the engine's thread, not under the lock pages take."""
    pid_file = tmp_path / "scheduler.pid"
    hung = [
        sys.executable,
        "-c",
        "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)",
        str(pid_file),
    ]
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    _, run_id = queue(store, presence)
    engine = Engine(store, scheduler_command=hung, start_seconds=4.0, live_students=presence)
    started = time.monotonic()
    engine.start()
    try:
        while not pid_file.exists():
            assert time.monotonic() - started < 10, "the scheduler command did not run"
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        # What pages do meanwhile, from this thread: each returns at once.
        calls = time.monotonic()
        assert not engine.available
        with pytest.raises(EngineUnavailable):
            engine.submit(run_id)
        with pytest.raises(EngineUnavailable):
            engine.call("core.cluster.tasks.few_labels", "deep", 10, 0)
        engine.cancel(run_id)  # Takes the engine's lock.
        engine.prewarm()
        assert time.monotonic() - calls < 0.5
        assert alive(pid)  # The start is still pending: the calls did not wait for it.
        assert not engine.wait_connected(15)
        waited = time.monotonic() - started
        assert 4.0 <= waited < 9.0, waited
        assert "did not start within 4 s" in engine.error
        assert not alive(pid)  # Killed, and reaped.
        assert store.run(run_id).status == "queued"  # Kept for when a scheduler starts.
    finally:
        engine.shutdown()  # Also ends the next attempt's scheduler, which the loop started.
    assert not alive(int(pid_file.read_text()))


def test_a_frozen_scheduler_is_reported_within_the_call_timeout(tmp_path, presence):
    """The embedded scheduler stopped (SIGSTOP: it accepts connections and never answers) is
    reported within `call_seconds` and a page's Train is refused at once; resumed, the engine
    is back without a restart."""
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    engine = Engine(store, capacity=1, live_students=presence, call_seconds=2.0).start()
    try:
        assert engine.wait_connected(60), engine.error
        scheduler = engine.scheduler_process
        os.kill(scheduler.pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            while engine.error is None:
                assert time.monotonic() - stopped < 8, "a frozen scheduler went unnoticed"
                time.sleep(0.1)
            assert "cannot be reached" in engine.error and "timed out" in engine.error
            _, run_id = queue(store, presence)
            calls = time.monotonic()
            with pytest.raises(EngineUnavailable):
                engine.submit(run_id)
            engine.cancel(run_id)
            assert time.monotonic() - calls < 0.5
        finally:
            os.kill(scheduler.pid, signal.SIGCONT)
        resumed = time.monotonic()
        while not engine.available:
            assert time.monotonic() - resumed < 30, engine.error
            time.sleep(0.1)
        assert engine.scheduler_process is scheduler  # The same one, not a new one.
    finally:
        engine.shutdown()


def test_an_external_scheduler_that_restarts_is_connected_again(tmp_path, presence):
    """An external scheduler that goes away is reported (its Dask client closes itself after
    a few seconds), the engine connects again once one listens on that address, and a
    training worker started by hand joins it again by itself (it used to exit with it, and
    nothing trained until someone restarted every worker: bench/CHAOS.md)."""
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "core.cluster.scheduler",
        "--port",
        str(port),
    ]
    scheduler = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    address = scheduler.stdout.readline().strip()  # Printed once it listens.
    assert address == f"tcp://127.0.0.1:{port}"
    external = Engine(store, scheduler=address, live_students=presence, call_seconds=2.0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "core.cluster.worker", address],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "AE_DATABASE_URL": store.url, "TF_CPP_MIN_LOG_LEVEL": "2"},
        stderr=(tmp_path / "worker.log").open("w"),
    )
    try:
        assert external.start().wait_connected(30), external.error
        joined = time.monotonic()
        while external.ready_workers < 1:  # Warmed up (TensorFlow) and in the cluster.
            assert time.monotonic() - joined < 120, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        scheduler.kill()
        scheduler.wait()
        gone = time.monotonic()
        while external.available:
            assert time.monotonic() - gone < 10, "a gone scheduler went unnoticed"
            time.sleep(0.1)
        assert "cannot be reached" in external.error
        scheduler = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert scheduler.stdout.readline().strip() == address
        back = time.monotonic()
        while not external.available:
            assert time.monotonic() - back < 30, external.error
            time.sleep(0.1)
        _, run_id = queue(store, presence, engine=external)  # Submitting works again.
        assert run_id in external.futures
        # The worker joined the new scheduler by itself and trains the run.
        run = wait_for(store, run_id, ended, timeout=180)
        assert run.status == "finished", (tmp_path / "worker.log").read_text()[-3000:]
        assert worker.poll() is None
        assert "joining it again" in (tmp_path / "worker.log").read_text()
    finally:
        external.shutdown()
        worker.terminate()
        worker.wait(timeout=30)
        scheduler.kill()
        scheduler.wait()
