"""AppTest smoke tests: every page of the navigation renders without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"

PAGES = {
    "pages/home.py": "Autoencoder Lab",
    "pages/train.py": "Train an autoencoder",
    "pages/draw.py": "Draw a digit",
    "pages/latent.py": "Explore the latent space",
    "pages/compare.py": "Compare variants",
}


def run_page(path: str) -> AppTest:
    """Run app.py, switch to one page and run it, as a click in the sidebar would."""
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    if path != "pages/home.py":
        app.switch_page(path)
        app.run()
    return app


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_without_exception(path):
    app = run_page(path)
    assert not app.exception, [item.value for item in app.exception]
    assert app.title[0].value == PAGES[path]


def test_sidebar_introduces_the_lab():
    # AppTest.switch_page renders only the page itself, so the sidebar is checked on the home
    # page here and on every page by the browser test.
    app = run_page("pages/home.py")
    assert "Autoencoder Lab" in app.sidebar.caption[0].value
