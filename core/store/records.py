"""What the store's reads return: plain frozen dataclasses, free of SQLAlchemy, that the pages,
the engine and the worker pass around."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.store.schema import ACTIVE

ESTIMATE_AFTER = 0.05  # Share of a run's batches done before its time left is estimated.


@dataclass(frozen=True)
class Run:
    """One training run as the pages see it (without its losses, samples or weights)."""

    id: int
    student_id: int
    variant: str
    settings: dict
    status: str
    phase: str | None
    message: str | None
    stop_requested: bool
    created_at: float
    queued_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    worker: str | None
    epochs_total: int
    epochs_done: int
    batches: int | None
    batch: int | None
    seconds: float
    samples_per_second: float | None
    metrics: dict | None
    class_id: int | None = None  # The class it was started in, if any.
    uid: str = ""  # Random, never shared with another run: what caches key on.
    lane: int = 0  # A racer's place in its race (0 for a single run).
    attempt: int = 0  # How many times a worker claimed it; the current claim's fence.

    @classmethod
    def from_row(cls, row) -> Run:
        """A run from a row of `select(runs)` (the table's columns are the fields)."""
        return cls(**row._mapping)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def key(self) -> str:
        """The model's stable identity in every cache: the run's random uid (an id can be
        given again by a database restored from a backup; a uid cannot) and the epoch of its
        weights."""
        return f"run-{self.uid}@{self.epochs_done}"

    @property
    def dataset(self) -> str:
        """The images it trains on (core.ml.data's name); runs from before Fashion-MNIST
        carry none: MNIST's."""
        return self.settings.get("train", {}).get("dataset") or "mnist"

    @property
    def fraction(self) -> float:
        """Share of the planned batches done, in [0, 1]."""
        total = max(1, self.epochs_total * (self.batches or 1))
        done = self.epochs_done * (self.batches or 1) + (self.batch or 0)
        return min(1.0, done / total)

    @property
    def seconds_left(self) -> float | None:
        """Estimated training time left from the pace so far (as `Progress.seconds_left`);
        None for the first ESTIMATE_AFTER of the run, whose first batch carries the model's
        compilation (a VAE's first batch said "about 5204 s left" of a 35 s run)."""
        if self.fraction < ESTIMATE_AFTER or not self.seconds:
            return None
        return self.seconds * (1.0 - self.fraction) / self.fraction


@dataclass(frozen=True)
class Losses:
    """The per-batch training losses of a run: x in epochs (fractional) and each series;
    `last_seq` is the newest chunk read, so a live view can ask for only what came after."""

    x: np.ndarray
    series: dict[str, np.ndarray]
    last_seq: int = 0

    def extend(self, newer: Losses) -> Losses:
        """These losses followed by `newer` (read with `after=self.last_seq`). A continued run
        redoes the epoch its stop cut short: the redone batches replace the cut ones."""
        if not len(newer.x):
            return self
        kept = int(np.searchsorted(self.x, newer.x[0]))  # The points before the redone ones.
        old_gap, new_gap = np.full(kept, np.nan), np.full(len(newer.x), np.nan)
        return Losses(
            np.concatenate([self.x[:kept], newer.x]),
            {
                key: np.concatenate(
                    [self.series.get(key, old_gap)[:kept], newer.series.get(key, new_gap)]
                )
                for key in set(self.series) | set(newer.series)
            },
            newer.last_seq,
        )


@dataclass(frozen=True)
class Epoch:
    epoch: int
    logs: dict
    samples: np.ndarray


@dataclass(frozen=True)
class ClassRow:
    id: int
    name: str
    setup: dict
    paused: bool
    created_at: float


@dataclass(frozen=True)
class Member:
    """A student of a class as the board and the teacher see them."""

    id: int
    nickname: str
    on_board: bool
    created_at: float
    last_seen_at: float
