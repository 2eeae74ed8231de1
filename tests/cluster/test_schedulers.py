"""The engine with schedulers it does not share with other tests: a cluster's scheduler and a
worker started by hand (`dask scheduler` and `python -m core.worker`, as docs/DEPLOY.md gives
them, over TLS with `deploy.certs`' certificates or plain tcp), one that restarts, one that
cannot import the project or runs with Dask's default worker-saturation, one that cannot be
reached; and embedded clusters of their own: the first run while no worker runs (a cold
start), a scheduler that hangs at start or freezes. None of them makes a page's call wait.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from core.cluster import tasks
from core.cluster.client import Engine, EngineUnavailable
from core.cluster.housekeeping import STARTING_MESSAGE
from core.cluster.submission import scheduler_settings
from core.store import Store
from tests.cluster.helpers import (
    alive,
    dask_scheduler,
    end,
    identity,
    training_worker,
    until,
)
from tests.support.cluster import Presence, ended, queue_run, wait_for_run
from tests.support.servers import ROOT, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def presence():
    return Presence()


@pytest.fixture
def store(tmp_path):
    opened = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture
def patient(monkeypatch):
    """These tests are about schedulers, not lost workers: a run's heartbeat may lag by tens of
    seconds while the full suite loads both cores (a run on a hand-started worker was once
    ended as silent), so this engine waits a minute before calling a listed worker frozen."""
    monkeypatch.setenv("AE_LOST_WORKER_SECONDS", "60")


@pytest.fixture(scope="module")
def by_hand(tmp_path_factory):
    """Two clusters started by hand as docs/DEPLOY.md starts them, at once (their workers load
    TensorFlow side by side): over TLS with `python -m deploy.certs`' certificates, and over
    plain tcp without any (as before TLS). Both workers use one store; a test that replaces a
    scheduler puts the new process in `schedulers`."""
    from deploy import certs

    folder = tmp_path_factory.mktemp("by-hand")
    store = Store(f"sqlite:///{folder / 'runs.sqlite'}")
    parts = certs.create(folder / "tls", ["scheduler", "worker-1", "app"])
    tls_scheduler, tls_address = dask_scheduler(tls=parts["scheduler"])
    tcp_port = free_port()
    tcp_scheduler, tcp_address = dask_scheduler(tcp_port)
    logs = {"tls": folder / "tls-worker.log", "tcp": folder / "tcp-worker.log"}
    workers = {
        "tls": training_worker(tls_address, store.url, logs["tls"], parts["worker-1"]),
        "tcp": training_worker(tcp_address, store.url, logs["tcp"]),
    }
    found = SimpleNamespace(
        store=store,
        app_tls=parts["app"],
        addresses={"tls": tls_address, "tcp": tcp_address},
        tcp_port=tcp_port,
        schedulers={"tls": tls_scheduler, "tcp": tcp_scheduler},
        workers=workers,
        logs=logs,
    )
    yield found
    end(*found.workers.values(), *found.schedulers.values())
    store.close()


def train_one(store, presence, external: Engine, log):
    """A run trains on `external`'s cluster, in a worker the app did not start."""
    _, run_id = queue_run(store, presence, engine=external)
    run = wait_for_run(store, run_id, ended)
    assert run.status == "finished", (run.message, log.read_text()[-3000:])
    assert external.worker_processes == [] and external.scheduler_process is None
    assert run.worker in external.client.scheduler_info(n_workers=-1)["workers"]
    return run


def test_an_external_tls_scheduler_and_a_worker_started_by_hand(
    by_hand, presence, monkeypatch, patient
):
    """AE_DASK_SCHEDULER's path over TLS with `python -m deploy.certs`' certificates in
    `AE_DASK_TLS_*`: the app starts nothing, trains there, and nobody without a certificate
    gets in."""
    from distributed.security import Security

    address = by_hand.addresses["tls"]
    for variable, value in by_hand.app_tls.items():  # The app server's settings.
        monkeypatch.setenv(variable, value)
    external = Engine(by_hand.store, capacity=1, scheduler=address, live_students=presence)
    try:
        assert external.start().wait_connected(60), external.error
        run = train_one(by_hand.store, presence, external, by_hand.logs["tls"])
        assert run.worker.startswith("tls://")
        for server in (address, run.worker):
            with pytest.raises(OSError):
                identity(server.replace("tls://", "tcp://"), Security())
    finally:
        external.shutdown()


def test_an_external_tcp_scheduler_that_restarts_is_connected_again(by_hand, presence, patient):
    """Over plain tcp with no certificates (as before TLS), a run trains on a hand-started
    worker; the scheduler then goes away and is reported (its Dask client closes itself after
    a few seconds), the engine connects again once one listens on that address, and the worker
    joins it again by itself (it used to exit with it, and nothing trained until someone
    restarted every worker: bench/CHAOS.md) and trains the next run."""
    store, address, log = by_hand.store, by_hand.addresses["tcp"], by_hand.logs["tcp"]
    external = Engine(store, scheduler=address, live_students=presence, call_seconds=2.0)
    try:
        assert external.start().wait_connected(30), external.error
        until(lambda: external.ready_workers >= 1, 120, log.read_text)  # Warm, and joined.
        assert train_one(store, presence, external, log).worker.startswith("tcp://")
        scheduler = by_hand.schedulers["tcp"]
        scheduler.kill()
        scheduler.wait()
        until(lambda: not external.available, 10, "a gone scheduler went unnoticed")
        assert "cannot be reached" in external.error
        by_hand.schedulers["tcp"], _ = dask_scheduler(by_hand.tcp_port)
        until(lambda: external.available, 30, lambda: external.error)
        _, run_id = queue_run(store, presence, engine=external)  # Submitting works again.
        assert run_id in external.futures
        run = wait_for_run(store, run_id, ended, timeout=180)
        assert run.status == "finished", log.read_text()[-3000:]
        assert by_hand.workers["tcp"].poll() is None
        assert "joining it again" in log.read_text()
    finally:
        external.shutdown()


def test_a_clusters_scheduler_is_checked_not_configured(store, presence, caplog):
    """A scheduler that cannot import the project would fail every run: the engine says so
    and Train is off. One with Dask's default worker-saturation (1.1) works, with a warning in
    the log; the engine does not change it (its operator does: docs/DEPLOY.md)."""
    bare, address = dask_scheduler(environment={"PYTHONPATH": ""})
    unfit = Engine(store, scheduler=address, live_students=presence)
    try:
        assert not unfit.start().wait_connected(30)
        assert "cannot train" in unfit.error and "import the project" in unfit.error
        assert "No module named 'core'" in unfit.error
        _, run_id = queue_run(store, presence)
        with pytest.raises(EngineUnavailable):
            unfit.submit(run_id)
    finally:
        unfit.shutdown()
        end(bare)
    default, address = dask_scheduler(
        environment={"DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.1"}
    )
    engine = Engine(store, scheduler=address, live_students=presence)
    try:
        with caplog.at_level(logging.WARNING, logger="autoencoder_lab.engine"):
            assert engine.start().wait_connected(30), engine.error
        assert "worker-saturation 1.1" in caplog.text
        assert engine.client.run_on_scheduler(scheduler_settings)["worker-saturation"] == 1.1
    finally:
        engine.shutdown()
        end(default)


def test_an_unreachable_scheduler_is_reported_not_raised(store, presence):
    nowhere = Engine(store, scheduler=f"tcp://127.0.0.1:{free_port()}").start()
    try:
        assert not nowhere.wait_connected(30)
        assert "cannot be reached" in nowhere.error
        _, run_id = queue_run(store, presence)
        with pytest.raises(EngineUnavailable):
            nowhere.submit(run_id)
        assert store.run(run_id).status == "queued"  # Kept, for when the cluster is back.
    finally:
        nowhere.shutdown()


def test_the_first_run_after_the_workers_retired_says_it_waits_for_one(store, presence):
    """No worker running (retired, or never started): the queued run's message, which the
    Train page shows, says a worker is starting; once the run trains the message is gone.
    Shut down, the engine leaves no process of its own behind."""
    cold = Engine(store, capacity=1, live_students=presence).start()
    try:
        assert cold.wait_connected(60), cold.error
        assert cold.worker_processes == []  # Nothing asked for a worker yet.
        _, run_id = queue_run(store, presence, engine=cold, epochs=1, subset=500)
        waiting = wait_for_run(store, run_id, lambda r: r.message == STARTING_MESSAGE, timeout=10)
        assert waiting.status == "queued"
        run = wait_for_run(store, run_id, ended)
        assert run.status == "finished" and run.message is None
        started = [*cold.worker_processes, cold.scheduler_process]
    finally:
        cold.shutdown()
    assert len(started) == 2 and all(process.poll() is not None for process in started)


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
    _, run_id = queue_run(store, presence)
    engine = Engine(store, scheduler_command=hung, start_seconds=4.0, live_students=presence)
    started = time.monotonic()
    engine.start()
    try:
        until(pid_file.exists, 10, "the scheduler command did not run")
        pid = int(pid_file.read_text())
        # What pages do meanwhile, from this thread: each returns at once.
        calls = time.monotonic()
        assert not engine.available
        with pytest.raises(EngineUnavailable):
            engine.submit(run_id)
        with pytest.raises(EngineUnavailable):
            engine.call(tasks.few_labels, "deep", 10, 0)
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


def test_a_frozen_scheduler_is_reported_within_the_call_timeout(store, presence):
    """The embedded scheduler stopped (SIGSTOP: it accepts connections and never answers) is
    reported within `call_seconds` and a page's Train is refused at once; resumed, the engine
    is back without a restart."""
    engine = Engine(store, capacity=1, live_students=presence, call_seconds=2.0).start()
    try:
        assert engine.wait_connected(60), engine.error
        scheduler = engine.scheduler_process
        os.kill(scheduler.pid, signal.SIGSTOP)
        try:
            until(lambda: engine.error is not None, 8, "a frozen scheduler went unnoticed")
            assert "cannot be reached" in engine.error and "timed out" in engine.error
            _, run_id = queue_run(store, presence)
            calls = time.monotonic()
            with pytest.raises(EngineUnavailable):
                engine.submit(run_id)
            engine.cancel(run_id)
            assert time.monotonic() - calls < 0.5
        finally:
            os.kill(scheduler.pid, signal.SIGCONT)
        until(lambda: engine.available, 30, lambda: engine.error)
        assert engine.scheduler_process is scheduler  # The same one, not a new one.
    finally:
        engine.shutdown()


def test_the_embedded_schedulers_command_prints_its_address_first():
    """`python -m core.cluster.scheduler` (run by the engine in the checkout, so it imports the
    lab's tasks) prints the address it listens on as its first line: plain tcp without
    certificates, on loopback, on the port it is given."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cluster.scheduler", "--port", str(port)],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AE_DASK_TLS_")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == f"tcp://127.0.0.1:{port}"
    finally:
        end(process)
