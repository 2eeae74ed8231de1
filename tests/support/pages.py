"""Running the app's pages under Streamlit's AppTest, as the app tests do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
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
    "pages/odd.py": "Odd one out",
    "pages/images.py": "Your own images",
}

FIXED_HEADERS = {
    "Features": "Features: what the first layer looks for",
    "Sparse codes": None,  # Measured: see `sparse_headline`.
    "Copying": "Undercomplete versus overcomplete: learning, or copying?",
    "Contraction": "Contraction: a code that ignores small changes",
    "Linear and PCA": "The linear autoencoder and PCA",
    "Few labels": "Pretraining with few labels",
    "Codebook": "Codebook: the VQ-VAE's dictionary",
}


@cache
def sparse_headline(dataset: str = "mnist") -> str:
    """The sparse-codes header the Inside page must show: ui.words.sparse_headline of the
    shipped models' measured shares of code values near zero (vanilla without a penalty,
    then the L1 and the KL models), measured here from the Keras models the page's served
    ones were exported from."""
    from core.ml import cards, data, few_labels, inside
    from ui import words

    _, (x_test, _) = data.load(dataset)
    images = data.to_images(x_test)
    shares = [
        inside.sparsity(few_labels.codes(cards.load_model(name, dataset=dataset), images)).near_zero
        for name in ("vanilla", "sparse_l1", "sparse_kl")
    ]
    return words.sparse_headline(shares[1:], shares[0], data.get(dataset).noun)


# The states each page is looked at in: every section of Inside, each input and mode of Draw
# (the dataset sweep and the no-TensorFlow visit).
VIEWS = {
    "pages/home.py": [{}],
    "pages/train.py": [{}],
    "pages/race.py": [{}],
    "pages/draw.py": [
        {"draw_source": "Test digit", "random_index": 0},
        {"draw_source": "Test digit", "random_index": 0, "draw_mode": "Noise and denoise"},
        {"draw_source": "Upload"},
    ],
    "pages/latent.py": [{}],
    "pages/inside.py": [{"inside_section": section} for section in FIXED_HEADERS],
    "pages/compare.py": [{}],
    "pages/odd.py": [{}],
    "pages/images.py": [{}],
}


def inside_header(section: str, dataset: str = "mnist") -> str:
    return FIXED_HEADERS[section] or sparse_headline(dataset)


class _Headers(Mapping):
    """Each Inside section's header on MNIST. The sparse-codes one is computed on first use
    only: it encodes the test set with three models."""

    def __getitem__(self, section: str) -> str:
        return inside_header(section)

    def __iter__(self) -> Iterator[str]:
        return iter(FIXED_HEADERS)

    def __len__(self) -> int:
        return len(FIXED_HEADERS)


INSIDE_SECTIONS = _Headers()

# What each Inside section must show besides its header (AppTest's element lists by name):
# each a list that is empty when the section failed to draw its figures.
INSIDE_CONTENT = {
    "Features": ("image",),
    "Sparse codes": ("metric",),
    "Copying": ("image", "dataframe"),
    "Contraction": ("dataframe",),
    "Linear and PCA": ("image",),
    "Few labels": ("info",),  # Its "press Run" prompt: nothing is computed before.
    "Codebook": ("image", "metric"),
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
