"""Every page on a dataset of one's own images. The sidebar's Dataset lists the student's
uploads and no one else's; the lab ships no model for them, so the pages made of shipped
models say where to go, and the others use the student's own runs on it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.images import bar_pngs
from tests.support.pages import captions, run_page


@pytest.fixture
def upload(lab_store, stored_run):
    """A student's labelled upload (bars, tall or wide; named with Markdown in it) with a
    finished vanilla run on it:
    (token, dataset name, the run's Keras model, its run)."""
    from core.ml import data, own_images, variants
    from core.store import Owner

    student, token = lab_store.new_student()
    items = [
        own_images.Item(name, "wide" if index % 2 else "tall", png)
        for index, (name, png) in enumerate(bar_pngs(120, 32))
    ]
    prepared = own_images.prepare(items, "resize", seed=0)
    name = data.own_name(lab_store.add_dataset(Owner(student_id=student), "my *bars*", prepared))
    model = variants.build("vanilla")
    model.build((None, 28, 28, 1))
    measured = {"bce": 0.3, "mse": 0.0456, "psnr_db": 13.4, "code_size": 32, "parameters": 50992}
    _, run = stored_run(
        "vanilla",
        model,
        variants.make_config("vanilla"),
        student=(student, token),
        dataset=name,
        metrics=measured,
    )
    return token, name, model, run


def sidebar_dataset(app):
    return next(box for box in app.sidebar.selectbox if box.label == "Dataset")


def texts(app) -> str:
    return " ".join(
        item.value for kind in ("info", "caption", "markdown") for item in app.get(kind)
    )


def test_the_sidebar_lists_a_students_upload_and_picks_its_newest_run(upload):
    token, name, _model, run = upload
    app = run_page("pages/home.py", token=token)
    box = sidebar_dataset(app)
    assert box.options == ["MNIST digits", "Fashion-MNIST", "my *bars*"]  # As typed.
    box.set_value(name).run()
    assert not app.exception
    assert app.query_params["data"] == name  # A reload or a shared link keeps it.
    # No shipped model on it: the sidebar's model is the student's newest run, not "Pretrained".
    model = next(box for box in app.sidebar.selectbox if box.label == "Model")
    assert model.value == run.id and "Pretrained (shipped)" not in model.options
    # Home is made of the shipped models: it says so and where the upload can be used.
    assert "the pages that use your own runs on it are Train, Race" in app.info[0].value


def test_an_uploads_link_opens_it_for_its_owner_only(lab_store, upload):
    token, name, _model, _run = upload
    _other, other_token = lab_store.new_student()
    for who, expected in ((token, name), (other_token, "mnist")):
        app = run_page("pages/compare.py", token=who, dataset=name)
        assert app.session_state["dataset"] == expected
    # The other student sees the lab's two only, and no one's dataset by name.
    assert "bars" not in texts(app)


def test_draw_reconstructs_a_test_image_of_the_upload_with_the_students_run(lab_store, upload):
    """The MSE Draw shows is the run's (Keras's model, computed here apart) on that image."""
    from core.ml import data

    token, name, model, _run = upload
    app = run_page("pages/draw.py", token=token, dataset=name, variant="vanilla", random_index=3)
    assert app.title[0].value == "Reconstruct a picture"
    arrays = lab_store.dataset_arrays(data.own_id(name))
    image = arrays["x_test"][3 % len(arrays["x_test"])].astype(np.float32)[None, ..., None] / 255
    expected = float(np.mean((model.predict(image, verbose=0) - image) ** 2))
    shown = next(item for item in app.metric if item.label == "MSE per pixel")
    assert float(shown.value) == pytest.approx(expected, abs=6e-5)
    assert any(item.value.startswith("Test image #3") for item in app.caption)
    # Its other runs, not the lab's pretrained ones, are what it is compared with.
    assert [item.value for item in app.subheader] == ["Your other runs on the same input"]
    # Noise and denoise needs a denoising run on it: the page says so, with the way to train.
    app.segmented_control(key="draw_mode").set_value("Noise and denoise").run()
    assert not app.exception
    assert "Train a Denoising run on it on the Train page first" in app.info[0].value


def test_compare_shows_the_students_runs_on_the_upload(upload):
    token, name, _model, run = upload
    app = run_page("pages/compare.py", token=token, dataset=name)
    table = app.dataframe[0].value
    assert list(table["variant"]) == [f"Vanilla (your run {run.id})"]
    assert list(table["MSE per pixel"]) == [0.0456]
    # The same test images, reconstructed by each of the student's runs on it.
    shown = captions(app)
    assert shown[0] == "Originals" and shown[1].startswith(f"Vanilla · Run {run.id}"), shown


@pytest.mark.parametrize("page", ["pages/latent.py", "pages/inside.py", "pages/race.py"])
def test_the_other_pages_on_an_upload_say_what_they_need(upload, page):
    token, name, _model, _run = upload
    app = run_page(page, token=token, dataset=name)
    said = texts(app)
    if page == "pages/latent.py":  # No VAE run on it yet.
        assert "Train a Variational (VAE) run on it on the Train page first" in said
    elif page == "pages/inside.py":
        assert "choose MNIST or Fashion-MNIST in the sidebar's Dataset" in said
    else:  # A race trains on it like any run: no shipped figures measured on MNIST beside it.
        assert "What the default race shows" not in said


def test_latent_explores_the_students_vae_run_on_the_upload(stored_run, upload):
    """With a VAE run on it, Latent decodes its 2-D code; its interpolation picks the upload's
    own test images (two classes here, then further images) and says a Deep run is missing."""
    from core.ml import variants

    token, name, _model, vanilla = upload
    model = variants.build("vae")
    model.build((None, 28, 28, 1))
    student = (vanilla.student_id, token)
    _, run = stored_run("vae", model, variants.make_config("vae"), student=student, dataset=name)
    app = run_page("pages/latent.py", token=token, dataset=name, variant="vae")
    assert any(f"Run {run.id}" in item.value for item in app.caption)  # "Your model: Run N ..."
    assert app.get("iframe"), "the latent pad"
    ends = app.selectbox(key="interp_from")
    assert ends.options[1:4] == ["Test picture tall", "Test picture wide", "Test picture #2"]
    assert "Train a Deep run on these images" in texts(app)


def test_train_on_the_upload_offers_every_variant(lab_store, upload):
    token, name, _model, _run = upload
    app = run_page("pages/train.py", token=token, dataset=name, variant="conv")
    assert not app.exception
    # The uploader's name, in Markdown, shown as typed: never as formatting.
    assert "Train a fresh **Convolutional** autoencoder on my \\*bars\\*" in app.markdown[0].value
    assert "No Convolutional run on my \\*bars\\* yet." in app.info[0].value
    # Its few images, all of them by default, with the epochs that make up for so few.
    from core.lab.classroom import Setup
    from core.ml import choices, data

    train_count = len(lab_store.dataset_arrays(data.own_id(name))["x_train"])
    # Fewer than 100: the one choice is all of them.
    assert train_count < 100 and not [w for w in app.select_slider if w.key == "subset_conv"]
    assert f"Training images: all {train_count} (the most allowed here)" in texts(app)
    expected = choices.scaled_to(choices.defaults("conv"), train_count, Setup().max_epochs)
    assert (
        app.slider(key="epochs_conv").value
        == expected["epochs"]
        > choices.defaults("conv")["epochs"]
    )
    race = run_page("pages/race.py", token=token, dataset=name)
    assert race.select_slider(key="race_subset").options == [f"all {train_count:,}"]


def test_the_dataset_stays_when_the_first_upload_turns_the_choice_into_a_list(lab_store):
    """Without uploads the choice is two buttons, with one a select box: a new widget, which
    would start on MNIST. A student on Fashion-MNIST who keeps their first upload stays there."""
    from core.ml import own_images
    from core.store import Owner

    student, token = lab_store.new_student()
    app = run_page("pages/compare.py", token=token, dataset="fashion")
    assert app.sidebar.segmented_control[0].value == "fashion"
    prepared = own_images.prepare(own_images.read_upload(bar_pngs(110, 24)), "resize", seed=0)
    lab_store.add_dataset(Owner(student_id=student), "bars", prepared)
    app.run()
    assert sidebar_dataset(app).value == "fashion"
    assert app.query_params["data"] == "fashion"
