"""Training through the engine as a student meets it, and what the whole app holds in memory.
Part of `make bench` (steps "engine speed" and "engine memory"); also runs alone:
`python -m bench.engine`.

Speed: for vanilla, conv and vae at the Train page's defaults, the time from pressing Train in
Chromium to the page saying "Trained", beside a bare `model.fit` of the same model, images,
batch size and epochs in this (warm) process, interleaved and repeated; the store's timestamps
split the app's time into waiting for a worker, training (with the live view's validation,
samples, checkpoints and progress writes), measuring the test metrics, and the page noticing.

Memory: resident memory of the server and every process it started (scheduler, workers),
summed, after every page was visited and the workers retired, and at its peak during one run.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench import browser

# The variants the speed step trains, each at the Train page's defaults (core.ml.choices).
SPEED_VARIANTS = ("vanilla", "conv", "vae")
PAGES = ("train", "draw", "latent", "compare", "inside")


def command_line(process) -> str:
    """The process's command line, "" once it has ended (a retired worker is a zombie until
    its parent reaps it, and psutil then refuses to read it)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # Ended meanwhile.
            total += process.memory_info().rss
    return total / 2**20


def workers_rss_mb(pid: int) -> float:
    """Resident memory of the largest training worker under the server, in MB."""
    found = [0.0]
    for process in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "core.cluster.worker" in " ".join(process.cmdline()):
                found.append(process.memory_info().rss / 2**20)
    return max(found)


def breakdown(pid: int) -> str:
    """Resident MB per process of the app: server, scheduler, workers."""
    root = psutil.Process(pid)
    found = []
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            line = " ".join(process.cmdline())
            role = (
                "worker"
                if "core.cluster.worker" in line
                else "scheduler"
                if "core.cluster.scheduler" in line
                else "server"
            )
            found.append(f"{role} {process.memory_info().rss / 2**20:,.0f}")
    return ", ".join(found)


def bare_fit_seconds(name: str, splits) -> float:
    """A plain model.fit of a fresh model: no validation, no callbacks, tracing included."""
    from core.ml import choices, variants
    from core.ml.training import choose_subset, compile_model

    config, _ = choices.configs(name, {})
    x = choose_subset(splits.x_train, config.subset, 0)
    model = variants.build(name)
    steps = -(-len(x) // config.batch_size) * config.epochs
    compile_model(model, variants.get(name).loss, config, steps)
    started = time.perf_counter()
    model.fit(x, x, batch_size=config.batch_size, epochs=config.epochs, verbose=0)
    return time.perf_counter() - started


def press_train(chromium, url: str, name: str) -> float:
    """Seconds from the Train press on /train (the page's defaults) to "Trained" on screen."""
    page = browser.open_page(chromium, f"{url}/train?variant={name}")
    page.wait_for_selector(browser.IDLE, timeout=120_000)
    button = page.get_by_role("button", name="Train", exact=True)
    button.wait_for(timeout=60_000)
    started = time.perf_counter()
    button.click()
    page.wait_for_selector("text=/Trained [0-9]+ epoch/", timeout=600_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def split_of(store, name: str) -> dict[str, float]:
    """Where the app's time went, from the store's timestamps of the newest run of `name`."""
    import sqlalchemy as sa

    from core.store import Run
    from core.store.schema import runs

    deadline = time.monotonic() + 300
    while True:  # "Trained" shows while the worker still measures: wait for the run's end.
        with store.engine.connect() as connection:
            row = connection.execute(
                sa.select(runs).where(runs.c.variant == name).order_by(runs.c.id.desc()).limit(1)
            ).one()
        run = Run(**row._mapping)
        if run.finished_at is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return {
        "wait": run.started_at - run.created_at,
        "train": run.seconds,
        # From the end of training (shown "Trained" from then on) to the run's end: its test
        # metrics (its serving bundle was written with its last checkpoint).
        "measure": run.finished_at - run.started_at - run.seconds,
        "total": run.finished_at - run.created_at,
    }


def speed(rows: list, row_class, repeats: int = 2) -> None:
    from core.ml import choices
    from core.ml.training import load_splits
    from core.store import Store

    splits = load_splits()
    folder = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    environment = {"AE_DATA_DIR": str(folder)}
    with (
        browser.chromium() as chromium,
        browser.served("app.py", environment=environment) as (url, _, _),
    ):
        press_train(chromium, url, "vanilla")  # Warm-up: the worker's first run, the pages.
        store = Store(f"sqlite:///{folder / 'runs.sqlite'}", migrate=False)
        for name in SPEED_VARIANTS:
            bare_fit_seconds(name, splits)  # Warm-up of this process for the same model.
            app, bare, splits_seen = [], [], []
            for _ in range(repeats):
                bare.append(bare_fit_seconds(name, splits))
                app.append(press_train(chromium, url, name))
                splits_seen.append(split_of(store, name))
            ours, base = statistics.median(app), statistics.median(bare)
            parts = {key: statistics.median(s[key] for s in splits_seen) for key in splits_seen[0]}
            # The page shows "Trained" when training ends, before the bundle and metrics.
            page_lag = ours - parts["wait"] - parts["train"]
            config, _ = choices.configs(name, {})
            rows.append(
                row_class(
                    f"Train press -> 'Trained' in Chromium: {name} (the Train page's defaults: "
                    f"{config.epochs} epochs of {config.subset:,} images, batch "
                    f"{config.batch_size}; median of {repeats})",
                    f"{ours:.1f} s ({ours / base:.2f}x; runs "
                    + ", ".join(f"{v:.1f}" for v in app)
                    + f"): waiting {parts['wait']:.2f} s, training {parts['train']:.1f} s "
                    f"({parts['train'] / base:.2f}x), page {page_lag:.2f} s; then test "
                    f"metrics {parts['measure']:.2f} s",
                    "bare model.fit "
                    + f"{base:.1f} s (runs "
                    + ", ".join(f"{v:.1f}" for v in bare)
                    + ")",
                    "<= 1.15x",
                    ours <= 1.15 * base,
                )
            )
        store.close()


def memory(rows: list, row_class) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    # Workers retire after one idle minute here, so the idle figure needs no 10-minute wait.
    environment = {"AE_DATA_DIR": str(folder), "AE_WORKER_IDLE_MINUTES": "1"}
    with (
        browser.chromium() as chromium,
        browser.served("app.py", environment=environment) as (url, process, _),
    ):
        page = browser.open_page(chromium, url)
        for path in PAGES:
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            page.wait_for_selector("h1", timeout=120_000)
            page.wait_for_timeout(500)
            page.wait_for_selector(browser.IDLE, timeout=120_000)
        page.close()
        peak, parts, worker_peak, stop = 0.0, "", 0.0, False
        import threading

        def sample():
            nonlocal peak, parts, worker_peak
            while not stop:
                total = tree_rss_mb(process.pid)
                if total > peak:
                    peak, parts = total, breakdown(process.pid)
                worker_peak = max(worker_peak, workers_rss_mb(process.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        press_train(chromium, url, "conv")
        stop = True
        sampler.join()
        # Wait for the worker to retire (1 idle minute, checked every 5 s).
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and any(
            "core.cluster.worker" in command_line(c)
            for c in psutil.Process(process.pid).children(recursive=True)
        ):
            time.sleep(2)
        idle = tree_rss_mb(process.pid)
        children = psutil.Process(process.pid).children(recursive=True)
        processes = 1 + sum(1 for c in children if command_line(c))
    rows.append(
        row_class(
            "Memory of the whole app (server, scheduler, workers): idle after every page, "
            "workers retired",
            f"{idle:,.0f} MB ({processes} processes)",
            "issue 13's figure before: 1.6 GB with the pages visited",
            "<= 1,000 MB",
            idle <= 1000,
        )
    )
    rows.append(
        row_class(
            "Memory of the whole app during one training (conv, peak): server + scheduler + "
            "one worker",
            f"{peak:,.0f} MB ({parts})",
            "issue 28's figure before: 2.17-2.19 GB",
            "<= 1,400 MB",
            peak <= 1400,
        )
    )
    rows.append(
        row_class(
            "Training worker's resident peak during a conv run",
            f"{worker_peak:,.0f} MB",
            "-",
            "<= 900 MB",
            worker_peak <= 900,
        )
    )


def main() -> None:
    from bench.run import Row, table

    rows: list = []
    speed(rows, Row)
    memory(rows, Row)
    print(table(rows))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
