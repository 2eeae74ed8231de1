"""What the chaos harness (`bench.chaos`) knows while it runs: its settings, the runs it saw
students start (`Tracked`), what it found (`Findings`), and the cluster with its store (`Lab`).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "bench" / "artifacts"
RESULTS = ROOT / "bench" / "CHAOS.md"
FAULTS = ("worker-kill", "worker-freeze", "scheduler-kill", "app-kill", "postgres-restart")
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
COOKIE = "LABSRV"


def freeze_seconds() -> float:
    """10 s past the frozen-worker limit (core.cluster.housekeeping: twice
    AE_LOST_WORKER_SECONDS, 30 s by default): a frozen worker that Dask still lists has its run
    interrupted, and when it is resumed its writes are refused (the claim's fence)."""
    from core.config import settings

    return 2 * settings().lost_worker_seconds + 10.0


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


def track(lab: Lab, run_id: int, student_id: int) -> Tracked:
    if run_id not in lab.found.runs:
        lab.found.runs[run_id] = Tracked(run_id, student_id, time.time())
    return lab.found.runs[run_id]


async def newest_run(lab: Lab, student_id: int):
    runs = await lab.db(lab.store.runs, student_id)
    return runs[0] if runs else None


async def run_status(lab: Lab, run_id: int) -> str:
    run = await lab.db(lab.store.run, run_id)
    return run.status if run else "deleted"


async def wait_until(what: str, check, timeout: float = 180.0, every: float = 0.5) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started
