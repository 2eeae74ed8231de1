"""Training jobs in a child process: progress reaches the page, stop works, errors are reported."""

from __future__ import annotations

import numpy as np
import pytest

from core import variants
from core.jobs import TrainingJob
from core.training import TrainConfig

SAMPLES = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)


def run_job(config: TrainConfig, stop_at_once: bool = False, name: str = "vanilla") -> TrainingJob:
    job = TrainingJob(name, config, variants.make_config(name), SAMPLES).start()
    if stop_at_once:
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
