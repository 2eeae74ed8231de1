"""Every page follows the session's choices (issue 27, item 4): with Fashion-MNIST chosen, no
visible text of the main column speaks of digits (except a few sentences about MNIST on
purpose), the same page on MNIST still does, and what shows a variant's model names the
variant chosen in the sidebar."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from google.protobuf.message import Message

from core.ml import variants
from tests.support.pages import PAGES, VIEWS, run_page

# Sentences about MNIST on purpose, shown whatever the dataset: each must name MNIST.
ABOUT_MNIST = (
    "MNIST is one switch away",
    "measured on MNIST's held-out digits",
    # Odd one out's leave-one-digit-out table and its sentences: MNIST's on every dataset.
    "MNIST, every digit left out in turn",
    "odd MNIST digit",
    "Measured here on MNIST",
    "MNIST's 1s are the clearest trap",
    "On MNIST, the area under the ROC curve",
    "on MNIST's training images without the digit",
    "In Tonnaer's measurements on MNIST",
)

DIGITS = re.compile(r"digit|handwrit", re.IGNORECASE)

# Proto fields that hold no words a reader sees (ids, links, formats, the pad's code).
HIDDEN = {
    "id",
    "form_id",
    "url",
    "key",
    "src",
    "tag",
    "icon",
    "page",
    "page_script_hash",
    "format",
    "type",
    "srcdoc",
    "default",
}


class _Visible(HTMLParser):
    """The words an HTML document shows: its text outside scripts and styles, and the
    labels it gives to screen readers."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        self._hidden += tag in ("script", "style")
        self.words += [value for name, value in attrs if name in ("aria-label", "title") and value]

    def handle_endtag(self, tag) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data) -> None:
        if not self._hidden and data.strip():
            self.words.append(data.strip())


def _strings(message: Message, out: list[str]) -> None:
    for field, value in message.ListFields():
        if field.name == "srcdoc":  # An iframe's document: only what it shows.
            parser = _Visible()
            parser.feed(value)
            out.extend(parser.words)
            continue
        if field.name in HIDDEN:
            continue
        if isinstance(value, (bool, int, float, bytes)):
            continue
        items = [value] if isinstance(value, (str, Message)) else list(value)
        for item in items:
            if isinstance(item, Message):
                _strings(item, out)
            elif isinstance(item, str):
                out.append(item)


def visible_texts(app) -> list[str]:
    """Every text of the main column: titles, headers, markdown, captions, alerts, widget
    labels, options and help, image captions, table column names, chart specs (titles)."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            _strings(proto, out)
        if getattr(node, "type", None) in ("arrow_data_frame", "dataframe", "table"):
            out.extend(str(column) for column in node.value.columns)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(app.main)
    return out


def sentences(texts: list[str]) -> list[str]:
    return [part for text in texts for part in re.split(r"(?<=[.!?])\s+|\n+", text)]


def about_digits(texts: list[str]) -> list[str]:
    """The sentences that speak of digits, but for those about MNIST on purpose."""
    return [
        sentence
        for sentence in sentences(texts)
        if DIGITS.search(sentence) and not any(phrase in sentence for phrase in ABOUT_MNIST)
    ]


def view_id(state: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in state.items()) or "default"


@pytest.mark.slow  # Every page, in every view, on both datasets.
@pytest.mark.parametrize("path", list(PAGES))
def test_a_page_on_fashion_speaks_of_garments_and_on_mnist_of_digits(path):
    assert set(VIEWS) == set(PAGES), "a new page needs its views here"
    found = {}
    for state in VIEWS[path]:
        app = run_page(path, dataset="fashion", **state)
        found[view_id(state)] = about_digits(visible_texts(app))
    assert not any(found.values()), {view: lines for view, lines in found.items() if lines}

    if path == "pages/images.py":
        return  # Your images speaks of one's own images, whatever the session's dataset.
    # The same page on MNIST still says digits: the texts follow the dataset, not lost it.
    mnist = [text for state in VIEWS[path] for text in visible_texts(run_page(path, **state))]
    assert any(DIGITS.search(text) for text in mnist), f"{path} on MNIST never says digit"


@pytest.mark.parametrize("variant", ["conv", "vae"])
def test_the_pages_that_show_a_variants_model_show_the_chosen_one(variant):
    title = variants.get(variant).title
    draw = run_page(
        "pages/draw.py",
        dataset="fashion",
        variant=variant,
        draw_source="Test digit",
        random_index=0,
    )
    captions = [image.proto.imgs[0].caption for image in draw.main.get("image")]
    assert captions[1] == f"{title} reconstruction", captions

    train = run_page("pages/train.py", dataset="fashion", variant=variant)
    assert f"**{title}**" in train.main.get("markdown")[0].value
    assert f"No {title} run on Fashion-MNIST yet" in train.main.get("info")[0].value

    inside = run_page("pages/inside.py", dataset="fashion", variant=variant)
    assert inside.selectbox(key="inside_features_variant").value == variant
    assert not about_digits(visible_texts(inside))


def test_an_input_drawn_for_one_dataset_is_not_offered_to_the_others_models():
    drawn = {"last_drawing": np.zeros((28, 28), np.float32), "last_drawing_data": "mnist"}
    inside = run_page("pages/inside.py", dataset="fashion", inside_section="Contraction", **drawn)
    assert inside.selectbox(key="inside_contraction_digit").options[0] == "Test garment T-shirt/top"
    latent = run_page("pages/latent.py", dataset="fashion", **drawn)
    assert latent.selectbox(key="interp_from").options[0] == "My last image on Draw"
    latent.selectbox(key="interp_from").set_value("My last image on Draw").run()
    assert "Reconstruct an image on the Draw page first" in latent.main.get("info")[0].value

    mnist = run_page("pages/inside.py", inside_section="Contraction", **drawn)
    assert mnist.selectbox(key="inside_contraction_digit").options[0] == "My last drawing"


def test_the_train_pages_defaults_follow_the_dataset():
    """The VAE starts at 2e-3 on Fashion-MNIST (5e-3 diverged there) and at 5e-3 on MNIST,
    and switching the dataset moves an untouched slider to the new default."""
    app = run_page("pages/train.py", dataset="fashion", variant="vae")
    assert app.select_slider(key="learning_rate_vae").value == 2e-3
    app.session_state["dataset"] = "mnist"
    app.run()
    assert not app.exception
    assert app.select_slider(key="learning_rate_vae").value == 5e-3
