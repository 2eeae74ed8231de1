"""`make soak`, part three: the multi-server topology (`make cluster`) under a lecture hall.

Brings up its own cluster (PostgreSQL, a Dask scheduler, two training workers, two app servers,
HAProxy; deploy/cluster.py), creates two classes, and opens 40 browser sessions through the
proxy, 20 per class: each joins with its class's student link (so each is a student of the
class with a personal link), four press Train (two per class; two train while two wait for a
worker), the others move the latent pad and draw digits, as in `bench/soak.py`. It reports the
errors seen, how HAProxy split the sessions across the two servers, p95 of stroke to
reconstruction and of the pad, runs finished, and memory and CPU per process of the topology.

Every Chromium shares this machine's two cores with the whole topology, so the latencies are
pessimistic for a real lecture hall, where each student's browser has its own machine.

    python -m bench.cluster_soak [--sessions 40] [--trainers 4] [--append]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter

import numpy as np

from bench import soak as soak_module
from bench.browser import IDLE
from bench.soak import (
    ARTIFACTS,
    FOREGROUND,
    RESULTS,
    Findings,
    answers,
    cpu_seconds,
    report,
    settle,
    student,
    trainer,
)
from core.lab.runs import start_run
from tests.support.servers import CHROMIUM_ARGS, chromium_path

COOKIE = "LABSRV"
SAMPLE_SECONDS = 2.0


def percentiles(values) -> str:
    if not len(values):
        return "none"
    return (
        f"{np.percentile(values, 95):.0f} ms (p50 {np.percentile(values, 50):.0f}, n={len(values)})"
    )


async def join(browser, link: str, found: Findings, index: int):
    """A new browser context opens the class's student link: returns it, its personal link's
    query ("me=...") and the app server HAProxy chose for it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: found.errors.append(f"session {index} joining: {error}"))
    await page.goto(link, wait_until="domcontentloaded", timeout=180_000)
    await page.wait_for_url("**me=*", timeout=180_000)
    await page.wait_for_selector(IDLE, timeout=180_000)
    me = page.url.split("?", 1)[1]
    cookies = await context.cookies()
    server = next((c["value"] for c in cookies if c["name"] == COOKIE), "?")
    await page.close()
    return context, me, server


async def sample(cluster, peaks: dict[str, float], stop: asyncio.Event) -> None:
    """Peak resident memory of every process of the topology, every couple of seconds."""
    while not stop.is_set():
        for row in cluster.status():
            peaks[row["name"]] = max(peaks.get(row["name"], 0.0), row["rss_mb"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def soak(
    cluster,
    links: list[str],
    sessions: int,
    trainers: int,
    rounds: int,
    think: float,
    arrival: float,
    per_browser: int,
):
    from playwright.async_api import async_playwright

    found = Findings()
    peaks: dict[str, float] = {}
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(cluster, peaks, stop))
    before = {row["name"]: row["cpu_seconds"] for row in cluster.status()}
    clients_before = cpu_seconds()
    async with async_playwright() as playwright:
        # A browser process per `per_browser` sessions (each session has its own context:
        # cookies, page, renderer): forty browser processes on these two cores spent the whole
        # soak starting up (every session timed out loading its first page).
        launched = [
            await playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS + FOREGROUND
            )
            for _ in range(-(-sessions // per_browser))
        ]
        browsers = [launched[i // per_browser] for i in range(sessions)]
        started = time.perf_counter()
        split: Counter = Counter()

        async def session(i: int):
            """Student i comes in, joins their class, then trains or explores."""
            await asyncio.sleep(i * arrival)
            try:
                context, me, server = await join(browsers[i], links[i % len(links)], found, i)
            except Exception as error:
                raise RuntimeError(f"session {i} joining: {type(error).__name__}") from error
            split[server] += 1
            if i < trainers:
                return await trainer(browsers[i], cluster.url, i, found, context, me)
            return await student(browsers[i], cluster.url, i, rounds, think, found, context, me)

        outcomes = await asyncio.gather(
            *(session(i) for i in range(sessions)), return_exceptions=True
        )
        seconds = time.perf_counter() - started
        clients = {k: v - clients_before.get(k, 0.0) for k, v in cpu_seconds().items()}
        pages = settle(outcomes, found)
        answered = await asyncio.gather(*(answers(page) for page in pages))
        proxy_view = cluster.proxy_servers()
        for browser in launched:
            await browser.close()
    stop.set()
    await sampler
    after = {row["name"]: row for row in cluster.status()}
    per_process = []
    for name, row in after.items():
        cpu = row["cpu_seconds"] - before.get(name, 0.0)
        per_process.append(f"{name} {peaks.get(name, 0):.0f} MB / {cpu:.0f} s")
    rows = [
        ("Errors seen", f"{len(found.errors)}", "0", not found.errors),
        (
            "Sessions per app server (HAProxy's cookie, at joining)",
            ", ".join(f"{server}: {count}" for server, count in sorted(split.items())),
            "both used",
            len(split) == 2,
        ),
        (
            "HAProxy's sessions per server at the end (current / total)",
            ", ".join(
                f"{name}: {view['current']} / {view['total']}"
                for name, view in sorted(proxy_view.items())
            ),
            "report",
            None,
        ),
        (
            "Latent pad: key press -> new digit drawn (p95)",
            percentiles(found.slider_ms),
            "report",
            None,
        ),
        (
            "Stroke -> reconstruction, through the proxy and a server (p95)",
            percentiles(found.stroke_ms),
            "report",
            None,
        ),
        (
            "Strokes reconstructed",
            f"{found.strokes} (drawn a second time: {found.stroke_retries})",
            f"{(sessions - trainers) * rounds}",
            found.strokes == (sessions - trainers) * rounds,
        ),
        (
            f"Runs finished ({trainers} pressed Train, 2 workers)",
            f"{found.trainings_done} of {trainers}",
            f"{trainers}",
            found.trainings_done == trainers,
        ),
        (
            "Sessions still answering at the end",
            f"{sum(answered)} of {sessions}",
            f"{sessions}",
            sum(answered) == sessions,
        ),
        (
            "Peak memory / CPU seconds per process",
            "; ".join(per_process),
            "report",
            None,
        ),
        (
            "CPU seconds of the browsers and the harness (same 2 cores)",
            f"Chromium {clients['chromium']:.0f} s, harness {clients['harness']:.0f} s "
            f"(the machine had {2 * seconds:.0f} core-seconds)",
            "report",
            None,
        ),
        ("Wall time of the soak", f"{seconds:.0f} s", "report", None),
    ]
    return report(rows, found.errors)


def throughput(cluster, runs: int) -> tuple[float, float]:
    """Trainings per minute of the Train page's default run (vanilla, 5 epochs of 10,000
    images), `runs` queued at once, with the workers now in the cluster; and the mean seconds
    one took in its worker (store timestamps)."""
    from core.cluster.client import Engine
    from core.ml import choices
    from core.store import Store

    store = Store(cluster.database_url)
    # This process submits the runs as the Train page does (an app server's engine, on the
    # cluster's scheduler): app servers start theirs with their first page, and none is open.
    engine = Engine(store, scheduler=cluster.scheduler_address, security=cluster.security()).start()
    try:
        if not engine.wait_connected():
            raise RuntimeError(f"the scheduler cannot be reached: {engine.error}")
        students = [store.new_student()[0] for _ in range(runs)]
        started = time.time()
        ids = [
            start_run(store, student, "vanilla", choices.defaults("vanilla"))
            for student in students
        ]
        for run_id in ids:
            engine.submit(run_id)
        while any(store.run(run_id).active for run_id in ids):
            store.touch_students(students)  # No page is open: they must not count as gone.
            time.sleep(0.5)
        done = [store.run(run_id) for run_id in ids]
        assert all(run.status == "finished" for run in done), [run.message for run in done]
        ended = max(run.finished_at for run in done)
        each = float(np.mean([run.finished_at - run.started_at for run in done]))
        return 60.0 * runs / (ended - started), each
    finally:
        engine.shutdown()
        store.close()


def sizing(cluster, repeats: int) -> str:
    """Trainings per minute with one worker and with two, alternating, `repeats` times each
    (the figures of docs/DEPLOY.md's sizing)."""
    one, two = [], []
    for _ in range(repeats):
        cluster.stop("worker-2")
        one.append(throughput(cluster, 4))
        cluster.start("worker-2")
        two.append(throughput(cluster, 4))

    def shown(results) -> str:
        rates = ", ".join(f"{rate:.1f}" for rate, _ in results)
        each = ", ".join(f"{seconds:.1f}" for _, seconds in results)
        return f"{rates}/min ({each} s per run in its worker)"

    return (
        "Trainings per minute (the Train page's default: vanilla, 5 epochs of 10,000 images; "
        f"4 queued at once, no page open), on this machine's 2 cores: **one worker "
        f"{shown(one)}**, **two workers {shown(two)}**."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--trainers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument(
        "--arrival", type=float, default=3.0, help="seconds between two students coming in"
    )
    parser.add_argument("--per-browser", type=int, default=4, help="sessions per Chromium")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--append", action="store_true", help="append to bench/SOAK.md")
    parser.add_argument(
        "--sizing-only",
        type=int,
        metavar="REPEATS",
        help="no browsers: measure trainings per minute with one and two workers, REPEATS times",
    )
    args = parser.parse_args()
    if not 2 <= args.sessions <= 40:
        parser.error("--sessions must be between 2 and 40 (a local soak, not a DoS)")
    from core.lab import classroom
    from core.store import Store
    from deploy.cluster import Cluster

    ARTIFACTS.mkdir(exist_ok=True)
    soak_module.PAGE_TIMEOUT_MS = 300_000
    cluster = Cluster(ARTIFACTS / "cluster")
    if cluster.running:
        cluster.down(quiet=True)  # Left over from an interrupted soak.
    up_started = time.perf_counter()
    cluster.up(port=0, servers=2, workers=2)
    up_seconds = time.perf_counter() - up_started
    if args.sizing_only:
        try:
            print(sizing(cluster, args.sizing_only))
        finally:
            cluster.down(quiet=True)
        return
    try:
        store = Store(cluster.database_url)
        links = []
        for name in ("Soak class A", "Soak class B"):
            _, key = classroom.create_class(store, name)
            links.append(classroom.links(cluster.url, key)[0])
        store.close()
        idle = {row["name"]: row["rss_mb"] for row in cluster.status()}
        text = asyncio.run(
            asyncio.wait_for(
                soak(
                    cluster,
                    links,
                    args.sessions,
                    args.trainers,
                    args.rounds,
                    args.think,
                    args.arrival,
                    args.per_browser,
                ),
                args.timeout,
            )
        )
        text += "\n\n" + sizing(cluster, repeats=1)
    finally:
        cluster.down(quiet=True)
    header = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} (`python -m bench.cluster_soak`): the "
        f"`make cluster` topology (PostgreSQL, Dask scheduler, 2 training workers, 2 app "
        f"servers, HAProxy), up in {up_seconds:.0f} s; {args.sessions} sessions through HAProxy "
        f"in two classes, {args.trainers} training, the others {args.rounds} rounds of 10 pad "
        f"moves and a drawing, coming in {args.arrival:g} s apart; "
        f"{-(-args.sessions // args.per_browser)} Chromium browsers ({args.per_browser} "
        "sessions each, a context of its own per session) on the same 2 cores. Memory "
        "before any session: "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in idle.items())
        + ".\n\n"
    )
    print(header + text)
    title = "## Across servers: 40 sessions through HAProxy\n\n"
    if args.append and RESULTS.exists():
        RESULTS.write_text(RESULTS.read_text().rstrip() + "\n\n" + title + header + text + "\n")
    else:
        RESULTS.write_text("# Soak results (`make soak`)\n\n" + title + header + text + "\n")


if __name__ == "__main__":
    main()
