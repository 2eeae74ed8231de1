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
