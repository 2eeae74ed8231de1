"""What the run store costs: writes while a worker trains, reads per second of live view, bytes
per run. Part of `make bench` (step "store"); also runs alone: `python -m bench.store`.

A real run of the Train page's vanilla defaults (5 epochs of 10,000 images, batch 64) trains in
a worker process through the engine, against a throwaway SQLite store; then the reads the live
view makes each second are timed at the end of that run and on a long run (50 epochs of 55,000
images at batch 16: 171,900 batch losses, written through the same store calls), with what
continuing that run reads of its losses and what the ended run's checkpoint keeps.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def live_view_reads(store, run_id: int, after: int | None = None) -> None:
    """What the Train page's live fragment reads from the store on every redraw: the run, the
    loss chunks it has not seen (all of them on its first redraw), the epoch rows and the
    latest samples."""
    run = store.run(run_id)
    store.losses(run_id, after=after or 0)
    store.epochs(run_id, with_samples=False)
    store.samples(run_id, run.epochs_done)


def payload(store, run_id: int) -> int:
    """Bytes a run's rows hold: checkpoint, samples, and batch losses as stored (JSON)."""
    import json

    checkpoint = store.checkpoint(run_id)
    weights = sum(array.nbytes for array in checkpoint[1]) if checkpoint else 0
    samples = 8 * 28 * 28 * len(store.epochs(run_id, with_samples=False))
    losses = store.losses(run_id)
    values = sum(len(json.dumps([float(f"{v:.5g}") for v in s])) for s in losses.series.values())
    return weights + samples + values


def checkpoint_bytes(store, run_id: int) -> tuple[int, int]:
    """(bytes of the run's checkpoint as stored, bytes of its model weights alone)."""
    import sqlalchemy as sa

    from core.store.schema import checkpoints

    blob = store.scalar(sa.select(checkpoints.c.weights).where(checkpoints.c.run_id == run_id))
    return len(blob), sum(array.nbytes for array in store.checkpoint(run_id)[1])


def median_ms(function, repeats: int = 15) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def long_run(store, student: int) -> int:
    """A 50-epoch run of 55,000 images at batch 16, written as a worker writes one."""
    from core.ml import variants
    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig

    config = TrainConfig(epochs=50, batch_size=16, subset=55000)
    run_id = store.create_run(
        student, "vanilla", settings_for(config, variants.make_config("vanilla")), 50
    )
    store.claim(run_id, "bench:0")
    batches, per_report = 3438, 40  # ~0.5 s of training per report at ~80 batches/s.
    rng = np.random.default_rng(0)
    samples = rng.random((8, 28, 28, 1), dtype=np.float32)
    weights = [rng.random((784, 32), dtype=np.float32), rng.random(32, dtype=np.float32)]
    for epoch in range(50):
        for first in range(0, batches, per_report):
            count = min(per_report, batches - first)
            store.add_losses(run_id, epoch, first, batches, {"loss": list(rng.random(count))})
        store.add_epoch(run_id, epoch + 1, {"loss": 0.1, "val_loss": 0.1}, samples, weights)
    store.finish(run_id, "finished")
    return run_id


def measure(rows: list, row_class) -> None:
    from core.cluster.client import Engine
    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig
    from core.ml.variants import make_config
    from core.store import Store

    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    store = Store(f"sqlite:///{folder / 'runs.sqlite'}")
    student = store.new_student()[0]
    engine = Engine(store, capacity=1, live_students=lambda: {student}).start()
    engine.wait_connected()
    try:
        config = TrainConfig(epochs=5, batch_size=64, learning_rate=1e-2, subset=10000)
        run_id = store.create_run(
            student, "vanilla", settings_for(config, make_config("vanilla")), 5
        )
        engine.submit(run_id)
        while store.run(run_id).active:
            time.sleep(0.2)
    finally:
        engine.shutdown()
    run = store.run(run_id)
    summary = store.summary()
    chunks = summary["loss_chunks"]
    # Per report: one loss chunk and one progress update; per epoch one more transaction.
    transactions = 2 * chunks + run.epochs_done + 2
    rows.append(
        row_class(
            "store writes while training (vanilla, 5 x 10,000 images)",
            f"{transactions / run.seconds:.1f} transactions/s ({chunks} loss chunks, "
            f"{run.epochs_done} epochs in {run.seconds:.1f} s)",
            "-",
            "-",
            None,
        )
    )
    short_ms = median_ms(lambda: live_view_reads(store, run_id))
    baseline_ms = median_ms(lambda: store.run(run_id))
    long_id = long_run(store, store.new_student()[0])
    first_ms = median_ms(lambda: live_view_reads(store, long_id), repeats=5)
    # A redraw during a long run: the two newest chunks are new since the last second.
    last = store.losses(long_id).last_seq
    later_ms = median_ms(lambda: live_view_reads(store, long_id, after=last - 2))
    rows.append(
        row_class(
            "live view: store reads per redraw (once a second)",
            f"{short_ms:.1f} ms (5-epoch run, {len(store.losses(run_id).x):,} batch losses, "
            f"first redraw); 50 epochs, 171,900 batch losses: {first_ms:.0f} ms the first "
            f"redraw, {later_ms:.1f} ms each redraw after",
            f"{baseline_ms:.2f} ms (the run's row alone)",
            "each redraw < 20 ms",
            short_ms < 20 and later_ms < 20,
        )
    )
    # Continuing a run reads its first batch loss (the divergence check's reference).
    whole_ms = median_ms(lambda: store.losses(long_id), repeats=3)
    first_loss_ms = median_ms(lambda: store.first_loss(long_id))
    rows.append(
        row_class(
            "continuing a run: its first batch loss (50 epochs, 171,900 batch losses)",
            f"{first_loss_ms:.1f} ms (Store.first_loss: one chunk)",
            f"{whole_ms:.0f} ms (Store.losses: every chunk)",
            "-",
            None,
        )
    )
    stored, weights = checkpoint_bytes(store, run_id)
    rows.append(
        row_class(
            "checkpoint of the finished 5-epoch run, as stored",
            f"{stored / 1e6:.2f} MB (the optimizer's state is dropped when a run ends for good)",
            f"{weights / 1e6:.2f} MB (its weights' arrays)",
            "-",
            None,
        )
    )
    rows.append(
        row_class(
            "store size per run (rows' payload)",
            f"vanilla 5 epochs: {payload(store, run_id) / 1e6:.2f} MB; "
            f"50 epochs of 55,000 images at batch 16: {payload(store, long_id) / 1e6:.2f} MB",
            "-",
            "-",
            None,
        )
    )
    store.close()


if __name__ == "__main__":
    from bench.run import Row, table

    found: list = []
    measure(found, Row)
    print(table(found))
