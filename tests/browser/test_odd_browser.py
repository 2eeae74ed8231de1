"""Chromium: the Odd one out page from the form to the scored run, a phone and a laptop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import no_exceptions, open_page, slider_keys, wait_idle
from tests.support.servers import new_tab

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def verdict(page) -> str:
    return page.locator(
        "[data-testid=stMarkdownContainer]", has_text=re.compile(r"^At ")
    ).first.inner_text()


def test_train_without_the_0s_then_find_them(app_server, page, browser, artifacts):
    open_page(page, f"{app_server}/odd")
    assert page.locator("h1").first.inner_text() == "Odd one out"
    # The default: the 0s left out, the Train page's vanilla run.
    page.get_by_role("button", name="Train on the normal images only").click()
    page.wait_for_selector("text=2. How well it finds them", timeout=240_000)
    wait_idle(page)
    no_exceptions(page)
    text = page.locator(
        "[data-testid=stMarkdownContainer]", has_text="area under the ROC curve is"
    ).first.inner_text()
    area = float(re.search(r"ROC curve is ([0-9.]+)", text).group(1))
    assert 0.6 < area <= 1.0, text  # The 0s are found far better than by a coin.
    # The histograms and the ROC curve (charts mount a moment after the script ends).
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length === 2",
        timeout=30_000,
    )
    # Caught, missed, false alarms, most and least odd: five rows of images.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stImage]').length === 5", timeout=30_000
    )
    expect(page.locator("[data-testid=stImage] img")).to_have_count(3 * 8 + 2 * 10, timeout=30_000)
    before = verdict(page)
    caught = int(
        re.search(r"([0-9,]+) of ([0-9,]+) odd images caught", before).group(1).replace(",", "")
    )
    # A lower threshold catches more.
    slider_keys(page, "Threshold: flag an image", *["ArrowLeft"] * 20)
    page.wait_for_function(
        "(old) => [...document.querySelectorAll('[data-testid=stMarkdownContainer]')]"
        ".some(e => e.innerText.startsWith('At ') && e.innerText !== old)",
        arg=before,
    )
    wait_idle(page)
    after = verdict(page)
    assert int(re.search(r"([0-9,]+) of", after).group(1).replace(",", "")) > caught, (
        before,
        after,
    )
    page.screenshot(path=str(artifacts / "odd-1280.png"), full_page=True)
    # The same run on a phone, in Chinese: one column, nothing cut.
    # Tall, so one screenshot holds the page (its content scrolls inside the app's frame).
    phone = browser.new_context(
        viewport={"width": 390, "height": 6000}, is_mobile=True, has_touch=True
    )
    try:
        small = new_tab(phone)
        small.goto(page.url.replace("/odd?", "/odd?lang=zh&"))  # Its sidebar starts closed.
        small.wait_for_selector("text=2. 它找得有多准", timeout=60_000)
        small.wait_for_function(
            "() => document.querySelectorAll('[data-testid=stImage] img').length === 44",
            timeout=30_000,
        )
        no_exceptions(small)
        small.screenshot(path=str(artifacts / "odd-390-zh.png"), full_page=True)
    finally:
        phone.close()
