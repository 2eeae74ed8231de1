"""Running the app's pages under Streamlit's AppTest, as the app tests do."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"

PAGES = {
    "pages/home.py": "Autoencoder Lab",
    "pages/train.py": "Train an autoencoder",
    "pages/race.py": "Race autoencoders",
    "pages/draw.py": "Draw a digit",
    "pages/latent.py": "Explore the latent space",
    "pages/inside.py": "Inside the autoencoder",
    "pages/compare.py": "Compare variants",
}

INSIDE_SECTIONS = {
    "Features": "Features: what the first layer looks for",
    "Sparse codes": "Sparse codes: most units off for any one digit",
    "Copying": "Undercomplete versus overcomplete: learning, or copying?",
    "Contraction": "Contraction: a code that ignores small changes",
    "Linear and PCA": "The linear autoencoder and PCA",
    "Few labels": "Pretraining with few labels",
}

# What each Inside section must show besides its header (AppTest's element lists by name):
# each a list that is empty when the section failed to draw its figures.
INSIDE_CONTENT = {
    "Features": ("image",),
    "Sparse codes": ("metric",),
    "Copying": ("image", "dataframe"),
    "Contraction": ("dataframe",),
    "Linear and PCA": ("image",),
    "Few labels": ("info",),  # Its "press Run" prompt: nothing is computed before.
}


def run_page(path: str, token: str | None = None, **state) -> AppTest:
    """Run app.py, switch to one page and run it, as a click in the sidebar would; `token`
    opens the page with a student's link."""
    app = AppTest.from_file(str(APP), default_timeout=120)
    if token is not None:
        app.query_params["me"] = token
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    if path != "pages/home.py":
        app.switch_page(path)
        app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def page_alone(path: str, token: str | None = None, **state) -> AppTest:
    """A page run as its own script. Needed for buttons: after `switch_page`, AppTest drops
    a button's click (the same buttons work in the browser tests)."""
    app = AppTest.from_file(str(APP.parent / path), default_timeout=120)
    if token is not None:
        app.query_params["me"] = token
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def image_urls(app: AppTest) -> list[str]:
    """Media URLs of the page's images; they are content hashes, so new pixels give new URLs."""
    return [image.proto.imgs[0].url for image in app.image]


def captions(app: AppTest) -> list[str]:
    return [image.proto.imgs[0].caption for image in app.image]
