"""Training jobs in a child process: progress reaches the page, stop works, errors are reported."""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np
import pytest

from core import variants
from core.jobs import TrainingJob, TrainingSlots
from core.training import TrainConfig

SAMPLES = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)


def wait_until(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_job(config: TrainConfig, stop_at_once: bool = False, name: str = "vanilla") -> TrainingJob:
    job = TrainingJob(name, config, variants.make_config(name), SAMPLES).start()
    if stop_at_once:
        wait_until(lambda: job.snapshot().state != "queued")  # Stop, not a cancel.
        job.stop()
        job.stop()  # Pressing Stop twice is harmless.
    job.join(timeout=180)
    assert not job.running
    return job


@pytest.mark.slow
def test_job_trains_reports_and_returns_a_usable_model():
    job = run_job(TrainConfig(epochs=2, subset=1000, batch_size=100))
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    assert snap.samples is not None and snap.samples.shape == (8, 28, 28, 1)
    assert snap.samples_epoch == 2
    keys = {key for _, key, _ in snap.curve}
    assert {"loss", "val_loss"} <= keys
    assert [x for x, key, _ in snap.curve if key == "val_loss"] == [1.0, 2.0]
    result = job.result
    assert result.epochs_completed == 2 and not result.stopped
    out = np.asarray(result.model(SAMPLES, training=False))
    np.testing.assert_allclose(out, snap.samples, atol=1e-5)  # Same weights as in the child.


@pytest.mark.slow
def test_stop_keeps_the_weights_reached():
    job = run_job(TrainConfig(epochs=20, subset=5000, batch_size=50), stop_at_once=True)
    assert job.snapshot().state == "stopped"
    assert job.result.stopped and job.result.epochs_completed == 1


@pytest.mark.slow
def test_errors_in_the_child_reach_the_page():
    job = run_job(TrainConfig(epochs=0))
    snap = job.snapshot()
    assert snap.state == "failed" and "epochs must be at least 1" in snap.error
    assert job.result is None


@pytest.mark.slow
def test_a_prewarmed_worker_is_used_by_the_next_job():
    from core import jobs

    jobs.prewarm()
    spare = jobs._spare
    jobs.prewarm()  # Idempotent: still the same spare process.
    assert jobs._spare is spare and spare.process.is_alive()
    job = run_job(TrainConfig(epochs=1, subset=500, batch_size=100))
    assert job._worker is spare and job.snapshot().state == "done"
    assert jobs._spare is None  # Taken; the Train page starts the next spare when shown.


@pytest.mark.slow
def test_the_child_does_not_rerun_the_parents_main_script(tmp_path, monkeypatch):
    # Under `streamlit run`, __main__ is the page script; a spawned child re-imports its
    # parent's __main__ and would run the page again. This one leaves a mark if it runs.
    import sys
    import types

    marker = tmp_path / "page-ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    job = run_job(TrainConfig(epochs=1, subset=200, batch_size=100))
    assert job.snapshot().state == "done"
    assert not marker.exists()


def test_slots_queue_in_arrival_order_and_a_waiter_can_leave():
    slots = TrainingSlots(capacity=1)
    first, second, third = object(), object(), object()
    assert slots.acquire(first, lambda: False)
    leave = threading.Event()
    got = {}

    def wait(owner, cancelled):
        got[owner] = slots.acquire(owner, cancelled)

    waiters = [
        threading.Thread(target=wait, args=(second, leave.is_set)),
        threading.Thread(target=wait, args=(third, lambda: False)),
    ]
    waiters[0].start()
    wait_until(lambda: slots.position(second) == 1)
    waiters[1].start()
    wait_until(lambda: slots.position(third) == 2)
    assert slots.running == 1 and slots.waiting == 2
    leave.set()  # The second student cancels: the third moves up.
    waiters[0].join(5)
    assert got[second] is False and slots.position(third) == 1
    slots.release(first)
    waiters[1].join(5)
    assert got[third] is True and slots.running == 1 and slots.position(third) is None
    slots.release(third)
    assert slots.running == 0 and slots.waiting == 0
    with pytest.raises(ValueError, match="at least one"):
        TrainingSlots(0)


def test_a_queued_job_shows_its_place_and_can_be_cancelled():
    slots = TrainingSlots(capacity=1)
    holder = object()
    slots.acquire(holder, lambda: False)  # Someone else is training.
    job = TrainingJob(
        "vanilla", TrainConfig(epochs=1), variants.make_config("vanilla"), SAMPLES, slots=slots
    ).start()
    wait_until(lambda: job.snapshot().queue_position == 1)
    assert job.snapshot().state == "queued" and job.running
    job.stop()
    job.stop()  # Twice is harmless here too.
    job.join(5)
    assert not job.running and job.snapshot().state == "cancelled"
    assert job._worker is None and job.result is None  # No process was ever taken.
    assert slots.waiting == 0
    slots.release(holder)


@pytest.mark.slow
def test_second_job_waits_for_the_first_then_trains():
    slots = TrainingSlots(capacity=1)
    config = TrainConfig(epochs=1, subset=500, batch_size=100)

    def job():
        return TrainingJob("vanilla", config, variants.make_config("vanilla"), SAMPLES, slots=slots)

    first, second = job().start(), job().start()
    wait_until(lambda: second.snapshot().queue_position == 1 or not first.running)
    states = {first.snapshot().state, second.snapshot().state}
    assert "queued" in states or not first.running
    first.join(180)
    second.join(180)
    assert first.snapshot().state == second.snapshot().state == "done"
    assert slots.running == 0


@pytest.mark.slow
def test_a_closed_session_frees_its_slot_process_and_result():
    slots = TrainingSlots(capacity=1)
    owner_here = threading.Event()
    owner_here.set()
    job = TrainingJob(
        "vanilla",
        TrainConfig(epochs=50, subset=5000, batch_size=50),
        variants.make_config("vanilla"),
        SAMPLES,
        slots=slots,
        owner_alive=owner_here.is_set,
        grace=0.5,
    ).start()
    wait_until(lambda: job.snapshot().state == "running")
    owner_here.clear()  # The tab closes mid-training.
    job.join(60)
    assert not job.running and job.snapshot().state == "abandoned"
    assert job.result is None  # Weights dropped: nobody can see them.
    assert not job._worker.process.is_alive()
    assert slots.running == 0


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_training_never_changes_shared_or_other_sessions_models():
    from core import cards

    shared = cards.load_model("vanilla")  # What the server caches for every student.
    shared_before = weights_digest(shared)
    file_before = hashlib.sha256(cards.model_path("vanilla").read_bytes()).hexdigest()
    config = TrainConfig(epochs=1, subset=1000, batch_size=100)
    first = run_job(config)
    first_before = weights_digest(first.result.model)  # One session's trained model.
    second = run_job(TrainConfig(epochs=1, subset=1000, batch_size=100, seed=1))
    assert second.snapshot().state == "done"
    assert weights_digest(second.result.model) != first_before  # It did train something.
    assert weights_digest(first.result.model) == first_before
    assert weights_digest(shared) == shared_before
    assert hashlib.sha256(cards.model_path("vanilla").read_bytes()).hexdigest() == file_before
