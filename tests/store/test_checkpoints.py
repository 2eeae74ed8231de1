"""A run's checkpoint keeps the optimizer's state only while the run can be continued, and a
continued run reads its first batch loss from one chunk (issue 26's store leftovers), on SQLite
and on the PostgreSQL server."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import Store, checkpoint_from_bytes, schema, weights_to_bytes

SETTINGS = {"train": {"epochs": 3, "batch_size": 64}, "model": {"code_size": 32}}
SAMPLES = np.zeros((8, 28, 28, 1), np.float32)
WEIGHTS = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
# Adam's: its step count, then a first and a second moment per weight.
OPTIMIZER = [np.array(7, np.int64)] + [w * 0.1 for w in WEIGHTS] + [w * 0.01 for w in WEIGHTS]


def trained(store: Store, epochs_done: int = 1) -> tuple[int, int]:
    """(student, run): a run claimed and trained `epochs_done` epochs, still running."""
    student = store.new_student()[0]
    run_id = store.create_run(student, "vanilla", SETTINGS, 3)
    store.claim(run_id, "host:1")
    for epoch in range(1, epochs_done + 1):
        store.add_epoch(
            run_id,
            epoch,
            {"loss": 0.5},
            SAMPLES,
            WEIGHTS,
            optimizer_state=OPTIMIZER,
            epochs_done=epoch,
        )
    return student, run_id


def stored_bytes(store: Store, run_id: int) -> bytes:
    with store.engine.connect() as connection:
        return connection.execute(
            schema.checkpoints.select().where(schema.checkpoints.c.run_id == run_id)
        ).one()[-1]


@pytest.mark.parametrize("status", ["finished", "failed", "diverged"])
def test_a_run_that_cannot_be_continued_keeps_its_weights_without_the_optimizer_state(
    store, status
):
    _, run_id = trained(store)
    before = len(stored_bytes(store, run_id))
    assert store.finish(run_id, status) is True
    epoch, weights, state = store.checkpoint(run_id, optimizer=True)
    assert epoch == 1 and state is None
    for kept, expected in zip(weights, WEIGHTS, strict=True):
        np.testing.assert_array_equal(kept, expected)
    # Adam's two moments are each the weights' size: the checkpoint is about a third as big.
    assert len(stored_bytes(store, run_id)) < before / 2


@pytest.mark.parametrize("status", ["stopped", "interrupted"])
def test_a_run_that_can_be_continued_keeps_the_optimizer_state(store, status):
    _, run_id = trained(store)
    store.finish(run_id, status)
    _, _, state = store.checkpoint(run_id, optimizer=True)
    assert state is not None and len(state) == len(OPTIMIZER) and int(state[0]) == 7


def test_a_fenced_finish_leaves_the_checkpoint_alone(store):
    _, run_id = trained(store)
    before = stored_bytes(store, run_id)
    assert store.finish(run_id, "finished", attempt=5) is False  # Not this claim's any more.
    assert stored_bytes(store, run_id) == before
    assert store.run(run_id).status == "running"


def test_finishing_a_run_without_a_checkpoint_or_with_an_old_one(store):
    _, bare = trained(store, epochs_done=0)
    assert store.finish(bare, "failed") is True and store.checkpoint(bare) is None
    _, old = trained(store)
    with store.transaction() as connection:  # A checkpoint written before the state was kept.
        connection.execute(
            schema.checkpoints.update()
            .where(schema.checkpoints.c.run_id == old)
            .values(weights=weights_to_bytes(WEIGHTS))
        )
    before = stored_bytes(store, old)
    assert store.finish(old, "finished") is True
    assert stored_bytes(store, old) == before  # Nothing to drop: not rewritten.
    assert checkpoint_from_bytes(before)[1] is None


def test_first_loss_is_the_first_batch_of_the_losses_read_from_one_chunk(store):
    student, run_id = trained(store, epochs_done=0)
    assert store.first_loss(run_id) is None  # No batch yet.
    store.add_losses(run_id, 0, 0, 4, {"loss": [0.9, 0.8]})
    store.add_losses(run_id, 0, 2, 4, {"loss": [0.7]})
    assert store.first_loss(run_id) == pytest.approx(0.9)
    # Stopped in its first epoch and continued: epoch 0 is trained again from its start.
    store.request_stop(run_id, student)
    store.finish(run_id, "stopped")
    store.continue_run(run_id, student)
    store.claim(run_id, "host:2")
    store.add_losses(run_id, 0, 0, 4, {"loss": [0.95, 0.85]})
    store.add_losses(run_id, 1, 0, 4, {"loss": [0.5]})
    # Later redone epochs leave the first batch alone.
    store.add_losses(run_id, 1, 0, 4, {"loss": [0.45]})
    assert store.first_loss(run_id) == pytest.approx(store.losses(run_id).series["loss"][0])
    assert store.first_loss(run_id) == pytest.approx(0.95)
    assert store.first_loss(run_id, "kl_loss") is None
