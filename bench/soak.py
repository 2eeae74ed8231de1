"""`make soak`: a classroom on one server. Bounded in sessions and time, localhost only.

Twenty browser sessions open the app at once in headless Chromium: two press Train with the
page's defaults (one trains, the other waits in the queue, then trains), eighteen move the
latent sliders and draw digits, going back and forth between the two pages. It prints the
errors seen (exceptions in a page, JavaScript errors), the p95 slider latency under that load,
the stroke-to-reconstruction latency (which goes through the server), the server's memory at
the end, and whether every session still answers.

All twenty Chromium pages share this machine's two cores with the server, so every figure is
pessimistic for a classroom, where each student's browser has its own machine.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.browser import IDLE, PAD_DRAWN, PAD_READY, is_pad, served
from bench.soak_measures import cpu_seconds, memory_mb, report
from tests.support.servers import CHROMIUM_ARGS, chromium_path

RESULTS = Path(__file__).resolve().parent / "SOAK.md"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Each student's page is in front of its student: Chromium must not throttle the timers and
# animation frames of a headless page it thinks is hidden.
FOREGROUND = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
# How long a page may take to load or answer before its session counts as failed. The
# lecture-hall soak (bench/cluster_soak.py) raises it: forty browsers on two cores load slowly.
PAGE_TIMEOUT_MS = 120_000
NEW_IMAGE = (
    "([before, index]) => { const img = document.querySelectorAll("
    "'[data-testid=stImage] img')[index]; return img && img.getAttribute('src') !== before; }"
)


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    slider_ms: list[float] = field(default_factory=list)
    slider_at: list[float] = field(default_factory=list)  # perf_counter at each press.
    slider_round: list[int] = field(default_factory=list)
    slider_index: list[int] = field(default_factory=list)  # 0: the first move after arriving.
    strokes: int = 0
    stroke_retries: int = 0  # Strokes that showed nothing within 30 s and were drawn again.
    stroke_ms: list[float] = field(default_factory=list)  # Mouse up to the reconstruction.
    stroke_at: list[float] = field(default_factory=list)  # perf_counter at each mouse up.
    stroke_attempts: list[int] = field(default_factory=list)
    trainings_done: int = 0
    queue_seen: bool = False


async def image_src(page, index: int) -> str:
    images = page.locator("[data-testid=stImage] img")
    if await images.count() <= index:
        return ""
    return await images.nth(index).get_attribute("src") or ""


async def go(page, path: str, title: str) -> None:
    """Follow a sidebar link (same session, as a student clicks) and wait for the page."""
    await page.locator("[data-testid=stSidebarNav]").locator(f"a[href$='/{path}']").click()
    await page.wait_for_selector(f"h1:has-text('{title}')", timeout=PAGE_TIMEOUT_MS)
    await page.wait_for_selector(IDLE, timeout=PAGE_TIMEOUT_MS)


async def check(page, who: str, found: Findings) -> None:
    count = await page.locator("[data-testid=stException]").count()
    if count:
        found.errors.append(f"{who}: {count} exception(s) in the page")


async def pad_frame(page):
    """The latent pad's frame, reached through `page.frames`: a locator through the <iframe>
    element would make Playwright describe that element, megabyte-long srcdoc included, on
    every call (~40 ms of the page's CPU each, which no student's browser spends)."""
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for frame in page.frames:
            if is_pad(frame) and await frame.locator(PAD_READY).count():
                return frame
        await asyncio.sleep(0.1)
    raise TimeoutError("the latent pad did not appear")


async def move_sliders(page, presses: int, found: Findings, think: float, rng, round_: int) -> None:
    """Arrow-key steps on the latent pad's z1 slider, each timed from the key press until the
    pad has drawn the new digit (its `data-renders` count goes up)."""
    pad = await pad_frame(page)
    digit = pad.locator("#digit")
    for index in range(presses):
        # A student looks at each new digit before moving again.
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        await pad.locator("#z1").focus()
        before = await digit.get_attribute("data-renders")
        started = time.perf_counter()
        await page.keyboard.press("ArrowRight" if (index // 5) % 2 == 0 else "ArrowLeft")
        await pad.wait_for_function(
            PAD_DRAWN,
            arg=before,
            timeout=60_000,
            polling=10,
        )
        found.slider_ms.append((time.perf_counter() - started) * 1000)
        found.slider_at.append(started)
        found.slider_round.append(round_)
        found.slider_index.append(index)


async def draw_digit(page, found: Findings) -> None:
    canvas = page.locator(".drawing-pad canvas[data-ready]").first
    await canvas.wait_for(timeout=PAGE_TIMEOUT_MS)
    # The component lays itself out after the page is idle; draw once it has its full size,
    # or the stroke lands beside it (and selects text instead).
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while (box := await canvas.bounding_box()) is None or min(box["width"], box["height"]) < 270:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the canvas never reached its size: {box}")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    box = await canvas.bounding_box()
    for attempt in range(2):
        before = await image_src(page, 1)
        # A different stroke each time: an identical drawing would give an identical picture.
        shift = 30 * ((found.strokes + attempt) % 5) - 60
        await page.mouse.move(box["x"] + 140 + shift, box["y"] + 40)
        await page.mouse.down()
        await page.mouse.move(box["x"] + 160 + shift, box["y"] + 140, steps=5)
        await page.mouse.move(box["x"] + 130 - shift, box["y"] + 240, steps=5)
        started = time.perf_counter()
        await page.mouse.up()
        try:
            await page.wait_for_function(NEW_IMAGE, arg=[before, 1], timeout=30_000, polling=20)
            found.stroke_ms.append((time.perf_counter() - started) * 1000)
            found.stroke_at.append(started)
            found.stroke_attempts.append(attempt + 1)
            break
        except Exception:
            if attempt:
                raise
            found.stroke_retries += 1  # As a student would: draw again.
            box = await canvas.bounding_box()
    found.strokes += 1


async def student(
    browser,
    url: str,
    index: int,
    rounds: int,
    think: float,
    found: Findings,
    context=None,
    link: str = "",
):
    """A student moving the latent pad and drawing; `context` and `link` (a personal link's
    query, "me=...") make it a student who has joined already (bench/cluster_soak.py)."""
    rng = np.random.default_rng(index)
    context = context or await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: found.errors.append(f"student {index}: {error}"))
    await page.goto(
        f"{url}/latent?variant=vae{'&' + link if link else ''}",
        wait_until="domcontentloaded",
        timeout=PAGE_TIMEOUT_MS,
    )
    await page.wait_for_selector("h1", timeout=PAGE_TIMEOUT_MS)
    await page.wait_for_selector(IDLE, timeout=PAGE_TIMEOUT_MS)
    step = "opening /latent"
    try:
        for round_ in range(rounds):
            step = f"round {round_}: sliders"
            await move_sliders(page, 10, found, think, rng, round_)
            await check(page, f"student {index} /latent", found)
            step = f"round {round_}: to /draw"
            await go(page, "draw", "Draw a digit")
            step = f"round {round_}: drawing"
            await draw_digit(page, found)
            await check(page, f"student {index} /draw", found)
            step = f"round {round_}: to /latent"
            await go(page, "latent", "Explore the latent space")
    except Exception as error:
        await page.screenshot(path=str(ARTIFACTS / f"soak-student-{index}.png"))
        raise RuntimeError(f"student {index}, {step}: {type(error).__name__}") from error
    return context, page


async def trainer(browser, url: str, index: int, found: Findings, context=None, link: str = ""):
    context = context or await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: found.errors.append(f"trainer {index}: {error}"))
    await page.goto(
        f"{url}/train?variant=vanilla{'&' + link if link else ''}",
        wait_until="domcontentloaded",
        timeout=PAGE_TIMEOUT_MS,
    )
    await page.wait_for_selector(IDLE, timeout=PAGE_TIMEOUT_MS)
    try:
        # As long as a page load may take: under load the form is redrawn while it settles.
        await page.get_by_role("button", name="Train", exact=True).click(timeout=PAGE_TIMEOUT_MS)
    except Exception:
        await page.screenshot(path=str(ARTIFACTS / f"soak-trainer-{index}.png"))
        raise
    deadline = time.monotonic() + 600
    # "Test set:" joins "Trained" once the worker has measured the run: it is ended then.
    while not await page.get_by_text(re.compile(r"Trained \d+ epoch.*Test set:")).count():
        if await page.get_by_text("Waiting for a free training slot").count():
            found.queue_seen = True
        if time.monotonic() > deadline:
            raise TimeoutError(f"trainer {index} did not finish within 600 s")
        await asyncio.sleep(0.5)
    await page.wait_for_selector(IDLE, timeout=PAGE_TIMEOUT_MS)
    await check(page, f"trainer {index}", found)
    found.trainings_done += 1
    return context, page


def settle(outcomes, found: Findings) -> list:
    """The pages of the sessions that got through; the others' errors go to `found`."""
    pages = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            found.errors.append(f"session failed: {type(outcome).__name__}: {outcome}"[:700])
        else:
            pages.append(outcome[1])
    return pages


async def answers(page) -> bool:
    """A session answers if a click on a sidebar link still brings a page back."""
    try:
        await go(page, "compare", "Compare variants")
        return await page.locator("[data-testid=stException]").count() == 0
    except Exception:
        return False


async def soak(url: str, sessions: int, trainers: int, rounds: int, think: float, pid: int) -> str:
    from playwright.async_api import async_playwright

    found = Findings()
    async with async_playwright() as playwright:
        # One Chromium per student, as in a classroom: twenty pages in one browser would share
        # its one browser process (input, IPC, compositing), a bottleneck no class has.
        browsers = [
            await playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS + FOREGROUND
            )
            for _ in range(sessions)
        ]
        started = time.perf_counter()
        cpu_before = cpu_seconds()
        tasks = [trainer(browsers[i], url, i, found) for i in range(trainers)]
        tasks += [
            student(browsers[trainers + i], url, i, rounds, think, found)
            for i in range(sessions - trainers)
        ]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        seconds = time.perf_counter() - started
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds().items()}
        pages = settle(outcomes, found)
        server, workers = memory_mb(pid)
        answered = await asyncio.gather(*(answers(page) for page in pages))
        for browser in browsers:
            await browser.close()
    # Every move with its start (seconds into the soak), to see when slow moves happen.
    (ARTIFACTS / "soak-slider.csv").write_text(
        "seconds,ms,round,move\n"
        + "".join(
            f"{at - started:.2f},{ms:.0f},{round_ + 1},{index + 1}\n"
            for at, ms, round_, index in zip(
                found.slider_at,
                found.slider_ms,
                found.slider_round,
                found.slider_index,
                strict=True,
            )
        )
    )
    (ARTIFACTS / "soak-strokes.csv").write_text(
        "seconds,ms,attempts\n"
        + "".join(
            f"{at - started:.2f},{ms:.0f},{attempts}\n"
            for at, ms, attempts in zip(
                found.stroke_at, found.stroke_ms, found.stroke_attempts, strict=True
            )
        )
    )
    moves = np.array(found.slider_ms)
    later = moves[np.array(found.slider_round) > 0] if len(moves) else moves

    def spread(values) -> tuple[float, float]:
        if not len(values):
            return float("nan"), float("nan")
        return float(np.percentile(values, 95)), float(np.percentile(values, 50))

    p95, p50 = spread(later)
    all_p95, all_p50 = spread(moves)
    stroke_p95, stroke_p50 = spread(found.stroke_ms)
    rows = [
        ("Errors seen", f"{len(found.errors)}", "0", not found.errors),
        (
            f"Latent slider latency under load (decoded in the page), rounds 2-{rounds} "
            f"(p95 of {len(later)})",
            f"{p95:.0f} ms (p50 {p50:.0f})",
            "< 1000 ms",
            p95 < 1000,
        ),
        (
            f"... all rounds, incl. {sessions} sessions opening at once (p95 of {len(moves)})",
            f"{all_p95:.0f} ms (p50 {all_p50:.0f})",
            "report",
            None,
        ),
        (
            "Strokes reconstructed",
            f"{found.strokes} (drawn a second time: {found.stroke_retries})",
            f"{(sessions - trainers) * rounds}",
            None,
        ),
        (
            f"Stroke -> reconstruction under load, through the server (p95 of "
            f"{len(found.stroke_ms)})",
            f"{stroke_p95:.0f} ms (p50 {stroke_p50:.0f})",
            "report",
            None,
        ),
        (
            "Trainings finished (one waited in the queue)",
            f"{found.trainings_done} of {trainers}; queue shown: "
            f"{'yes' if found.queue_seen else 'no'}",
            f"{trainers}",
            found.trainings_done == trainers,
        ),
        (
            "Server memory at the end",
            f"{server:.0f} MB (+ {workers:.0f} MB in training workers)",
            "report",
            None,
        ),
        (
            "Sessions still answering",
            f"{sum(answered)} of {sessions}",
            f"{sessions}",
            sum(answered) == sessions,
        ),
        ("Wall time of the soak", f"{seconds:.0f} s", "report", None),
        (
            "CPU seconds used (2 cores)",
            ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()),
            "report",
            None,
        ),
    ]
    return report(rows, found.errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--trainers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds a student looks before moving"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds before giving up")
    args = parser.parse_args()
    if not 1 <= args.sessions <= 40:
        parser.error("--sessions must be between 1 and 40 (this is a local soak, not a DoS)")
    ARTIFACTS.mkdir(exist_ok=True)
    with served("app.py", ARTIFACTS / "soak-server.log") as (url, process, _):
        text = asyncio.run(
            asyncio.wait_for(
                soak(url, args.sessions, args.trainers, args.rounds, args.think, process.pid),
                args.timeout,
            )
        )
    header = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M')}: {args.sessions} sessions "
        f"({args.trainers} training), {args.rounds} rounds of 10 slider moves (about "
        f"{args.think:g} s apart) and a drawing each, on one `streamlit run` server on this "
        f"machine, with {args.sessions} Chromium browsers (one per session) on the same 2 "
        "cores.\n\n"
    )
    print(header + text)
    RESULTS.write_text("# Soak results (`make soak`)\n\n" + header + text + "\n")


if __name__ == "__main__":
    main()
