"""Continue means continue (issue 25): a run stopped in the middle of an epoch and continued
through the store (`core.cluster.job.train_run` on a real SQLite `Store`, as a worker runs it)
counts only completed epochs, keeps an end-of-epoch checkpoint with Adam's state, is not ended as
"diverged" at the seam, and ends where the same run never stopped ends."""

from __future__ import annotations

import numpy as np
import pytest

from core.cluster import job as runs
from core.cluster.job import train_run
from core.ml import variants
from core.ml.choices import settings_for
from core.ml.training import TrainConfig
from core.store import Store, weights_to_bytes
from core.store.schema import checkpoints

pytestmark = pytest.mark.slow  # Trains a small linear model for 4 to 9 epochs per test.

# A linear autoencoder at learning rate 0.01, 128 steps an epoch: continued without Adam's
# state, its loss jumps 4x at the seam and the old divergence check ended it (measured in
# tests/unit/test_training.py's continue test, the same setting).
CONFIG = TrainConfig(
    epochs=4, subset=2048, batch_size=16, learning_rate=0.01, validation_images=200
)
STEPS = 2048 // 16


class StopsMidEpoch(Store):
    """A store whose student presses Stop in the middle of an epoch: the stop flag is set
    for real (`request_stop`) once the worker has asked `stop_wanted` after that many
    batches (it asks after every batch with `runs.STOP_POLL` at 0)."""

    stop_at: int | None = None

    def stop_wanted(self, run_id: int, attempt: int | None = None) -> bool:
        if self.stop_at is not None:
            self.stop_at -= 1
            if self.stop_at == 0:
                self.request_stop(run_id, self.run(run_id).student_id)
        return super().stop_wanted(run_id, attempt)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "STOP_POLL", 0.0)
    opened = StopsMidEpoch(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    yield opened
    opened.close()


def new_run(store: Store) -> tuple[int, int]:
    student = store.new_student()[0]
    settings = settings_for(CONFIG, variants.make_config("linear"))
    return student, store.create_run(student, "linear", settings, CONFIG.epochs)


def train_claimed(store: Store, run_id: int, splits) -> str | None:
    return train_run(store, run_id, splits, attempt=store.claim(run_id, "test:0"))


@pytest.mark.slow  # Trains.
@pytest.mark.parametrize("kept_state", [True, False], ids=["checkpoint", "old-checkpoint"])
def test_a_run_stopped_mid_epoch_continues_from_its_last_completed_epoch(store, splits, kept_state):
    student, run_id = new_run(store)
    store.stop_at = 2 * STEPS + STEPS // 2  # Half-way through epoch 3.
    assert train_claimed(store, run_id, splits) == "stopped"
    store.stop_at = None
    run = store.run(run_id)
    # Two epochs completed, not three: the half epoch is neither counted nor checkpointed.
    assert run.epochs_done == 2 and run.batch == 0 and run.metrics is not None
    epoch, weights, state = store.checkpoint(run_id, optimizer=True)
    assert epoch == 2 and state is not None and int(state[0]) == 2 * STEPS  # Adam's steps.
    assert [e.epoch for e in store.epochs(run_id, with_samples=False)] == [0, 1, 2]
    # The pages' reader gets the weights alone, as before the optimizer state was kept.
    assert [w.shape for w in store.checkpoint(run_id)[1]] == [w.shape for w in weights]
    if not kept_state:  # A checkpoint written before the optimizer state was kept.
        with store.engine.begin() as connection:
            connection.execute(checkpoints.update().values(weights=weights_to_bytes(weights)))
        assert store.checkpoint(run_id, optimizer=True)[2] is None

    store.continue_run(run_id, student)
    assert train_claimed(store, run_id, splits) == "finished"
    run = store.run(run_id)
    # Not "diverged" at the seam, with or without Adam's state.
    assert run.status == "finished" and run.message is None and run.epochs_done == 4
    assert [e.epoch for e in store.epochs(run_id, with_samples=False)] == [0, 1, 2, 3, 4]
    continued = store.losses(run_id).series["loss"]
    seam = 2 * STEPS
    after_seam = continued[-2 * STEPS :]
    if not kept_state:  # Adam restarted: a jump at the seam, but not a divergence.
        assert after_seam[:20].max() > 2 * continued[seam - 20 : seam].mean()
        return

    _, unstopped_id = new_run(store)
    assert train_claimed(store, unstopped_id, splits) == "finished"
    unstopped = store.losses(unstopped_id).series["loss"]
    # The first session's batches were the unstopped run's; the continued session redid
    # epoch 3 from its start and then took the same steps as the run never stopped (losses
    # are stored to 5 significant digits).
    np.testing.assert_allclose(continued[:seam], unstopped[:seam], rtol=1e-4)
    np.testing.assert_allclose(after_seam, unstopped[seam:], rtol=1e-4)
    final = store.checkpoint(run_id)[1]
    for now, expected in zip(final, store.checkpoint(unstopped_id)[1], strict=True):
        np.testing.assert_allclose(now, expected, rtol=1e-5, atol=1e-6)
    assert run.metrics == store.run(unstopped_id).metrics


@pytest.mark.slow  # Trains.
def test_a_run_lost_while_measuring_is_continued_to_its_metrics(store, splits):
    # A worker lost after the last epoch (the database restarted while it measured, a freeze)
    # left a run with every epoch and no metrics: interrupted, it must still be continuable.
    from dataclasses import replace

    import sqlalchemy as sa

    from core.store.schema import runs as table

    student = store.new_student()[0]
    short = settings_for(replace(CONFIG, epochs=1), variants.make_config("linear"))
    run_id = store.create_run(student, "linear", short, 1)
    attempt = store.claim(run_id, "w:1")
    assert train_run(store, run_id, splits, attempt=attempt) == "finished"
    with store._transaction() as connection:  # As the sweep leaves it: no metrics, interrupted.
        connection.execute(
            sa.update(table).where(table.c.id == run_id).values(status="interrupted", metrics=None)
        )
    store.continue_run(run_id, student)
    attempt = store.claim(run_id, "w:2")
    assert train_run(store, run_id, splits, attempt=attempt) == "finished"
    run = store.run(run_id)
    assert run.epochs_done == 1 and run.metrics and run.metrics["mse"] > 0
    assert [epoch.epoch for epoch in store.epochs(run_id)] == [0, 1]
