"""The language switch in Chromium: a link with ?lang=zh opens in Chinese, the sidebar's switch
turns the same page to English, the choice is kept in the URL, across a page change through
the sidebar's navigation and a reload, and back to Chinese again."""

from __future__ import annotations

import re

import pytest

from tests.support.browser import idle, no_exceptions, open_page
from tests.support.servers import new_tab

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HAN = re.compile(r"[\u4e00-\u9fff]")


def heading(page) -> str:
    return page.locator("h1").first.inner_text()


def test_the_switch_turns_the_page_and_the_choice_follows_the_reader(
    browser, app_server, artifacts
):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = new_tab(context)
        open_page(page, f"{app_server}/train?lang=zh")
        chinese_title = heading(page)
        assert HAN.search(chinese_title), chinese_title
        page.screenshot(path=str(artifacts / "language-train-zh.png"))

        page.locator("[data-testid=stSidebar]").get_by_role("radio", name="English").click()
        page.wait_for_function("() => document.querySelector('h1').innerText.startsWith('Train')")
        # The new heading proves the rerun came; wait for the app to be idle, not for a run
        # seen to start (a fast one can end between two looks: it timed out once in CI).
        idle(page)
        assert heading(page) == "Train an autoencoder"
        assert "lang=en" in page.url

        page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Draw").click()
        page.wait_for_url(re.compile(r"/draw\?"))
        page.wait_for_function("() => document.querySelector('h1')?.innerText === 'Draw a digit'")
        assert "lang=en" in page.url

        page.locator("[data-testid=stSidebar]").get_by_role("radio", name="中文").click()
        page.wait_for_function(
            "() => /[\\u4e00-\\u9fff]/.test(document.querySelector('h1').innerText)"
        )
        idle(page)
        assert "lang=zh" in page.url
        page.reload()
        page.wait_for_selector("h1", timeout=60_000)
        page.wait_for_function(
            "() => /[\\u4e00-\\u9fff]/.test(document.querySelector('h1').innerText)"
        )
        nav = page.locator("[data-testid=stSidebarNav]").inner_text()
        assert HAN.search(nav) and "Draw" not in nav, nav  # The navigation's titles too.
        no_exceptions(page)
        page.screenshot(path=str(artifacts / "language-draw-zh.png"))
    finally:
        context.close()
