"""What a race costs: four racers against one run, through the engine, with one training
worker and with two (the Race page's path: `core.lab.start_race`, then each run
submitted). Wall time from the submissions to the last racer finished, test metrics included.

    .venv/bin/python -m bench.race          # prints the rows; `make bench` includes them
"""

from __future__ import annotations

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


if __name__ == "__main__":
    from bench.run import Row, table

    found: list = []
    measure(found, Row)
    print(table(found))
