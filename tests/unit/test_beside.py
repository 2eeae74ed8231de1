"""The threads beside a training task (core.cluster.beside): the store writes' thread keeps
their order, lets the training thread go on, and hands a failed write back to it."""

from __future__ import annotations

import threading

import pytest

from core.cluster.beside import Writes


def test_writes_are_made_in_order_while_the_caller_goes_on():
    made: list[int] = []
    gate = threading.Event()

    def write(value):
        gate.wait(10)  # A slow database: the caller must not wait for it.
        made.append(value)

    with Writes(pending=8) as writes:
        for value in range(5):
            writes.submit(write, value)
        assert made == []  # Submitted, not yet written: the caller was not held up.
        gate.set()
        writes.flush()
        assert made == [0, 1, 2, 3, 4]


def test_a_failed_write_is_raised_on_the_caller_and_nothing_after_it_is_written():
    made: list[str] = []

    def write(value):
        if value == "bad":
            raise ConnectionError("the store went away")
        made.append(value)

    with Writes() as writes:
        writes.submit(write, "first")
        writes.submit(write, "bad")
        writes.submit(write, "after")
        with pytest.raises(ConnectionError, match="went away"):
            writes.flush()
        with pytest.raises(ConnectionError):  # And at the next submit too.
            writes.submit(write, "later")
    assert made == ["first"]


def test_a_full_queue_holds_the_caller_back():
    gate = threading.Event()
    with Writes(pending=1) as writes:
        writes.submit(gate.wait, 10)  # Taken by the thread, which now waits.
        writes.submit(lambda: None)  # Fills the queue.
        blocked = threading.Thread(target=writes.submit, args=(lambda: None,))
        blocked.start()
        blocked.join(0.3)
        assert blocked.is_alive()  # A slow store slows the caller, not memory's growth.
        gate.set()
        blocked.join(10)
        assert not blocked.is_alive()
        writes.flush()


@pytest.mark.slow
def test_bundles_export_an_architecture_once_and_fill_in_each_checkpoint():
    import numpy as np

    from core.cluster.beside import Bundles
    from core.ml import onnx_export, variants
    from core.ml.served import Served

    built = []

    def build():
        built.append(1)
        return variants.build("linear")

    bundles = Bundles()
    maker = bundles.maker("linear-32", build, "linear")
    assert bundles.maker("linear-32", build, "linear") is maker and len(built) == 1
    model = variants.build("linear")
    images = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    for scale in (0.5, 2.0):  # Two checkpoints: each bundle holds its own weights.
        model.set_weights([w * scale + 0.01 for w in model.get_weights()])
        measured = onnx_export.differences(model, Served(maker(model.get_weights())), images)
        assert all(measured[part] <= onnx_export.TOLERANCE[part] for part in measured)
    for key in ("a", "b", "c", "d"):  # More architectures than it keeps: the oldest goes.
        bundles.maker(key, build, "linear")
    assert bundles.maker("linear-32", build, "linear") is not maker and len(built) == 6


def test_a_bundle_that_cannot_be_made_is_none_and_no_error(monkeypatch):
    """Only the pages need a bundle: a failed export must not fail the run (the session's end
    then exports it in full, or the page says it cannot show the run)."""
    from core.cluster import beside
    from core.ml import onnx_export

    def broken(model):
        raise RuntimeError("tf2onnx cannot convert this layer")

    monkeypatch.setattr(onnx_export, "refill_for", broken)
    maker = beside.Bundles().maker("any", lambda: object(), "vanilla")
    assert not maker.ready() and maker([]) is None
