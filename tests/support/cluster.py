"""One training cluster for the whole test session, its workers warm: for every test that is
about what the cluster does with a run, not about how a cold worker starts.

A pytest plugin (tests/conftest.py lists it in `pytest_plugins`): a test asks for
`warm_engine` (the app's `Engine`, embedded, two training workers that have already loaded
TensorFlow and the data), `warm_store` (the SQLite store the workers use) and `warm_presence`
(who has a page open, as the server's session registry would say). A test queues runs with
`queue_run` and waits with `wait_for_run`; it should leave no run of its own active.
"""

from __future__ import annotations

import time

import pytest

CAPACITY = 2


class Presence:
    """Stands in for the server's session registry: who has a page open."""

    def __init__(self):
        self.here: set[int] = set()

    def __call__(self) -> set[int]:
        return set(self.here)


def queue_run(store, presence, name="vanilla", present=True, engine=None, **train) -> tuple:
    """A run queued as the Train page queues it: a row in the store, then (with `engine`)
    its task; returns (student id, run id)."""
    from core.ml import variants
    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig

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


def wait_for_run(store, run_id, condition, timeout=180.0):
    """The run once `condition(run)` holds; fails with the run's state after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.run(run_id)
        if condition(run):
            return run
        time.sleep(0.1)  # Polling the store with a deadline: the worker writes it.
    raise AssertionError(f"run {run_id} stuck: {store.run(run_id)}")


def ended(run) -> bool:
    return run is not None and not run.active


@pytest.fixture(scope="session")
def warm_store(tmp_path_factory):
    from core.store import Store

    opened = Store(f"sqlite:///{tmp_path_factory.mktemp('warm-cluster') / 'runs.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def warm_presence():
    return Presence()


@pytest.fixture(scope="session")
def warm_engine(warm_store, warm_presence):
    """The embedded cluster, up to CAPACITY workers, warmed by CAPACITY tiny runs (TensorFlow
    and the data loaded before the first test's run); workers do not retire in a session."""
    from core.cluster.client import Engine

    engine = Engine(
        warm_store,
        capacity=CAPACITY,
        live_students=warm_presence,
        abandon_seconds=3.0,
        idle_seconds=24 * 3600.0,
    ).start()
    try:
        assert engine.wait_connected(60), engine.error
        warm_ups = [
            queue_run(warm_store, warm_presence, engine=engine, epochs=1, subset=100)[1]
            for _ in range(CAPACITY)
        ]
        for run_id in warm_ups:
            assert wait_for_run(warm_store, run_id, ended, timeout=300).status == "finished"
        yield engine
    finally:
        engine.shutdown()
