"""The conditional VAE on its pages: Latent draws the class chosen in the style of the sliders,
and every class in that style; Draw draws the input as the class chosen, and names the class
and style the served encoder finds in it (checked against the served model here)."""

from __future__ import annotations

import pytest

from tests.support.pages import captions, image_urls, run_page

pytestmark = pytest.mark.slow  # AppTest runs the pages with the shipped models: seconds each.


def texts(app) -> str:
    return " ".join(item.value for item in [*app.main.markdown, *app.main.caption])


def test_latent_draws_the_chosen_class_in_the_chosen_style():
    app = run_page("pages/latent.py", variant="cvae")
    assert "only holds the rest: the style" in texts(app)
    assert "0 at z = (0.0, 0.0)" in captions(app)
    before = image_urls(app)
    app.pills(key="cvae_class_mnist").set_value(7).run()
    app.slider(key="cvae_z1").set_value(1.5).run()
    assert not app.exception
    assert "7 at z = (1.5, 0.0)" in captions(app)
    assert "7 across the style plane (z₁, z₂ from -2 to 2)" in captions(app)
    assert any(c.startswith("Every class in this style: 0, 1, 2") for c in captions(app))
    after = image_urls(app)
    assert after[0] != before[0]  # Another class and style: other pixels.
    # The VAE's explorer and its interpolation are not this page's.
    assert not [c for c in captions(app) if "Deep autoencoder" in c]


def test_draw_shows_the_input_as_another_class():
    from core.ml import served, training

    app = run_page("pages/draw.py", draw_source="Test digit", random_index=0, variant="cvae")
    assert "Your digit as another digit" in [h.value for h in app.main.subheader]
    app.pills(key="draw_as_class_mnist").set_value(3).run()
    assert not app.exception
    assert "As 3" in captions(app)
    shown = [
        c.value for c in app.main.caption if c.value.startswith("The classifier head read your")
    ]
    assert len(shown) == 1
    # The class and style in the sentence are the served encoder's for test image #0, and
    # "As 3" is the decoder's 3 in that style.
    model = served.load_shipped("cvae")
    image = training.load_splits().x_test[:1]
    code = model.encode(image)[0]
    assert f"read your digit as {int(code[2:].argmax())};" in shown[0]
    assert f"z = ({code[0]:.2f}, {code[1]:.2f})" in shown[0]
