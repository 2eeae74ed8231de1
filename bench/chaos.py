"""`make chaos`: fault injection on the `make cluster` topology while a class trains.

Brings up its own cluster (PostgreSQL, a Dask scheduler over TLS, two training workers, two app
servers, HAProxy; deploy/cluster.py) on a free port and its own state folder, creates a few
students in the store, and opens one Chromium session per student through HAProxy on
`/train?variant=vanilla&me=TOKEN`. Each student presses Train, waits for the run to end, and
presses Train again, for the whole experiment. Meanwhile, one at a time with recovery in
between, it injects:

1. worker-kill: a training worker that is training a run is killed (SIGKILL), then restarted;
2. worker-freeze: such a worker is frozen (SIGSTOP) for 10 s longer than the frozen-worker limit
   (twice AE_LOST_WORKER_SECONDS: 30 s by default), then resumed (SIGCONT);
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
tests/cluster/test_chaos.py). Its parts: the harness's state (`bench.chaos_lab`), the students
(`bench.chaos_students`), the faults (`bench.chaos_faults`) and the fencing check
(`bench.chaos_checks`); this module runs the experiment and writes its results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.chaos_checks import fencing_problems
from bench.chaos_faults import (
    app_kill,
    postgres_restart,
    scheduler_kill,
    worker_freeze,
    worker_kill,
)
from bench.chaos_lab import ARTIFACTS, COOKIE, FAULTS, RESULTS, RUN_TIMEOUT, Findings, Lab, track
from bench.chaos_students import student


async def experiment(lab: Lab, faults: list[str], dwell: float, warmup: float) -> dict:
    from playwright.async_api import async_playwright

    from tests.support.servers import CHROMIUM_ARGS, chromium_path

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
