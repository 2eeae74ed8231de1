"""A training worker: one Dask worker that loads TensorFlow and the data once, then trains runs.

    python -m core.worker tls://HOST:8786      # join a cluster (see the README)
    python -m core.worker tcp://HOST:8786      # a cluster without TLS (not recommended)

It needs the project installed and the app's store in its environment (`AE_DATABASE_URL`,
PostgreSQL when workers run on other machines). Before it joins the scheduler it imports
TensorFlow and Keras and loads the training images (`core.cluster.tasks.warm`), so no task waits for
them; it offers one unit of the `training` resource, so it trains one run at a time and the
scheduler sends it the lab's tasks and nothing else's.

Over `tls://` it presents the certificate that `AE_DASK_TLS_CA_FILE`, `AE_DASK_TLS_CERT` and
`AE_DASK_TLS_KEY` name (or Dask's `DASK_DISTRIBUTED__COMM__TLS__*` configuration), listens on
tls:// only, and refuses peers whose certificate the cluster's CA did not sign: a worker runs
whatever a peer sends it.

The app starts workers like this itself when it runs its own embedded cluster, with `--parent`
(the worker gives up its run and exits when the app is gone) and `--idle-minutes` (it retires
after that long without a task, handing its memory back; the next run starts a new one).

Not `dask worker --preload ...`: a preload could do the warm-up, but this worker also joins its
scheduler again after a restart, retires when idle, exits with its app and lowers its CPU
priority, and takes its certificate from `AE_DASK_TLS_*`; Dask's command would need all of that
in the preload, and by default adds a nanny process (about 60 MB) per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

from core.cluster.scheduler import security_from_environment, uses_tls

# Training is background work: at a lower CPU priority it takes what the server's page reruns
# leave, so sliders and drawings stay quick for a classroom while someone trains (measured in
# `make bench` and `make soak`).
NICENESS = 10
IDLE_CHECK_SECONDS = 5.0
REJOIN_SECONDS = 2.0  # Between tries to join a scheduler that went away.
REJOIN_MINUTES = 10  # How long a worker waits for its scheduler to come back.


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m core.worker", description="Start one training worker of the lab."
    )
    parser.add_argument("scheduler", help="the Dask scheduler's address, e.g. tls://host:8786")
    parser.add_argument(
        "--idle-minutes",
        type=float,
        default=float(os.environ.get("AE_WORKER_IDLE_MINUTES", 0) or 0),
        help="exit after this many minutes without a task (0: never; default "
        "AE_WORKER_IDLE_MINUTES or 0)",
    )
    parser.add_argument("--name", help="the worker's name in the cluster")
    parser.add_argument("--parent", type=int, help="exit when this process is gone (the app)")
    parser.add_argument("--host", help="the address to listen on (default: Dask's choice)")
    args = parser.parse_args(argv)
    # Checked before TensorFlow loads (several seconds): a wrong setting fails at once.
    try:
        args.security = security_from_environment()
    except ValueError as error:
        parser.error(str(error))
    if args.scheduler.startswith("tls://") and not uses_tls(args.security, "worker"):
        parser.error(
            f"{args.scheduler} needs the cluster's certificates: set AE_DASK_TLS_CA_FILE, "
            "AE_DASK_TLS_CERT and AE_DASK_TLS_KEY (docs/DEPLOY.md)"
        )
    if args.scheduler.startswith("tcp://") and args.security.require_encryption:
        parser.error(
            f"TLS is configured: the scheduler's address must be tls://, not {args.scheduler}"
        )
    return args


def parent_gone(parent: int | None) -> bool:
    return parent is not None and os.getppid() != parent


async def serve(args: argparse.Namespace) -> None:
    """Serve until the app is gone or the worker retires; a scheduler that goes away (killed,
    restarted, its machine rebooted) is joined again as soon as it is back, for up to
    REJOIN_MINUTES: a worker nobody supervises must not stop training for good because its
    scheduler was restarted."""
    first = True
    lost_at = None
    while True:
        try:
            ended = await serve_once(args)
        except (OSError, TimeoutError) as error:
            if first:  # Never joined: the address or the certificates are wrong, say so.
                raise
            ended = "lost"
            logging.warning("the scheduler %s is not back yet: %s", args.scheduler, error)
        first = False
        if ended != "lost" or parent_gone(args.parent):
            return
        lost_at = lost_at or time.monotonic()
        if time.monotonic() - lost_at > REJOIN_MINUTES * 60:
            logging.error(
                "the scheduler %s has been gone %d minutes: exiting",
                *(args.scheduler, REJOIN_MINUTES),
            )
            return
        logging.warning("the scheduler %s is gone: joining it again", args.scheduler)
        await asyncio.sleep(REJOIN_SECONDS)


async def serve_once(args: argparse.Namespace) -> str:
    """One Worker's life: "parent" (the app is gone), "idle" (retired) or "lost" (its
    scheduler went away)."""
    from distributed import Worker

    from core.cluster import tasks

    worker = Worker(
        args.scheduler,
        nthreads=1,
        resources={tasks.RESOURCE: 1},
        name=args.name,
        host=args.host,
        security=args.security,
        dashboard=False,
        # A worker that cannot reach its scheduler for this long gives up with a message
        # instead of waiting forever (`serve` tries again after a lost scheduler).
        death_timeout=60,
    )
    await worker
    logging.info("ready: %s, scheduler %s", worker.address, args.scheduler)
    idle_since = time.monotonic()
    ended = "lost"
    while worker.status.name in {"running", "paused"}:
        await asyncio.sleep(IDLE_CHECK_SECONDS if args.idle_minutes else 1.0)
        if parent_gone(args.parent):
            logging.info("the app is gone: exiting")
            ended = "parent"
            break
        if worker.state.tasks:  # Assigned, waiting or training: not idle.
            idle_since = time.monotonic()
        elif args.idle_minutes and time.monotonic() - idle_since > args.idle_minutes * 60:
            logging.info("idle for %.0f minutes: retiring", args.idle_minutes)
            ended = "idle"
            break
    await worker.close(reason="worker exiting")
    return ended


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="worker %(process)d: %(message)s")
    if hasattr(os, "nice"):  # Not on Windows.
        os.nice(NICENESS)
    from core.cluster import tasks

    started = time.monotonic()
    tasks.warm()  # Before joining: the scheduler never sends a run to a cold worker.
    logging.info("TensorFlow and the data loaded in %.1f s", time.monotonic() - started)
    if args.parent is not None:
        tasks.abort_check = lambda: parent_gone(args.parent)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
