"""Home shows the idea before it tells it: a test image through the shipped vanilla model,
with numbers computed independently here, following the session's dataset."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml import variants
from tests.support.pages import run_page

pytestmark = pytest.mark.slow  # AppTest runs the page with TensorFlow: seconds each.


def main_text(app) -> str:
    return " ".join(item.value for item in [*app.main.markdown, *app.main.caption])


def expected(dataset: str, label: int, nth: int) -> tuple[int, float]:
    """The code size and the reconstruction MSE of the nth test image of class `label`,
    computed from the shipped model and the raw test set, not through the page."""
    from core.ml import cards, data

    _, (x_test, y_test) = data.load(dataset)
    image = data.to_images(x_test[np.flatnonzero(y_test == label)[nth]][np.newaxis])
    model = cards.load_model("vanilla", dataset=dataset)
    code = np.asarray(model.encoder(image, training=False))
    output = np.asarray(model.decoder(code, training=False))
    return code.shape[-1], float(np.mean((output - image) ** 2))


def test_the_picked_digit_goes_through_the_model_with_its_real_numbers():
    app = run_page("pages/home.py")
    assert app.pills(key="home_pick").value == "0"
    app.pills(key="home_pick").set_value("7").run()
    size, mse = expected("mnist", 7, 0)
    text = main_text(app)
    assert "This 7 went in as 784 numbers" in text
    assert f"into the **code**: {size} numbers, {784 / size:.1f} times fewer" in text
    assert f"mean squared error of {mse:.4f} per pixel" in text
    # "Another 7" shows the next test image of that class, with its own error.
    app.button(key="home_another_button").click().run()
    _, second = expected("mnist", 7, 1)
    assert second != mse
    assert f"mean squared error of {second:.4f} per pixel" in main_text(app)
    assert app.button(key="home_another_button").label == "Another 7"


def test_home_speaks_of_garments_on_fashion_mnist():
    app = run_page("pages/home.py", dataset="fashion")
    assert app.pills(key="home_pick").options[:2] == ["T-shirt/top", "Trouser"]
    app.pills(key="home_pick").set_value("Sneaker").run()
    _, mse = expected("fashion", 7, 0)  # Sneaker is label 7.
    text = main_text(app)
    assert "This Sneaker went in" in text and f"error of {mse:.4f}" in text
    assert "garments have in common" in text
    assert "digit" not in text.lower()
    assert "Fashion-MNIST test set" in text and "MNIST is one switch away" in text
    links = [link.label for link in app.main.get("page_link")]
    assert "1. Reconstruct a garment" in links


def test_start_here_is_the_first_lesson_in_order_and_cards_say_it_plainly():

    app = run_page("pages/home.py")
    links = [link.label for link in app.main.get("page_link")]
    assert links[:4] == [
        "1. Draw a digit",
        "2. Train a model",
        "3. Race variants",
        "4. Explore the latent space",
    ]
    text = main_text(app)
    expanders = app.main.expander
    assert len(expanders) == len(variants.names())
    for name in variants.names():
        variant = variants.get(name)
        assert variant.idea in text
        # The maths is one click away: inside the card's "How it works".
        assert any(variant.summary in item.markdown[0].value for item in expanders)
