"""What a run leaves behind as it trains: the loss of every batch (in chunks of about a second),
a row per finished epoch (logs, sample reconstructions, 2-D codes) and the latest checkpoint.

The worker writes them (each write fenced by its claim, see `core.store.claims`); the pages
read them, a live view only the chunks it has not seen yet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa

from core.store.claims import heartbeat
from core.store.codecs import (
    checkpoint_from_bytes,
    codes_from_bytes,
    codes_to_bytes,
    samples_from_bytes,
    samples_to_bytes,
    weights_from_bytes,
    weights_to_bytes,
)
from core.store.database import Database
from core.store.records import Epoch, Losses
from core.store.schema import bundles, checkpoints, epochs, loss_chunks


def _replace_bundle(connection, run_id: int, epoch: int, data: bytes) -> None:
    connection.execute(bundles.delete().where(bundles.c.run_id == run_id))
    connection.execute(bundles.insert().values(run_id=run_id, epoch=epoch, data=data))


class History(Database):
    """A run's losses, epochs and checkpoint."""

    # The worker's writes ------------------------------------------------------------------

    def add_losses(
        self,
        run_id: int,
        epoch: int,
        first_batch: int,
        batches: int,
        values: dict,
        attempt: int | None = None,
    ):
        """Append a chunk of per-batch losses; Fenced if `attempt` lost the run."""
        with self.transaction() as connection:
            heartbeat(connection, run_id, attempt)
            last = connection.execute(
                sa.select(sa.func.max(loss_chunks.c.seq)).where(loss_chunks.c.run_id == run_id)
            ).scalar()
            connection.execute(
                loss_chunks.insert().values(
                    run_id=run_id,
                    seq=(last or 0) + 1,
                    epoch=epoch,
                    first_batch=first_batch,
                    batches=batches,
                    values=values,
                )
            )

    def add_epoch(
        self,
        run_id: int,
        epoch: int,
        logs: dict,
        samples: np.ndarray,
        weights: list[np.ndarray] | None = None,
        codes: np.ndarray | None = None,
        attempt: int | None = None,
        optimizer_state: list[np.ndarray] | None = None,
        bundle: bytes | None = None,
        **progress: Any,
    ) -> None:
        """Record a finished epoch: its logs, samples, the 2-D codes of the replay's images
        (when the code is 2-D) and (after training) the checkpoint, with the optimizer's state
        and the serving bundle of those weights when given; all or nothing, so a page never
        serves other weights than the checkpoint's, and nothing (Fenced) if `attempt` lost the
        run."""
        with self.transaction() as connection:
            heartbeat(connection, run_id, attempt, **progress)
            connection.execute(
                epochs.delete().where(epochs.c.run_id == run_id, epochs.c.epoch == epoch)
            )
            connection.execute(
                epochs.insert().values(
                    run_id=run_id,
                    epoch=epoch,
                    logs=logs,
                    samples=samples_to_bytes(samples),
                    codes=None if codes is None else codes_to_bytes(codes),
                )
            )
            if weights is not None:
                connection.execute(checkpoints.delete().where(checkpoints.c.run_id == run_id))
                connection.execute(
                    checkpoints.insert().values(
                        run_id=run_id,
                        epoch=epoch,
                        weights=weights_to_bytes(weights, optimizer_state),
                    )
                )
            if bundle is not None:
                _replace_bundle(connection, run_id, epoch, bundle)

    def add_bundle(self, run_id: int, epoch: int, data: bytes, attempt: int | None = None) -> None:
        """Store the serving bundle (core.ml.served) of the run's checkpoint at `epoch`,
        replacing an older one; nothing (Fenced) if `attempt` lost the run."""
        with self.transaction() as connection:
            heartbeat(connection, run_id, attempt)
            _replace_bundle(connection, run_id, epoch, data)

    # The pages' reads ---------------------------------------------------------------------

    def bundle(self, run_id: int) -> tuple[int, bytes] | None:
        """(epoch, bytes) of the run's serving bundle, or None if it has none (a run trained
        before bundles existed, or one whose export failed)."""
        rows = self.rows(sa.select(bundles).where(bundles.c.run_id == run_id))
        return (rows[0].epoch, bytes(rows[0].data)) if rows else None

    def losses(self, run_id: int, after: int = 0) -> Losses:
        """Every training batch's loss so far, in order; with `after`, only the chunks written
        after chunk number `after` (a live view reads each chunk once)."""
        rows = self.rows(
            sa.select(loss_chunks)
            .where(loss_chunks.c.run_id == run_id, loss_chunks.c.seq > after)
            .order_by(loss_chunks.c.seq)
        )
        x, series = [], {}
        for row in rows:
            count = len(next(iter(row.values.values()), []))
            first = row.epoch + (row.first_batch + 1) / row.batches
            if x and first <= x[-1]:  # A continued run redoing the epoch its stop cut short.
                kept = int(np.searchsorted(x, first))
                del x[kept:]
                for values in series.values():
                    del values[kept:]
            x.extend(row.epoch + (row.first_batch + 1 + i) / row.batches for i in range(count))
            for key, values in row.values.items():
                series.setdefault(key, []).extend(values)
        return Losses(
            np.asarray(x, np.float64),
            {key: np.asarray(values, np.float64) for key, values in series.items()},
            rows[-1].seq if rows else after,
        )

    def first_loss(self, run_id: int, key: str = "loss") -> float | None:
        """The loss of the run's first batch, as `losses(run_id).series[key][0]`, from one
        chunk instead of all of them: what a continued run's divergence check compares with.
        It is the newest chunk that starts epoch 0 (a run stopped in its first epoch and
        continued trained it again from its start; later redone epochs leave it alone)."""
        rows = self.rows(
            sa.select(loss_chunks.c["values"])
            .where(
                loss_chunks.c.run_id == run_id,
                loss_chunks.c.epoch == 0,
                loss_chunks.c.first_batch == 0,
            )
            .order_by(loss_chunks.c.seq.desc())
            .limit(1)
        )
        found = rows[0][0].get(key) if rows else None
        return float(found[0]) if found else None

    def epochs(self, run_id: int, with_samples: bool = True) -> list[Epoch]:
        """The run's epoch rows in order (epoch 0: the untrained model's samples)."""
        columns = [epochs.c.epoch, epochs.c.logs] + ([epochs.c.samples] if with_samples else [])
        rows = self.rows(
            sa.select(*columns).where(epochs.c.run_id == run_id).order_by(epochs.c.epoch)
        )
        return [
            Epoch(row.epoch, row.logs, samples_from_bytes(row.samples) if with_samples else None)
            for row in rows
        ]

    def samples(self, run_id: int, epoch: int) -> np.ndarray | None:
        """The eight reconstructions stored after `epoch`, or None."""
        rows = self.rows(
            sa.select(epochs.c.samples).where(epochs.c.run_id == run_id, epochs.c.epoch == epoch)
        )
        return samples_from_bytes(rows[0].samples) if rows else None

    def replay(self, run_id: int) -> list[tuple[int, np.ndarray]]:
        """(epoch, codes (N, 2)) of every epoch that stored its 2-D codes, in order."""
        rows = self.rows(
            sa.select(epochs.c.epoch, epochs.c.codes)
            .where(epochs.c.run_id == run_id, epochs.c.codes.is_not(None))
            .order_by(epochs.c.epoch)
        )
        return [(row.epoch, codes_from_bytes(row.codes)) for row in rows]

    def epoch_losses(self, run_ids: list[int], key: str = "loss") -> dict[int, list[float]]:
        """Per-epoch mean training loss of several runs, for small curves in a list."""
        if not run_ids:
            return {}
        rows = self.rows(
            sa.select(epochs.c.run_id, epochs.c.logs)
            .where(epochs.c.run_id.in_(run_ids), epochs.c.epoch > 0)
            .order_by(epochs.c.run_id, epochs.c.epoch)
        )
        curves: dict[int, list[float]] = {run_id: [] for run_id in run_ids}
        for row in rows:
            if key in row.logs:
                curves[row.run_id].append(float(row.logs[key]))
        return curves

    def checkpoint(self, run_id: int, optimizer: bool = False) -> tuple | None:
        """(epoch, weight arrays) of the run's latest checkpoint, or None. With `optimizer`:
        (epoch, weights, optimizer state), the state None in a checkpoint from before it was
        kept or of a run that ended for good (`finish`). The epoch is always a completed one
        (core.ml.callbacks)."""
        rows = self.rows(sa.select(checkpoints).where(checkpoints.c.run_id == run_id))
        if not rows:
            return None
        if optimizer:
            return (rows[0].epoch, *checkpoint_from_bytes(rows[0].weights))
        return rows[0].epoch, weights_from_bytes(rows[0].weights)
