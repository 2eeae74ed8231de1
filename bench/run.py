"""`make bench`: every performance figure of the lab beside its baseline, measured in one run.

Prints a Markdown table and writes it to bench/RESULTS.md. Timed figures are p50/p95 over
repeated interactions; goals from the issue tracker are marked met or not.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from bench import browser

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass
class Row:
    figure: str
    measured: str
    baseline: str
    goal: str
    met: bool | None = None


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def decode_speed(rows: list[Row]) -> None:
    """Server-side VAE decode of one point: ONNX Runtime (what the pages run) against the
    Keras decoder traced as a tf.function (what they ran before) and model.predict."""
    import tensorflow as tf

    from core.ml import cards, served

    vae = cards.load_model("vae")
    compiled = tf.function(lambda z: vae.decoder(z, training=False), reduce_retracing=True)
    model = served.load_shipped("vae")
    z = np.array([[0.5, -0.5]], np.float32)
    for _ in range(5):
        compiled(z)
        model.decode(z)
        vae.decoder.predict(z, verbose=0)

    def timed(call, repeats):
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    direct = timed(lambda: model.decode(z), 300)
    keras_call = timed(lambda: np.asarray(compiled(z)), 300)
    predict = timed(lambda: vae.decoder.predict(z, verbose=0), 40)
    rows.append(
        Row(
            "VAE decode, one point (server, p50)",
            f"{p(direct, 50):.3f} ms",
            f"Keras tf.function {p(keras_call, 50):.2f} ms, model.predict {p(predict, 50):.1f} ms",
            "< 2 ms",
            p(direct, 50) < 2,
        )
    )


def slider_and_stroke(rows: list[Row], presses: int, strokes: int) -> None:
    with browser.chromium() as chromium:
        with browser.served("bench/reference_app.py") as (url, _, _):
            page = browser.open_page(chromium, url)
            browser.slider_latencies(page, 5)  # Warm up.
            reference = browser.slider_latencies(page, presses)
            page.close()
        with browser.served("bench/floor_draw.py") as (url, _, _):
            page = browser.open_page(chromium, url)
            browser.stroke_latencies(page, 3)  # Warm up, as Draw's first strokes are below.
            floor = browser.stroke_latencies(page, strokes)
            page.close()
        with browser.served("app.py") as (url, _, _):
            page = browser.open_page(chromium, f"{url}/latent")
            browser.pad_latencies(page, 5)
            latent = browser.pad_latencies(page, presses)
            page.close()
            page = browser.open_page(chromium, f"{url}/draw")
            browser.stroke_latencies(page, 3)
            strokes_ms = browser.stroke_latencies(page, strokes)
            page.close()
    ratio = p(latent, 95) / p(reference, 95)
    rows.append(
        Row(
            f"Latent slider -> new digit (decoded in the page; Chromium, p95 of {presses})",
            f"{p(latent, 95):.0f} ms (p50 {p(latent, 50):.0f})",
            f"Streamlit slider + image page {p(reference, 95):.0f} ms (p50 {p(reference, 50):.0f})",
            "<= 1.3x reference",
            ratio <= 1.3,
        )
    )
    ratio = p(strokes_ms, 95) / p(floor, 95)
    rows.append(
        Row(
            f"Stroke -> reconstructions shown on Draw (Chromium, p95 of {strokes})",
            f"{p(strokes_ms, 95):.0f} ms ({ratio:.2f}x; p50 {p(strokes_ms, 50):.0f})",
            f"floor page, the same pad and 13 fixed pictures: {p(floor, 95):.0f} ms "
            f"(p50 {p(floor, 50):.0f})",
            "<= 1.2x the floor page",
            ratio <= 1.2,
        )
    )


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used so far (user + system, Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (float(fields[11]) + float(fields[12])) / 100.0


def session_cost(rows: list[Row], repeats: int) -> None:
    """Server CPU for one new browser session to open a page: what 30 students opening the
    app at once cost the one server."""

    def per_open(script: str, path: str, *options: str) -> list[float]:
        with browser.served(script, options=options) as (url, process, _):
            browser.open_page(chromium, f"{url}/{path}").context.close()  # Warm the caches.
            costs = []
            for _ in range(repeats):
                before = cpu_seconds(process.pid)
                browser.open_page(chromium, f"{url}/{path}").context.close()
                time.sleep(1.0)  # The session's last messages and clean-up.
                costs.append(cpu_seconds(process.pid) - before)
            return costs

    with browser.chromium() as chromium:
        reference = per_open("bench/reference_app.py", "")
        latent = per_open("app.py", "latent?variant=vae")
        # Streamlit's default: a watcher that re-walks every imported module after each run.
        watched = per_open("app.py", "latent?variant=vae", "--server.fileWatcherType=auto")
    rows.append(
        Row(
            f"Server CPU for a new session opening /latent (median of {repeats})",
            f"{p(latent, 50):.2f} s",
            f"with Streamlit's file watcher {p(watched, 50):.2f} s; one-slider reference page "
            f"{p(reference, 50):.2f} s",
            "report",
            None,
        )
    )


def cold_start_and_memory(rows: list[Row], sessions: int) -> None:
    with browser.chromium() as chromium:
        with browser.served("bench/reference_app.py") as (url, process, started):
            page = browser.open_page(chromium, url)
            reference_start = time.perf_counter() - started
            reference_rss = browser.rss_mb(process.pid)
            page.close()
        with browser.served("app.py") as (url, process, started):
            page = browser.open_page(chromium, url)
            home = time.perf_counter() - started
            rows.append(
                Row(
                    "Cold start: `streamlit run` -> home rendered",
                    f"{home:.1f} s ({home / reference_start:.2f}x)",
                    f"trivial Streamlit page {reference_start:.1f} s",
                    "<= 1.3x the trivial page",
                    home <= 1.3 * reference_start,
                )
            )
            firsts = {}
            for path in ("train", "draw", "latent", "compare"):
                clicked = time.perf_counter()
                page.locator("[data-testid=stSidebarNav]").locator(f"a[href*='/{path}']").click()
                page.wait_for_selector(f"{browser.IDLE}", timeout=120_000)
                page.wait_for_timeout(100)
                page.wait_for_selector(browser.IDLE, timeout=120_000)
                firsts[path] = time.perf_counter() - clicked
            worst = max(firsts.values())
            rows.append(
                Row(
                    "First visit of each other page (after home)",
                    ", ".join(f"/{k} {v:.1f} s" for k, v in firsts.items()),
                    "-",
                    "< 3 s each",
                    worst < 3,
                )
            )
            # Every pretrained model is loaded once /draw and /compare have been shown.
            loaded = browser.rss_mb(process.pid)
            rows.append(
                Row(
                    "Server memory, every pretrained model loaded",
                    f"{loaded:.0f} MB",
                    f"reference page {reference_rss:.0f} MB",
                    "<= 300 MB",
                    loaded <= 300,
                )
            )
            context = chromium.new_context()
            for _ in range(sessions):
                tab = context.new_page()
                tab.goto(url, wait_until="domcontentloaded")
                tab.wait_for_selector("h1", timeout=120_000)
            time.sleep(2)
            grown = browser.rss_mb(process.pid) - loaded
            rows.append(
                Row(
                    f"Memory added by {sessions} idle sessions",
                    f"{grown:.0f} MB",
                    "-",
                    "< 200 MB",
                    grown < 200,
                )
            )
            context.close()


WEB_PAGES = ("", "train", "race", "draw", "latent", "inside", "compare", "class")
INSIDE = ("Features", "Sparse codes", "Copying", "Contraction", "Linear and PCA", "Few labels")


def student_run(store, dataset: str, name: str = "vanilla") -> tuple[str, int]:
    """A student with an ended run of `name` on `dataset`, stored as a worker leaves one
    (checkpoint and ONNX bundle; one quick epoch on 5,000 images): (link token, run id)."""
    from core.ml import variants
    from core.ml.choices import settings_for
    from core.ml.onnx_export import bundle
    from core.ml.training import TrainConfig, train

    config = TrainConfig(epochs=1, subset=5000, dataset=dataset)
    result = train(name, config)
    student, token = store.new_student()
    settings = settings_for(config, variants.make_config(name))
    run_id = store.create_run(student, name, settings, 1)
    store.claim(run_id, "bench:0")
    samples = np.zeros((8, 28, 28, 1), np.float32)
    store.add_epoch(run_id, 1, {"loss": 0.2}, samples, result.model.get_weights(), epochs_done=1)
    store.add_bundle(run_id, 1, bundle(result.model, name))
    store.finish(run_id, "finished", metrics={"bce": 0.2, "mse": 0.05})
    return token, run_id


def visit_every_page(page, url: str, runs: dict[str, tuple[str, int]]) -> int:
    """Every page (and each Inside section) on both datasets, as each dataset's student with
    their run chosen; returns the number of page views."""
    visits = 0
    for dataset, (token, run_id) in runs.items():
        for path in WEB_PAGES:
            link = f"{url}/{path}?data={dataset}&me={token}&variant=vanilla&model={run_id}"
            page.goto(link, wait_until="domcontentloaded")
            page.wait_for_selector("h1", timeout=120_000)
            page.wait_for_selector(browser.IDLE, timeout=120_000)
            visits += 1
            if path == "inside":  # Every section computes something else.
                for section in INSIDE[1:]:
                    page.get_by_role("radio", name=section).or_(
                        page.get_by_text(section, exact=True)
                    ).first.click()
                    page.wait_for_timeout(200)
                    page.wait_for_selector(browser.IDLE, timeout=120_000)
                    visits += 1
    page.wait_for_timeout(1000)
    return visits


def web_tier(rows: list[Row], soak_sessions: int) -> None:
    """The app server after every page on both datasets, with a student's run in use: its
    resident memory, whether TensorFlow is mapped into it (issue 28: it must not be), and its
    memory after the same views again once `make soak`'s sessions have used it."""
    import asyncio
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from bench import soak
    from core.store import Store

    folder = tempfile.mkdtemp(prefix="ae-bench-web-")
    environment = {"AE_DATA_DIR": folder}  # A throwaway SQLite store, never a user's own.
    os.environ.pop("AE_DATABASE_URL", None)
    os.environ.update(environment)
    store = Store()
    runs = {dataset: student_run(store, dataset) for dataset in ("mnist", "fashion")}
    store.close()
    with browser.chromium() as chromium:
        with browser.served("bench/reference_app.py") as (url, process, _):
            page = browser.open_page(chromium, url)
            reference_rss = browser.rss_mb(process.pid)
            page.close()
        with browser.served("app.py", environment=environment) as (url, process, _):
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            visits = visit_every_page(page, url, runs)
            after = browser.rss_mb(process.pid)
            maps = Path(f"/proc/{process.pid}/maps").read_text()
            tensorflow = "tensorflow" in maps
            rows.append(
                Row(
                    "Server memory after every page on both datasets, a student's run in use",
                    f"{after:.0f} MB ({visits} page views)",
                    f"trivial Streamlit page {reference_rss:.0f} MB",
                    "<= 300 MB",
                    after <= 300,
                )
            )
            rows.append(
                Row(
                    "TensorFlow in the app server's memory map after those views",
                    "yes" if tensorflow else "no",
                    "-",
                    "no",
                    not tensorflow,
                )
            )
            if soak_sessions:
                page.close()
                # `make soak`'s classroom on the same server (two of them train), then the
                # same views again: what the server keeps of a class's use.
                # On a thread of its own: Playwright's sync API runs an event loop on this one.
                with ThreadPoolExecutor(1) as pool:
                    pool.submit(
                        asyncio.run, soak.soak(url, soak_sessions, 2, 3, 1.0, process.pid)
                    ).result()
                page = chromium.new_page(viewport={"width": 1280, "height": 900})
                visit_every_page(page, url, runs)
                soaked = browser.rss_mb(process.pid)
                rows.append(
                    Row(
                        f"The same after `make soak`'s {soak_sessions} sessions on that server",
                        f"{soaked:.0f} MB ({soaked / after:.2f}x)",
                        f"before them: {after:.0f} MB",
                        "<= 1.3x before",
                        soaked <= 1.3 * after,
                    )
                )
            page.close()


class EpochClock(keras.callbacks.Callback):
    """Seconds since fit began at the end of each epoch."""

    def on_train_begin(self, logs=None):
        self.started, self.ends = time.perf_counter(), []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter() - self.started)


def bare_fit_rate(x, x_val, batch: int, epochs: int, rate: float) -> float:
    """Images/s of a plain model.fit of a fresh vanilla model, tracing and validation included."""
    from core.ml import variants
    from core.ml.training import TrainConfig, compile_model

    model = variants.build("vanilla")
    compile_model(model, "bce", TrainConfig(learning_rate=rate), steps=epochs * len(x) // batch)
    started = time.perf_counter()
    model.fit(x, x, batch_size=batch, epochs=epochs, verbose=0, validation_data=(x_val, x_val))
    return epochs * len(x) / (time.perf_counter() - started)


def page_training_rate(chromium, url: str, epochs: int) -> float:
    """Press Train on /train (page defaults, live view on) and read the rate the page reports."""
    page = browser.open_page(chromium, f"{url}/train?variant=vanilla")
    block = page.locator("[data-testid=stSlider]", has_text="Epochs").first
    block.get_by_role("slider").focus()
    page.keyboard.press("Home")
    for _ in range(epochs - 1):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_selector("text=/Trained [0-9]+ epoch/", timeout=300_000)
    text = page.get_by_text("images/s").first.inner_text()
    page.close()
    return float(re.search(r"\(([\d,]+) images/s\)", text).group(1).replace(",", ""))


def live_training(rows: list[Row], epochs: int, repeats: int) -> None:
    """The Train page's images/s (chart, progress, samples on) against a bare model.fit.

    Runs of a few seconds vary by +-20% on this shared VM, so the two are interleaved
    `repeats` times and their medians compared.
    """
    from core.ml.training import choose_subset, load_splits

    subset, batch, rate = 10000, 64, 1e-2  # The Train page's defaults for vanilla.
    splits = load_splits()
    x = choose_subset(splits.x_train, subset, 0)  # The page's seeded subset.
    bare, live = [], []
    with browser.chromium() as chromium, browser.served("app.py") as (url, _, _):
        page_training_rate(chromium, url, 1)  # Warm up: the server's first imports and loads.
        for _ in range(repeats):
            bare.append(bare_fit_rate(x, splits.x_val, batch, epochs, rate))
            live.append(page_training_rate(chromium, url, epochs))
    ours, base = float(np.median(live)), float(np.median(bare))
    runs = ", ".join(f"{v:,.0f}" for v in live)
    bare_runs = ", ".join(f"{v:,.0f}" for v in bare)
    rows.append(
        Row(
            f"Live training from /train (vanilla, {subset} images, batch {batch}, "
            f"{epochs} epochs, median of {repeats})",
            f"{ours:,.0f} images/s ({ours / base:.0%}; runs {runs})",
            f"bare model.fit {base:,.0f} images/s (runs {bare_runs})",
            ">= 90% of bare",
            ours >= 0.9 * base,
        )
    )


def epoch_two_rate(fit, subset: int) -> float:
    """Images/s over epochs 2 and 3 of `fit(clock)` (the first includes tracing/compiling)."""
    clock = EpochClock()
    fit(clock)
    return 2 * subset / (clock.ends[2] - clock.ends[0])


def training_throughput(rows: list[Row], subset: int) -> None:
    """Per variant: the project's training function against a plain model.fit of the same net,
    and the faster paths this CPU offers (XLA, larger batches), all timed the same way: the
    epochs 2 and 3 between epoch-end callbacks, no validation."""
    from core.ml import variants
    from core.ml.training import TrainConfig, choose_subset, load_splits, train

    splits = load_splits()
    x = choose_subset(splits.x_train, subset, 0)

    def ours(name, clock, **changes):
        rate = variants.get(name).training.get("learning_rate", 2e-3)
        settings = dict(epochs=3, subset=subset, learning_rate=rate, validation=False)
        settings.update(changes)
        train(name, TrainConfig(**settings), splits=splits, callbacks=[clock])

    for name in variants.names():
        variant = variants.get(name)

        def plain(clock, variant=variant, name=name):
            model = variant.build(variants.make_config(name))
            losses = {"bce": "binary_crossentropy", "mse": "mse"}
            model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=losses.get(variant.loss))
            model.fit(x, x, batch_size=128, epochs=3, verbose=0, callbacks=[clock])

        base = epoch_two_rate(plain, subset)
        project = epoch_two_rate(lambda c, n=name: ours(n, c), subset)
        jit = epoch_two_rate(lambda c, n=name: ours(n, c, jit_compile=True), subset)
        # 4x the batch with the rate scaled by sqrt(4), the usual rule for Adam.
        big_rate = 2 * variant.training.get("learning_rate", 2e-3)
        big = epoch_two_rate(
            lambda c, n=name, r=big_rate: ours(n, c, batch_size=512, learning_rate=r), subset
        )
        rows.append(
            Row(
                f"Training throughput: {name} (epochs 2-3 of {subset} images)",
                f"core.ml.training.train, batch 128: {project:,.0f} images/s "
                f"({project / base:.2f}x); + XLA: {jit:,.0f} ({jit / base:.2f}x); "
                f"batch 512: {big:,.0f} ({big / base:.2f}x)",
                f"plain fit, batch 128: {base:,.0f} images/s",
                "report",
                None,
            )
        )


def store_costs(rows: list[Row]) -> None:
    """Writes while training, reads per live-view redraw, bytes per run (bench/store.py)."""
    from bench import store

    store.measure(rows, Row)


def engine_speed(rows: list[Row], repeats: int) -> None:
    """Train press to "Trained" (Chromium) against a bare model.fit (bench/engine.py)."""
    from bench import engine

    engine.speed(rows, Row, repeats)


def engine_memory(rows: list[Row]) -> None:
    """The whole app's memory, idle with workers retired and during a run (bench/engine.py)."""
    from bench import engine

    engine.memory(rows, Row)


def race_cost(rows: list[Row], repeats: int) -> None:
    """Four racers against one run, with one and two training workers (bench/race.py)."""
    from bench import race

    race.measure(rows, Row, repeats)


def runs_per_core(rows: list[Row]) -> None:
    """A class pressing Train at once: default runs per worker core per minute (bench/race.py)."""
    from bench import race

    race.throughput(rows, Row)


def table(rows: list[Row]) -> str:
    lines = ["| figure | measured | baseline (same run) | goal | met |", "|---|---|---|---|---|"]
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        lines.append(f"| {row.figure} | {row.measured} | {row.baseline} | {row.goal} | {met} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", nargs="*", help="run only these steps (by label)")
    args = parser.parse_args()
    rows: list[Row] = []
    steps = [
        ("decode", lambda: decode_speed(rows)),
        (
            "slider/stroke",
            lambda: slider_and_stroke(rows, 20 if args.quick else 60, 8 if args.quick else 20),
        ),
        ("cold start/memory", lambda: cold_start_and_memory(rows, 20)),
        ("web tier", lambda: web_tier(rows, 20)),
        ("session cost", lambda: session_cost(rows, 5)),
        ("live training", lambda: live_training(rows, 5, 2 if args.quick else 3)),
        ("throughput", lambda: training_throughput(rows, 5000 if args.quick else 20000)),
        ("store", lambda: store_costs(rows)),
        ("engine speed", lambda: engine_speed(rows, 2 if args.quick else 3)),
        ("engine memory", lambda: engine_memory(rows)),
        ("race", lambda: race_cost(rows, 1 if args.quick else 2)),
        ("runs per core", lambda: runs_per_core(rows)),
    ]
    for label, step in steps:
        if args.only and label not in args.only:
            continue
        started = time.perf_counter()
        try:
            step()
        except Exception as error:  # One broken step must not hide the others' figures.
            rows.append(
                Row(f"{label}: FAILED", f"{type(error).__name__}: {error}"[:200], "-", "-", False)
            )
        print(f"[{label}: {time.perf_counter() - started:.0f} s]", flush=True)
    header = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.platform()}, "
        f"{os.cpu_count()} cores.\n\n"
    )
    text = header + table(rows) + "\n"
    print(text)
    if not args.only:  # A partial run must not replace the full table.
        RESULTS.write_text("# Benchmark results (`make bench`)\n\n" + text)


if __name__ == "__main__":
    main()
