"""`make chaos`: fault injection on the `make cluster` topology while a class trains.

Brings up its own cluster (PostgreSQL, a Dask scheduler over TLS, two training workers, two app
servers, HAProxy; deploy/cluster.py) on a free port and its own state folder, creates a few
students in the store, and opens one Chromium session per student through HAProxy on
`/train?variant=vanilla&me=TOKEN`. Each student presses Train, waits for the run to end, and
presses Train again, for the whole experiment. Meanwhile, one at a time with recovery in
between, it injects:

1. worker-kill: a training worker that is training a run is killed (SIGKILL), then restarted;
2. worker-freeze: such a worker is frozen (SIGSTOP) for FREEZE_SECONDS (longer than the 30 s
   lost-worker limit), then resumed (SIGCONT);
3. scheduler-kill: the Dask scheduler is killed (`stop scheduler --kill`) and started again;
4. app-kill: an app server holding sessions is killed; its pages must reconnect through
   HAProxy to the other one; then it is started again;
5. postgres-restart: PostgreSQL is stopped (fast) and started again after a few seconds.

A run that ends interrupted or stopped is continued through the store (`Store.continue_run`,
as the page's Continue does), and counts as continued when it then finishes; a run neither
finished nor continuable is lost. Checked after each fault and at the end, from the database:
no run was written by two workers (see `fencing_problems`); from every browser, continuously:
no `[data-testid=stException]` element and no page JS error; at intervals: the Train page's
"Your runs" table lists only runs of its own student.

    python -m bench.chaos [--students 6] [--faults worker-kill,worker-freeze,...]
                          [--dwell 40] [--json FILE] [--no-write]

It prints the table of bench/CHAOS.md and writes every figure as JSON to
bench/artifacts/chaos.json (unless --no-write) and to `--json FILE` (for
tests/cluster/test_chaos.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "bench" / "artifacts"
RESULTS = ROOT / "bench" / "CHAOS.md"
FAULTS = ("worker-kill", "worker-freeze", "scheduler-kill", "app-kill", "postgres-restart")
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
COOKIE = "LABSRV"
# Longer than core.cluster.housekeeping.STUCK_SECONDS (30 s): a frozen worker that Dask still
# lists has its run interrupted, and when it is resumed its writes are refused (the claim's fence).
FREEZE_SECONDS = 40.0
POSTGRES_DOWN_SECONDS = 5.0
RUN_TIMEOUT = 600.0  # A run that has not ended this long after it was pressed is stuck.
ENDED = ("finished", "stopped", "diverged", "failed", "interrupted")
CONTINUABLE = ("stopped", "interrupted")
FENCED_LINE = re.compile(r"run (\d+): run \d+: attempt (\d+) no longer holds it")

# Every element with an exception, reported as soon as it appears (polled twice a second in
# the page, so one shown for a moment between two checks of the harness is not missed).
WATCH_EXCEPTIONS = """
(() => {
  const seen = new Set();
  setInterval(() => {
    for (const element of document.querySelectorAll('[data-testid=stException]')) {
      const text = (element.innerText || '').slice(0, 500);
      if (!seen.has(text)) { seen.add(text); window.chaosException(text); }
    }
  }, 500);
})();
"""


@dataclass
class Tracked:
    """One run the harness saw a student start."""

    id: int
    student: int
    pressed: float
    phase: str = ""  # The fault in effect when it first ended (or at the end).
    first_end: float | None = None
    first_status: str = ""
    interruptions: int = 0
    continued: int = 0
    final: str = ""  # Its status when the harness stopped watching it.
    note: str = ""


@dataclass
class Findings:
    runs: dict[int, Tracked] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    cross_views: list[str] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    view_checks: int = 0
    table_rows_read: int = 0  # "Your runs" rows read over all checks.
    phases: list[tuple[str, float]] = field(default_factory=list)  # (name, start time)
    events: list[str] = field(default_factory=list)
    fault_notes: dict[str, dict] = field(default_factory=dict)
    checks: dict[str, list[str]] = field(default_factory=dict)  # After each phase: problems.

    def phase(self) -> str:
        return self.phases[-1][0] if self.phases else "start"

    def log(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {self.phase()}: {text}"
        self.events.append(line)
        print(line, flush=True)


class Lab:
    """The cluster, its store, and what the harness knows about the students."""

    def __init__(self, cluster, store, found: Findings):
        self.cluster, self.store, self.found = cluster, store, found
        self.students: list[tuple[int, str]] = []  # (student id, token)
        self.stopping = asyncio.Event()

    async def db(self, method, *args, tries: float = 120.0):
        """A store call in a thread, retried while the store is unreachable (the PostgreSQL
        restart): the harness must outlive the faults it injects."""
        from sqlalchemy.exc import DBAPIError

        from core.store import StoreError

        deadline = time.monotonic() + tries
        while True:
            try:
                return await asyncio.to_thread(method, *args)
            except (StoreError, DBAPIError):  # The harness's own queries raise the latter.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)


# Students -------------------------------------------------------------------------------------


async def open_train(page, url: str) -> None:
    await page.goto(url, wait_until="domcontentloaded", timeout=180_000)
    await page.wait_for_selector("h1:has-text('Train an autoencoder')", timeout=180_000)
    await page.wait_for_selector(IDLE, timeout=180_000)


async def shown_run_ids(page) -> tuple[set[int], int]:
    """The run ids the page shows: the "Your runs" table's first column and the open run's
    heading ("Run 12: Vanilla"); and how many came from the table."""
    ids: set[int] = set()
    in_table = 0
    for heading in await page.locator("h3").all_inner_texts():
        if found := re.match(r"\s*Run (\d+):", heading):
            ids.add(int(found.group(1)))
    tables = page.locator("[data-testid=stDataFrame]")
    for index in range(await tables.count()):
        rows = tables.nth(index).locator("[role=row]")
        for row in range(1, await rows.count()):
            cells = await rows.nth(row).locator("[role=gridcell]").all_inner_texts()
            if cells and cells[0].strip().isdigit():
                ids.add(int(cells[0].strip()))
                in_table += 1
    return ids, in_table


async def check_view(lab: Lab, page, index: int) -> None:
    """Every run id the student's page shows must be one of that student's runs."""
    student_id = lab.students[index][0]
    try:
        shown, in_table = await shown_run_ids(page)
    except Exception:  # The page is reconnecting or rerunning: the next check reads it.
        return
    if not shown:
        return
    owners = await lab.db(owners_of, lab.store, sorted(shown))
    lab.found.view_checks += 1
    lab.found.table_rows_read += in_table
    for run_id in sorted(shown):
        if owners.get(run_id) != student_id:
            lab.found.cross_views.append(
                f"student {index} (id {student_id}) was shown run {run_id} of student "
                f"{owners.get(run_id)}"
            )


def owners_of(store, ids: list[int]) -> dict[int, int]:
    import sqlalchemy as sa

    from core.store.schema import runs

    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(runs.c.id, runs.c.student_id).where(runs.c.id.in_(ids))
        ).all()
    return {row.id: row.student_id for row in rows}


async def press_train(lab: Lab, page, url: str, index: int) -> bool:
    """Press Train once it is enabled; reload the page if it stays disabled (a page that
    missed its run's end, or lost its server) or the button cannot be found."""
    button = page.get_by_role("button", name="Train", exact=True)
    for attempt in range(6):
        if lab.stopping.is_set():
            return False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            latest = await newest_run(lab, lab.students[index][0])
            if latest is not None and latest.active:  # A click that raised but got through.
                return True
            with contextlib.suppress(Exception):
                if await button.count() and await button.is_enabled():
                    await page.wait_for_selector(IDLE, timeout=30_000)
                    await button.click(timeout=10_000)
                    return True
            await asyncio.sleep(1.0)
        why = ""
        with contextlib.suppress(Exception):
            why = " | ".join(await page.locator("[data-testid=stAlert]").all_inner_texts())
            await page.screenshot(path=str(ARTIFACTS / f"chaos-student-{index}-disabled.png"))
        lab.found.log(
            f"student {index}: Train stays disabled, reloading (try {attempt + 1}); the page "
            f"says: {why[:300]!r}"
        )
        with contextlib.suppress(Exception):
            await open_train(page, url)
    return False


async def newest_run(lab: Lab, student_id: int):
    runs = await lab.db(lab.store.runs, student_id)
    return runs[0] if runs else None


async def student(lab: Lab, browser, index: int) -> None:
    """One student for the whole experiment: Train, wait for the run's end (continuing it
    when it is interrupted), check the page, and again."""
    found = lab.found
    student_id, token = lab.students[index]
    url = f"{lab.cluster.url}/train?variant=vanilla&me={token}"
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda error: found.page_errors.append(f"student {index}: {error}"))
    await page.expose_function(
        "chaosException",
        lambda text: found.exceptions.append(f"student {index} ({found.phase()}): {text}"),
    )
    await page.add_init_script(WATCH_EXCEPTIONS)
    try:
        await open_train(page, url)
        while not lab.stopping.is_set():
            latest = await newest_run(lab, student_id)
            if latest is not None and latest.active:  # Left from a press that did not show.
                await follow(lab, page, index, track(lab, latest.id, student_id))
                continue
            before = latest.id if latest else 0
            if not await press_train(lab, page, url, index):
                continue
            deadline = time.monotonic() + 45
            run = None
            while time.monotonic() < deadline:
                run = await newest_run(lab, student_id)
                if run is not None and run.id > before:
                    break
                run = None
                await asyncio.sleep(0.5)
            if run is None:  # The press was lost (its server died, the store was down).
                found.log(f"student {index}: a Train press made no run, reloading")
                with contextlib.suppress(Exception):
                    await open_train(page, url)
                continue
            await follow(lab, page, index, track(lab, run.id, student_id))
        await check_view(lab, page, index)
    finally:
        with contextlib.suppress(Exception):
            await context.close()


def track(lab: Lab, run_id: int, student_id: int) -> Tracked:
    if run_id not in lab.found.runs:
        lab.found.runs[run_id] = Tracked(run_id, student_id, time.time())
    return lab.found.runs[run_id]


async def follow(lab: Lab, page, index: int, tracked: Tracked) -> None:
    """Until the run is finished (continuing it each time it ends continuable), or lost."""
    from core.store import Busy, Refused

    found = lab.found
    last_view = 0.0
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        if time.monotonic() - last_view > 5:
            last_view = time.monotonic()
            await check_view(lab, page, index)
        run = await lab.db(lab.store.run, tracked.id)
        if run is None:
            tracked.final, tracked.note = "deleted", "the run disappeared"
            break
        if run.status in ENDED:
            if tracked.first_end is None:
                tracked.first_end, tracked.first_status = time.time(), run.status
                tracked.phase = found.phase()
            if run.status == "finished" or run.status not in CONTINUABLE:
                tracked.final = run.status
                if run.status != "finished":
                    tracked.note = run.message or ""
                break
            if run.epochs_done >= run.epochs_total:  # Nothing left to continue.
                tracked.final, tracked.note = run.status, "ended complete but not finished"
                break
            tracked.interruptions += 1
            found.log(
                f"student {index}: run {run.id} {run.status} after {run.epochs_done}/"
                f"{run.epochs_total} epochs ({run.message}); continuing it"
            )
            try:
                await lab.db(lab.store.continue_run, run.id, run.student_id)
            except Busy:
                await asyncio.sleep(1.0)
                continue
            except Refused as error:
                tracked.final, tracked.note = run.status, f"continue refused: {error}"
                break
            tracked.continued += 1
        if time.monotonic() > deadline:
            tracked.final, tracked.note = run.status, f"stuck {run.status} for {RUN_TIMEOUT} s"
            break
        await asyncio.sleep(1.0)


# Faults ---------------------------------------------------------------------------------------


def cluster_workers(lab: Lab) -> dict[str, str]:
    """The training workers the cluster's scheduler knows: address -> part name."""
    from distributed import Client

    from deploy.cluster import training_workers

    with Client(
        lab.cluster.scheduler_address,
        security=lab.cluster.security(),
        timeout=10,
        set_as_default=False,
    ) as client:
        return training_workers(client)


async def training_victim(lab: Lab, timeout: float = 180.0):
    """A worker part training a run with at least one epoch done and more to go (so it has a
    checkpoint and is mid-run): (part name, run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [
            run
            for run in await lab.db(lab.store.running)
            if 1 <= run.epochs_done <= run.epochs_total - 2 and run.phase == "training"
        ]
        if running:
            workers = await asyncio.to_thread(cluster_workers, lab)
            for run in running:
                if run.worker in workers:
                    return workers[run.worker], run
        await asyncio.sleep(0.3)
    raise RuntimeError("no run mid-training to hit within the time allowed")


async def wait_until(what: str, check, timeout: float = 180.0, every: float = 0.5) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def run_status(lab: Lab, run_id: int) -> str:
    run = await lab.db(lab.store.run, run_id)
    return run.status if run else "deleted"


async def worker_kill(lab: Lab) -> dict:
    from deploy.cluster import alive

    name, run = await training_victim(lab)
    lab.found.log(f"SIGKILL {name}, training run {run.id} at epoch {run.epochs_done}")
    killed = time.monotonic()
    await asyncio.to_thread(lab.cluster.stop, name, True)

    async def interrupted():
        tracked = lab.found.runs.get(run.id)
        return (tracked and tracked.interruptions) or await run_status(lab, run.id) in ENDED

    await wait_until(f"run {run.id} ends", interrupted, timeout=120)
    marked = time.monotonic() - killed
    lab.found.log(f"run {run.id} ended {marked:.1f} s after the kill; starting {name} again")
    await asyncio.to_thread(lab.cluster.start, name)
    assert alive(lab.cluster.parts[name].pid)
    return {"victim": name, "run": run.id, "run_ended_after_s": round(marked, 1)}


async def worker_freeze(lab: Lab) -> dict:
    name, run = await training_victim(lab)
    pid = lab.cluster.parts[name].pid
    lab.found.log(f"SIGSTOP {name} for {FREEZE_SECONDS:.0f} s, training run {run.id}")
    os.killpg(pid, signal.SIGSTOP)
    try:
        statuses = set()
        frozen_until = time.monotonic() + FREEZE_SECONDS
        while time.monotonic() < frozen_until:
            statuses.add(await run_status(lab, run.id))
            await asyncio.sleep(0.5)
    finally:
        os.killpg(pid, signal.SIGCONT)
    lab.found.log(f"SIGCONT {name}; run {run.id} was {sorted(statuses)} while frozen")
    return {"victim": name, "run": run.id, "statuses_while_frozen": sorted(statuses)}


async def scheduler_kill(lab: Lab) -> dict:
    from deploy.cluster import HOST, alive, listens

    lab.found.log("SIGKILL the scheduler")
    await asyncio.to_thread(lab.cluster.stop, "scheduler", True)
    await asyncio.sleep(5.0)  # Long enough for the app servers' engines to notice.
    await asyncio.to_thread(lab.cluster.start, "scheduler")
    port = int(lab.cluster.scheduler_address.rsplit(":", 1)[1])
    await wait_until(
        "the scheduler listens again", lambda: asyncio.to_thread(listens, HOST, port), 60
    )
    lab.found.log("scheduler back; waiting for both workers to join it")
    restarted = []

    def joined() -> bool:
        return len(cluster_workers(lab)) == len(lab.cluster.named("worker"))

    from deploy.cluster import ClusterError

    started = time.monotonic()
    while not await asyncio.to_thread(joined):
        for part in lab.cluster.named("worker"):
            if not alive(part.pid):  # A worker that gave up on the scheduler: start it again.
                lab.found.log(f"{part.name} exited after the scheduler's loss; starting it")
                restarted.append(part.name)
                try:
                    await asyncio.to_thread(lab.cluster.start, part.name)
                except ClusterError as error:  # `start` waits on every worker: another exited.
                    lab.found.log(f"starting {part.name}: {str(error).splitlines()[0]}")
        if time.monotonic() - started > 180:
            raise RuntimeError("the workers did not rejoin the scheduler in 180 s")
        await asyncio.sleep(1.0)
    rejoined = time.monotonic() - started
    lab.found.log(f"both workers in the scheduler {rejoined:.1f} s after its restart")
    return {"workers_restarted": restarted, "workers_rejoined_after_s": round(rejoined, 1)}


async def app_kill(lab: Lab, contexts_servers) -> dict:
    before = await contexts_servers()
    counts = {server: before.count(server) for server in set(before)}
    victim = max(sorted(counts), key=lambda server: counts[server])  # The one with most pages.
    name = f"app-{victim}"
    lab.found.log(f"SIGKILL {name}, holding {counts[victim]} of {len(before)} sessions")
    killed = time.monotonic()
    await asyncio.to_thread(lab.cluster.stop, name, True)

    async def moved():
        return victim not in await contexts_servers()

    await wait_until("every page reconnects to the other server", moved, timeout=120)
    seconds = time.monotonic() - killed
    lab.found.log(f"every page on the other server {seconds:.1f} s after the kill")
    await asyncio.to_thread(lab.cluster.start, name)
    return {
        "victim": name,
        "sessions_on_it": counts[victim],
        "all_moved_after_s": round(seconds, 1),
    }


async def postgres_restart(lab: Lab) -> dict:
    postgres = lab.cluster.postgres
    lab.found.log("stopping PostgreSQL (fast)")
    stopped = await asyncio.to_thread(postgres.pg_ctl, "-m", "fast", "-w", "stop")
    if stopped.returncode:
        raise RuntimeError(f"pg_ctl stop: {stopped.stderr}")
    await asyncio.sleep(POSTGRES_DOWN_SECONDS)
    from deploy.cluster import HOST

    started = await asyncio.to_thread(
        postgres.pg_ctl,
        "-l",
        str(Path(postgres.base) / "postgresql.log"),
        "-w",
        "-o",
        f"-p {postgres.port} -c listen_addresses={HOST} -c unix_socket_directories={postgres.base}",
        "start",
    )
    if started.returncode:
        raise RuntimeError(f"pg_ctl start: {started.stderr}")
    lab.found.log(f"PostgreSQL back after {POSTGRES_DOWN_SECONDS:.0f} s down")
    return {"down_s": POSTGRES_DOWN_SECONDS}


# Checks from the database ---------------------------------------------------------------------


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


# The experiment -------------------------------------------------------------------------------


async def experiment(lab: Lab, faults: list[str], dwell: float, warmup: float) -> dict:
    from playwright.async_api import async_playwright

    from tests.conftest import CHROMIUM_ARGS, chromium_path

    found = lab.found
    FOREGROUND = [
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS + FOREGROUND
        )
        found.phases.append(("baseline", time.time()))
        sessions = [
            asyncio.create_task(student(lab, browser, index)) for index in range(len(lab.students))
        ]

        async def servers() -> list[str]:
            seen = []
            for context in browser.contexts:
                cookies = await context.cookies()
                seen.append(next((c["value"] for c in cookies if c["name"] == COOKIE), "?"))
            return seen

        try:
            await asyncio.sleep(warmup)
            for fault in faults:
                for task in sessions:
                    if task.done() and task.exception():
                        raise task.exception()
                found.phases.append((fault, time.time()))
                started = time.monotonic()
                if fault == "worker-kill":
                    note = await worker_kill(lab)
                elif fault == "worker-freeze":
                    note = await worker_freeze(lab)
                elif fault == "scheduler-kill":
                    note = await scheduler_kill(lab)
                elif fault == "app-kill":
                    note = await app_kill(lab, servers)
                elif fault == "postgres-restart":
                    note = await postgres_restart(lab)
                else:
                    raise ValueError(fault)
                note["injection_s"] = round(time.monotonic() - started, 1)
                found.fault_notes[fault] = note
                await asyncio.sleep(dwell)  # The class trains on after the recovery.
                problems, _ = await lab.db(fencing_problems, lab.store, lab.cluster.logs)
                found.checks[fault] = problems
                found.log(f"checked: {len(problems)} fencing problems")
            found.phases.append(("end", time.time()))
            lab.stopping.set()
            found.log("no new runs; waiting for the last ones to end")
            await asyncio.wait_for(asyncio.gather(*sessions), RUN_TIMEOUT + 120)
        finally:
            lab.stopping.set()
            for task in sessions:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*sessions, return_exceptions=True)
            await browser.close()
    problems, stats = await lab.db(fencing_problems, lab.store, lab.cluster.logs)
    found.checks["end"] = problems
    # The database has the last word: a run no student loop followed (its press seemed lost)
    # or that never ended counts too, under the phase of its last sign of life.
    for student_id, _ in lab.students:
        for run in await lab.db(lab.store.runs, student_id):
            tracked = track(lab, run.id, student_id)
            if tracked.final == "finished" or run.status == "finished":
                tracked.final = run.status
                tracked.phase = tracked.phase or phase_at(found, run.finished_at or time.time())
                continue
            tracked.final = run.status
            tracked.note = tracked.note or f"{run.status} at the end: {run.message}"
            last = max(run.created_at, run.heartbeat_at or 0.0)
            tracked.phase = tracked.phase or phase_at(found, last)
    return stats


def phase_at(found: Findings, moment: float) -> str:
    """The phase in effect at `moment` (Unix time)."""
    current = found.phases[0][0]
    for name, start in found.phases:
        if start <= moment:
            current = name
    return current


TABLE_START, TABLE_END = "<!-- chaos table -->", "<!-- /chaos table -->"


def write_results(result: dict) -> None:
    """The measured table into bench/CHAOS.md, between its markers (the prose around it, what
    each fault did and why, is written by whoever reads the run)."""
    text = RESULTS.read_text() if RESULTS.exists() else f"{TABLE_START}\n{TABLE_END}\n"
    if TABLE_START not in text:
        text += f"\n{TABLE_START}\n{TABLE_END}\n"
    before, rest = text.split(TABLE_START, 1)
    after = rest.split(TABLE_END, 1)[1] if TABLE_END in rest else ""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    table_text = (
        f"Measured {stamp} (`make chaos`: {result['students']} students, "
        f"{', '.join(result['faults'])}; cluster up in {result['up_s']:.0f} s, experiment "
        f"{result['experiment_s']:.0f} s).\n\n{markdown(result)}"
    )
    RESULTS.write_text(f"{before}{TABLE_START}\n{table_text.rstrip()}\n{TABLE_END}{after}")


def table(found: Findings, names: list[str]) -> tuple[list[dict], dict]:
    rows = []
    for name in names:
        mine = [run for run in found.runs.values() if run.phase == name]
        interrupted = [run for run in mine if run.interruptions]
        rows.append(
            {
                "phase": name,
                "started": len(mine),
                "finished": sum(run.final == "finished" for run in mine),
                "interrupted": len(interrupted),
                "continued_then_finished": sum(
                    run.continued > 0 and run.final == "finished" for run in interrupted
                ),
                "lost": sum(run.final != "finished" for run in mine),
                "pages_with_exceptions": sum(f"({name})" in text for text in found.exceptions),
                "cross_student_views": 0,
            }
        )
    total = {key: sum(row[key] for row in rows) if key != "phase" else "all" for key in rows[0]}
    total["cross_student_views"] = len(found.cross_views)
    total["pages_with_exceptions"] = len(found.exceptions)
    return rows, total


def markdown(result: dict) -> str:
    lines = [
        "| fault | runs (ended in this phase) | finished | interrupted | continued, then "
        "finished | lost | page exceptions | cross-student views |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in [*result["rows"], result["total"]]:
        lines.append(
            f"| {row['phase']} | {row['started']} | {row['finished']} | {row['interrupted']} | "
            f"{row['continued_then_finished']} | {row['lost']} | "
            f"{row['pages_with_exceptions']} | {row['cross_student_views']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--dwell", type=float, default=40.0, help="seconds after each recovery")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the 1st fault")
    parser.add_argument("--state", help="the cluster's state folder")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/CHAOS.md")
    args = parser.parse_args(argv)
    faults = [fault for fault in args.faults.split(",") if fault]
    if unknown := set(faults) - set(FAULTS):
        parser.error(f"unknown faults {sorted(unknown)}; choose among {', '.join(FAULTS)}")
    if not 1 <= args.students <= 12:
        parser.error("--students: 1 to 12")
    # A SIGTERM (a test's timeout) must still tear the cluster down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Every run the experiment makes is kept for the checks (the default keeps 30 per student).
    os.environ["AE_MAX_RUNS_PER_STUDENT"] = "1000"
    from core.store import Store
    from deploy.cluster import Cluster

    ARTIFACTS.mkdir(exist_ok=True)
    cluster = Cluster(args.state or ARTIFACTS / "chaos-cluster")
    if cluster.running:
        cluster.down(quiet=True)  # Left over from an interrupted experiment.
    # The parts append to their logs, and the fencing check reads the workers' logs: lines
    # of an earlier experiment name runs of another database.
    shutil.rmtree(cluster.logs, ignore_errors=True)
    found = Findings()
    began = time.perf_counter()
    cluster.up(port=0, servers=2, workers=2)
    up_seconds = time.perf_counter() - began
    print(f"cluster up in {up_seconds:.0f} s: {cluster.url}", flush=True)
    store = Store(cluster.database_url)
    try:
        lab = Lab(cluster, store, found)
        lab.students = [store.new_student() for _ in range(args.students)]
        started = time.perf_counter()
        stats = asyncio.run(experiment(lab, faults, args.dwell, args.warmup))
        seconds = time.perf_counter() - started
        logs = {
            part.name: (cluster.logs / f"{part.name}.log").read_text(errors="replace")
            for part in cluster.parts.values()
            if (cluster.logs / f"{part.name}.log").exists()
        }
    finally:
        store.close()
        cluster.down(quiet=True)
    names = ["baseline", *faults, "end"]
    rows, total = table(found, names)
    tracebacks = {
        name: text.count("Traceback (most recent call last)") for name, text in logs.items()
    }
    result = {
        "students": args.students,
        "faults": faults,
        "up_s": round(up_seconds, 1),
        "experiment_s": round(seconds, 1),
        "rows": rows,
        "total": total,
        "fault_notes": found.fault_notes,
        "checks": found.checks,
        "fencing_stats": stats,
        "page_errors": found.page_errors,
        "exceptions": found.exceptions,
        "cross_views": found.cross_views,
        "view_checks": found.view_checks,
        "table_rows_read": found.table_rows_read,
        "lost_runs": [asdict(run) for run in found.runs.values() if run.final != "finished"],
        "interrupted_runs": [asdict(run) for run in found.runs.values() if run.interruptions],
        "tracebacks_in_logs": tracebacks,
        "events": found.events,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    print(markdown(result))
    print(json.dumps({k: result[k] for k in ("fault_notes", "checks", "fencing_stats")}, indent=1))
    if not args.no_write:
        (ARTIFACTS / "chaos.json").write_text(json.dumps(result, indent=1))
        write_results(result)
    ok = (
        total["lost"] == 0
        and not found.page_errors
        and not found.exceptions
        and not found.cross_views
        and not any(found.checks.values())
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
