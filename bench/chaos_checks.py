"""The chaos harness's check from the database and the workers' logs: was any run written by
two workers at once (`fencing_problems`)?
"""

from __future__ import annotations

from pathlib import Path

from bench.chaos_lab import FENCED_LINE


def fencing_problems(store, logs: Path) -> tuple[list[str], dict]:
    """Evidence that some run was written by two workers, from the database and the logs.

    Every claim bumps runs.attempt, so a run was claimed `attempt` times, and each claim
    trains from the checkpoint (the end of its last whole epoch) or from scratch. A run's loss
    chunks, in the order they were written (seq), must therefore be at most `attempt` segments,
    each contiguous (a chunk starts exactly where the previous ended: same epoch at the next
    batch, or batch 0 of the next epoch), and a new segment may only start at batch 0 of an
    epoch not after where the previous one stopped (a resume redoing its cut epoch). Two
    writers at once interleave their chunks: a batch range written twice, or jumps, or more
    segments than claims. Its epoch rows must be exactly 0..epochs_done and its checkpoint at
    epochs_done; a finished run's last segment reaches the end of its last epoch. The workers'
    logs' "attempt N no longer holds it" lines (a fenced, stale worker that stopped) must name
    an attempt older than the run's current one.
    """
    import sqlalchemy as sa

    from core.store.schema import checkpoints, epochs, loss_chunks, runs

    problems: list[str] = []
    stats = {"runs": 0, "segments": 0, "resumed_runs": 0, "fenced_lines": 0}
    with store.engine.connect() as connection:
        all_runs = connection.execute(sa.select(runs)).all()
        chunk_rows = connection.execute(
            sa.select(
                loss_chunks.c.run_id,
                loss_chunks.c.seq,
                loss_chunks.c.epoch,
                loss_chunks.c.first_batch,
                loss_chunks.c.batches,
                loss_chunks.c["values"].label("losses"),
            ).order_by(loss_chunks.c.run_id, loss_chunks.c.seq)
        ).all()
        epoch_rows = connection.execute(sa.select(epochs.c.run_id, epochs.c.epoch)).all()
        checkpoint_rows = dict(
            connection.execute(sa.select(checkpoints.c.run_id, checkpoints.c.epoch)).all()
        )
    chunks: dict[int, list] = {}
    for row in chunk_rows:
        chunks.setdefault(row.run_id, []).append(row)
    epochs_of: dict[int, list[int]] = {}
    for row in epoch_rows:
        epochs_of.setdefault(row.run_id, []).append(row.epoch)
    attempts = {run.id: run.attempt for run in all_runs}
    statuses = {run.id: run.status for run in all_runs}
    for run in all_runs:
        if run.status in ("queued", "running"):
            continue  # Still being written; checked once it ends.
        stats["runs"] += 1
        where = f"run {run.id} ({run.status}, attempt {run.attempt})"
        mine = chunks.get(run.id, [])
        segments, position = 0, None  # position: (epoch, next batch, batches per epoch)
        for chunk in mine:
            length = len(chunk.losses.get("loss", []))
            if position is not None:
                epoch, batch, per_epoch = position
                follows = (chunk.epoch == epoch and chunk.first_batch == batch) or (
                    batch == per_epoch and chunk.epoch == epoch + 1 and chunk.first_batch == 0
                )
                if not follows:
                    if chunk.first_batch != 0 or chunk.epoch > epoch:
                        problems.append(
                            f"{where}: chunk {chunk.seq} starts at epoch {chunk.epoch} batch "
                            f"{chunk.first_batch} after epoch {epoch} batch {batch}"
                        )
                    segments += 1
            else:
                segments = 1
                if chunk.epoch != 0 and chunk.first_batch != 0:
                    problems.append(f"{where}: its first chunk starts mid-epoch")
            position = (chunk.epoch, chunk.first_batch + length, chunk.batches)
        stats["segments"] += segments
        stats["resumed_runs"] += segments > 1
        if segments > max(run.attempt, 1):
            problems.append(f"{where}: {segments} runs of chunks for {run.attempt} claims")
        if run.status == "finished" and position is not None:
            epoch, batch, per_epoch = position
            if (epoch, batch) != (run.epochs_total - 1, per_epoch):
                problems.append(f"{where}: finished, its losses end at epoch {epoch} {batch}")
        numbers = sorted(epochs_of.get(run.id, []))
        if run.attempt and numbers != list(range(run.epochs_done + 1)):
            problems.append(f"{where}: epoch rows {numbers}, epochs_done {run.epochs_done}")
        if run.epochs_done and checkpoint_rows.get(run.id) != run.epochs_done:
            problems.append(
                f"{where}: checkpoint at {checkpoint_rows.get(run.id)}, epochs {run.epochs_done}"
            )
    for log in sorted(logs.glob("worker-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if found := FENCED_LINE.search(line):
                run_id, attempt = int(found.group(1)), int(found.group(2))
                stats["fenced_lines"] += 1
                # A fence is right when another claim holds the run now (a newer attempt),
                # or when no claim does (interrupted by a sweep, or queued again after it):
                # the same attempt still running, or having ended the run, would be wrong.
                current, status = attempts.get(run_id, 0), statuses.get(run_id)
                if attempt > current or (
                    attempt == current and status not in ("queued", "interrupted")
                ):
                    problems.append(
                        f"{log.name}: fenced on run {run_id} attempt {attempt}, but the run's "
                        f"attempt is {current} ({status})"
                    )
    return problems, stats
