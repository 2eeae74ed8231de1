"""Serve a Streamlit script and drive it in headless Chromium, timing what users wait for."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.servers import (
    CHROMIUM_ARGS,
    chromium_path,
    free_port,
    stop_server,
    wait_for_health,
)

ROOT = Path(__file__).resolve().parents[1]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def served(
    script: str,
    log: Path | None = None,
    options: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
):
    """`streamlit run script` on a free port; yields (url, process, seconds until healthy).

    The server's output goes to `log` if given (else nowhere); `options` are extra
    `--section.option=value` arguments."""
    port = free_port()
    output = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below.
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            *options,
        ],
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(environment or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, timeout=120)
        yield url, process, started
    finally:
        stop_server(process)
        if log:
            output.close()


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    return page


def image_src(page, index: int = 0) -> str:
    images = page.locator("[data-testid=stImage] img")
    return (images.nth(index).get_attribute("src") or "") if images.count() > index else ""


def wait_src_change(page, before: str, index: int = 0, timeout: float = 10.0) -> None:
    """Wait (checking every animation frame) until image `index` shows a new picture."""
    page.wait_for_function(
        "([before, index]) => { const img = document.querySelectorAll("
        "'[data-testid=stImage] img')[index]; return img && img.getAttribute('src') !== before; }",
        arg=[before, index],
        timeout=timeout * 1000,
        polling="raf",
    )


def slider_latencies(page, presses: int) -> list[float]:
    """Milliseconds from an arrow-key press on the first slider to a new first image."""
    slider = page.get_by_role("slider").first
    slider.focus()
    times = []
    for index in range(presses):
        before = image_src(page)
        started = time.perf_counter()
        # Alternate directions so the value never sticks at an end of the range.
        page.keyboard.press("ArrowRight" if (index // 10) % 2 == 0 else "ArrowLeft")
        wait_src_change(page, before)
        times.append((time.perf_counter() - started) * 1000)
    return times


# The latent pad counts its drawings on the digit canvas (ui/latent_pad.html).
PAD_DRAWN = "before => document.getElementById('digit').dataset.renders !== before"
PAD_READY = "#digit[data-renders]"


def is_pad(frame) -> bool:
    return frame.url == "about:srcdoc"


def pad_frame(page, timeout: float = 60.0):
    """The latent pad's frame, found in `page.frames` (a locator through the <iframe> would
    have Playwright describe its megabyte-long srcdoc on every call, slowing the page)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if is_pad(frame) and frame.locator(PAD_READY).count():
                return frame
        time.sleep(0.1)
    raise TimeoutError("the latent pad did not appear")


def pad_latencies(page, presses: int) -> list[float]:
    """Milliseconds from an arrow-key press on the pad's z1 slider to the next animation frame
    after the pad has drawn the new digit."""
    pad = pad_frame(page)
    pad.locator("#z1").focus()
    digit = pad.locator("#digit")
    times = []
    for index in range(presses):
        before = digit.get_attribute("data-renders")
        started = time.perf_counter()
        page.keyboard.press("ArrowRight" if (index // 10) % 2 == 0 else "ArrowLeft")
        pad.wait_for_function(
            PAD_DRAWN,
            arg=before,
            timeout=10_000,
            polling="raf",
        )
        times.append((time.perf_counter() - started) * 1000)
    return times


def stroke_latencies(page, strokes: int) -> list[float]:
    """Milliseconds from the end of a canvas stroke to its reconstruction on screen."""
    canvas = page.locator(".drawing-pad canvas[data-ready]").first
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    times = []
    for index in range(strokes):
        before = image_src(page, 1)  # The reconstruction, beside the 28x28 input.
        x = 60 + (index * 37) % 160
        page.mouse.move(box["x"] + x, box["y"] + 50)
        page.mouse.down()
        page.mouse.move(box["x"] + x + 20, box["y"] + 150, steps=5)
        page.mouse.move(box["x"] + x, box["y"] + 230, steps=5)
        started = time.perf_counter()
        page.mouse.up()
        wait_src_change(page, before, index=1, timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        page.wait_for_selector(IDLE, timeout=60_000)
    return times
