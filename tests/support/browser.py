"""Driving the served app in Chromium (Playwright): open a page, wait for the rerun an
interaction caused, check that nothing raised; and the Class page's steps several tests take.

Waits are for events (an element, a URL, the app's script-run count), never fixed sleeps.
"""

from __future__ import annotations

URL_PATHS = {
    "": "Autoencoder Lab",
    "train": "Train an autoencoder",
    "race": "Race autoencoders",
    "draw": "Draw a digit",
    "latent": "Explore the latent space",
    "inside": "Inside the autoencoder",
    "compare": "Compare variants",
    "odd": "Odd one out",
    "images": "Your own images",
    "class": "Class",
}

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"

# True once the app has started a script run since the last wait (`window.aeScriptRuns` is
# counted by tests.support.servers.COUNT_SCRIPT_RUNS) and has finished every run.
RERUN_ENDED = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  return window.aeScriptRuns > (window.aeScriptRunsSeen || 0)
    && app && app.getAttribute('data-test-script-state') === 'notRunning';
}"""


def mark_runs_seen(page) -> None:
    """The runs so far are accounted for: the next `wait_idle` waits for a new one."""
    page.evaluate("() => { window.aeScriptRunsSeen = window.aeScriptRuns; }")


def open_page(page, url: str) -> None:
    """Load a URL and wait until Streamlit has finished running the page's script."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    # On a cold server the sidebar first lists the pages/ folder until st.navigation's own
    # menu arrives; the lab's sidebar text marks the real page.
    page.locator("[data-testid=stSidebar]", has_text="Autoencoder Lab").wait_for(timeout=60_000)
    mark_runs_seen(page)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished the rerun caused by the last interaction: a script
    run has started since the last wait, and none is running now.

    The page must come from `new_tab` (which counts the runs); the interaction must cause a
    rerun, or this times out, which is the point: a click that does nothing fails here.
    """
    page.wait_for_function(RERUN_ENDED, timeout=timeout)
    mark_runs_seen(page)


def wait_trained(page, epochs: str = "", timeout: float = 300_000) -> None:
    """Wait until the page shows the run finished: "Trained ..." appears while the worker
    still measures the test metrics (ui.run_view.measuring_ui), and the run is the student's
    active one until "Test set: ..." joins it. `epochs`: "5 epochs", "1 epoch"."""
    page.wait_for_selector(f"text=Trained {epochs}", timeout=timeout)
    page.wait_for_selector(
        f"[data-testid=stAlert]:has-text('Trained {epochs}'):has-text('Test set:')",
        timeout=timeout,
    )


def choose_in_sidebar(page, label: str, option, tries: int = 3) -> None:
    """Choose an option of the sidebar's selectbox `label` (a text or a compiled pattern) and
    wait until the box shows it and the rerun it caused has ended. A click that lands while the
    page is still settling (a fresh server's first page reruns through app.py) can close the
    list without choosing: the box's value is read back, and the choice made again."""
    import re
    import time

    box = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]", has_text=label)
    shown = box.locator("input[role=combobox]")
    wanted = option if isinstance(option, re.Pattern) else re.compile(re.escape(option))
    for _attempt in range(tries):
        box.click()
        page.get_by_role("option", name=option).first.click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not wanted.search(shown.input_value()):
            page.wait_for_timeout(200)
        if wanted.search(shown.input_value()):
            break
    else:
        raise AssertionError(f"the {label} box shows {shown.input_value()!r}")
    page.wait_for_selector(IDLE, timeout=60_000)
    mark_runs_seen(page)


def no_exceptions(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()
    assert page.page_errors == []


def set_slider_to_minimum(page, label: str) -> None:
    slider_keys(page, label, "Home")


def slider_keys(page, label: str, *keys: str) -> None:
    block = page.locator("[data-testid=stSlider]", has_text=label).first
    block.get_by_role("slider").focus()
    for key in keys:
        page.keyboard.press(key)


def idle(page) -> None:
    """Wait for the app to be idle, however it got there (no new run needed)."""
    page.wait_for_selector(IDLE, timeout=120_000)


def board_rows(page) -> list[list[str]]:
    """The cells of the board's rows (the data grid's accessible table), header left out."""
    rows = page.locator("[data-testid=stDataFrame]", has_text="Rank").first.locator("[role=row]")
    return [
        rows.nth(index).locator("[role=gridcell]").all_inner_texts()
        for index in range(1, rows.count())
    ]


def wait_for_board_rows(page, count: int, timeout: float = 30_000) -> list[list[str]]:
    """The board's rows once it shows at least `count` (the header is row 0). The rows are the
    data grid's accessible table, which is in the page but never visible: wait for it to be
    attached."""
    board = page.locator("[data-testid=stDataFrame]", has_text="Rank").first
    board.locator("[role=row]").nth(count).wait_for(state="attached", timeout=timeout)
    return board_rows(page)


def create_locked_class(teacher, base: str, name: str) -> str:
    """On the Class page: create a class, limit it to 1,000 images, lock Vanilla's epochs at
    their default (5) and add a challenge; returns the student link."""
    open_page(teacher, f"{base}/class")
    teacher.get_by_label("Class name").fill(name)
    teacher.get_by_role("button", name="Create the class").click()
    teacher.wait_for_selector(f"h1:has-text('Class: {name}')", timeout=60_000)
    wait_idle(teacher, timeout=120_000)
    student_link = teacher.locator("[data-testid=stCode]").first.inner_text().strip()
    teacher.get_by_role("tab", name="Setup").click()
    slider_keys(teacher, "Most training images per run", "Home", "ArrowRight")  # 1,000
    teacher.get_by_role("button", name="Save the setup").click()
    wait_idle(teacher, timeout=120_000)
    teacher.get_by_role("tab", name="Setup").click()
    teacher.get_by_text("Lock epochs").click()
    teacher.get_by_role("button", name="Save the locks of Vanilla").click()
    wait_idle(teacher, timeout=120_000)
    teacher.get_by_role("tab", name="Challenges").click()
    teacher.get_by_label("Title").fill("Best reconstruction")
    teacher.get_by_role("button", name="Add the challenge").click()
    wait_idle(teacher, timeout=120_000)
    return student_link


def download(page, button: str, attempts: int = 3):
    """Press a download button and return Playwright's Download. A press while the page is
    still redrawing can land on a button about to be replaced and start nothing (seen once in
    a full run: no download in 30 s), so an unanswered press is made again once idle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        idle(page)
        try:
            with page.expect_download(timeout=20_000) as started:
                page.get_by_role("button", name=button).first.click()
            return started.value
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
