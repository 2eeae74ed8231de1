"""What a race costs: four racers against one run, through the engine, with one training
worker and with two (the Race page's path: `core.lab.start_race`, then each run
submitted). Wall time from the submissions to the last racer finished, test metrics included.
And how many runs at the Train page's defaults a worker core trains a minute, as a class
submits them (`throughput`).

    .venv/bin/python -m bench.race          # prints the rows; `make bench` includes them
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from core.lab.runs import start_race, start_run

RACERS = [("vanilla", {"code_size": size}) for size in (2, 8, 32, 64)]


def _wall(store, engine, student: int, racers) -> float:

    started = time.perf_counter()
    if len(racers) == 1:
        ids = [start_run(store, student, *racers[0])]
    else:
        ids = start_race(store, student, racers)
    for run_id in ids:
        engine.submit(run_id)
    while any(store.run(run_id).active for run_id in ids):
        time.sleep(0.2)
    ended = time.perf_counter() - started
    statuses = {store.run(run_id).status for run_id in ids}
    assert statuses == {"finished"}, statuses
    return ended


def measure(rows: list, row_class, repeats: int = 2) -> None:
    from core.cluster.client import Engine
    from core.store import Store

    for capacity in (1, 2):
        folder = Path(tempfile.mkdtemp(prefix="bench-race-"))
        store = Store(f"sqlite:///{folder / 'runs.sqlite'}")
        student = store.new_student()[0]
        present = {student}  # The student whose page is open: the runs go on.
        engine = Engine(
            store, capacity=capacity, live_students=lambda present=present: present
        ).start()
        try:
            engine.wait_connected()
            _wall(store, engine, student, RACERS[2:3])  # Warm the workers: TensorFlow, data.
            one, race = [], []
            for _ in range(repeats):
                one.append(_wall(store, engine, student, RACERS[2:3]))
                race.append(_wall(store, engine, student, RACERS))
        finally:
            engine.shutdown()
            store.close()
        single, four = min(one), min(race)
        rows.append(
            row_class(
                f"race of 4 (vanilla, code 2/8/32/64, 5 epochs of 10,000 images), "
                f"{capacity} training worker(s)",
                f"{four:.1f} s, {four / single:.1f}x one run",
                f"one run (code 32): {single:.1f} s",
                "-",
                None,
            )
        )


def bare_runs_per_minute(name: str, repeats: int) -> float:
    """Default runs a minute of bare `model.fit`s (bench.engine.bare_fit_seconds), one after
    another in this process: no live view, no store, no test metrics."""
    from bench.engine import bare_fit_seconds
    from core.ml.training import load_splits

    splits = load_splits()
    bare_fit_seconds(name, splits)  # Warm: tracing, the data's first conversion.
    seconds = [bare_fit_seconds(name, splits) for _ in range(repeats)]
    return 60 / (sum(seconds) / len(seconds))


def throughput(rows: list, row_class, runs: int = 8, name: str = "vanilla") -> None:
    """`runs` students each press Train at the page's defaults at once, with one training
    worker per core (a class on this machine); runs finished per minute per worker core,
    from the submissions to the last run's test metrics."""
    from core.cluster.client import Engine
    from core.store import Store

    cores = os.cpu_count() or 1
    folder = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    store = Store(f"sqlite:///{folder / 'runs.sqlite'}")
    students = [store.new_student()[0] for _ in range(runs)]
    present = set(students)
    engine = Engine(store, capacity=cores, live_students=lambda: present).start()
    try:
        engine.wait_connected()
        # Warm every worker first: TensorFlow, the data, the model's tracing.
        warming = [start_run(store, student, name, {}) for student in students[:cores]]
        for run_id in warming:
            engine.submit(run_id)
        wait_all(store, warming)
        started = time.perf_counter()
        ids = [start_run(store, student, name, {}) for student in students]
        for run_id in ids:
            engine.submit(run_id)
        wait_all(store, ids)
        wall = time.perf_counter() - started
    finally:
        engine.shutdown()
        store.close()
    rate = runs / wall * 60 / cores
    bare = bare_runs_per_minute(name, 2)
    rows.append(
        row_class(
            f"Default runs ({name}, the Train page's defaults) trained per worker core per "
            f"minute: {runs} students at once, {cores} workers",
            f"{rate:.1f} ({runs} runs in {wall:.1f} s, test metrics included)",
            f"bare model.fit of one such run, one after another: {bare / cores:.1f} per core "
            f"({bare:.1f} a minute on {cores} cores)",
            ">= 15",
            rate >= 15,
        )
    )


def wait_all(store, ids: list[int]) -> None:
    while any(store.run(run_id).active for run_id in ids):
        time.sleep(0.2)
    statuses = {store.run(run_id).status for run_id in ids}
    assert statuses <= {"finished"}, statuses


if __name__ == "__main__":
    from bench.run import Row, table

    found: list = []
    measure(found, Row)
    throughput(found, Row)
    print(table(found))
