"""Real-browser test: serve the app with `streamlit run` and open every page in Chromium."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

URL_PATHS = {
    "": "Autoencoder Lab",
    "train": "Train an autoencoder",
    "draw": "Draw a digit",
    "latent": "Explore the latent space",
    "compare": "Compare variants",
}

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def open_page(page, url: str) -> None:
    """Load a URL and wait until Streamlit has finished running the page's script."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)


@pytest.mark.parametrize("path", list(URL_PATHS))
def test_every_page_renders_in_chromium(app_server, page, artifacts, path):
    open_page(page, f"{app_server}/{path}")
    assert page.locator("h1").first.inner_text().strip() == URL_PATHS[path]
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.page_errors == []
    assert "Autoencoder Lab" in page.locator("[data-testid=stSidebar]").inner_text()
    page.screenshot(path=str(artifacts / f"page-{path or 'home'}.png"), full_page=True)


def test_sidebar_navigation_reaches_every_page(app_server, page):
    open_page(page, app_server)
    nav = page.locator("[data-testid=stSidebarNav]")
    for path, title in list(URL_PATHS.items())[1:]:
        nav.locator(f"a[href$='/{path}']").click()
        page.wait_for_url(f"**/{path}")
        page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
