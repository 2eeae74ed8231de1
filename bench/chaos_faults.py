"""The faults `bench.chaos` injects on the `make cluster` topology, one at a time: a training
worker killed or frozen, the scheduler killed, an app server killed, PostgreSQL restarted.
Each returns what it noted for the results.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from bench.chaos_lab import (
    ENDED,
    POSTGRES_DOWN_SECONDS,
    Lab,
    freeze_seconds,
    run_status,
    wait_until,
)


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
    seconds = freeze_seconds()
    lab.found.log(f"SIGSTOP {name} for {seconds:.0f} s, training run {run.id}")
    os.killpg(pid, signal.SIGSTOP)
    try:
        statuses = set()
        frozen_until = time.monotonic() + seconds
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
