"""AppTest page tests: every page renders, its key widgets exist, and they do what they say."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.ml import variants
from tests.support.pages import (
    APP,
    INSIDE_CONTENT,
    INSIDE_SECTIONS,
    PAGES,
    captions,
    image_urls,
    page_alone,
    run_page,
)


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_without_exception(path):
    app = run_page(path)
    assert app.title[0].value == PAGES[path]


def test_sidebar_has_variant_picker_source_and_explanation():
    # AppTest.switch_page renders only the page itself, so the sidebar is checked on the home
    # page here and on every page by the browser test.
    app = run_page("pages/home.py")
    picker = app.sidebar.selectbox(key="variant")
    # The value is the variant's name, the options are what the reader sees: their titles.
    assert picker.value == "vanilla"
    assert "Tied-weight stacked" in picker.options and "tied" not in picker.options
    assert app.sidebar.selectbox(key="model_choice").value == "pretrained"
    assert "Autoencoder Lab" in app.sidebar.caption[-1].value


def test_url_parameter_selects_the_variant():
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["variant"] = "conv"
    app.run()
    assert app.sidebar.selectbox(key="variant").value == "conv"
    assert not app.sidebar.warning


def test_unknown_url_variant_gets_a_message_not_a_traceback():
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["variant"] = "<script>alert(1)</script>"
    app.run()
    assert not app.exception
    assert app.sidebar.selectbox(key="variant").value == "vanilla"
    assert "does not have" in app.sidebar.warning[0].value
    assert "<script>" not in app.sidebar.warning[0].value


def test_home_lists_every_variant_with_card_metrics():
    app = run_page("pages/home.py")
    text = " ".join(item.value for item in app.markdown)
    for title in ("Vanilla", "Deep", "Convolutional", "Denoising", "Variational (VAE)"):
        assert title in text
    captions = " ".join(item.value for item in app.main.caption)
    assert captions.count("Test: ") == len(variants.names())


def pad(app: AppTest) -> dict:
    """The data the latent pad carries to the browser (see ui.latent_pad)."""
    from ui.latent_pad import payload

    frames = app.get("iframe")
    assert len(frames) == 1
    return payload(frames[0].proto.srcdoc)


def test_latent_pad_carries_the_shown_vae_decoder_and_its_pictures():
    import base64

    from core.ml import cards

    data = pad(run_page("pages/latent.py", variant="vae"))
    decoder = cards.load_model("vae").decoder
    dense = [layer for layer in decoder.layers if layer.__class__.__name__ == "Dense"]
    assert len(data["layers"]) == len(dense) == 3
    for sent, layer in zip(data["layers"], dense, strict=True):
        kernel = np.frombuffer(base64.b64decode(sent["kernel"]), "<f2")
        expected = layer.get_weights()[0]
        np.testing.assert_allclose(kernel.reshape(expected.shape), expected, atol=4e-3, rtol=1e-3)
    assert data["manifold"].startswith("data:image/jpeg;base64,")
    assert data["scatter"].startswith("data:image/jpeg;base64,")
    assert len(data["quantiles"]) == 15 and data["ring"] is None


def test_latent_pad_runs_the_students_own_vae_when_chosen(stored_run):
    from core.ml.variants import vae

    config = vae.VAEConfig(hidden=[128, 64])  # Not the shipped 512-256 shape.
    token, run = stored_run("vae", vae.build(config), config)
    data = pad(run_page("pages/latent.py", token=token, variant="vae", model_choice=run.id))
    assert [(layer["rows"], layer["columns"]) for layer in data["layers"]] == [
        (2, 64),
        (64, 128),
        (128, 784),
    ]


@pytest.mark.slow  # Builds two models, renders twice.
def test_two_vaes_trained_one_after_the_other_each_get_their_own_decoder(stored_run):
    # The old caches keyed on id(model): CPython reuses a freed model's address, so a second
    # model could be shown the first one's decoder. Keys are now the run and its epoch.
    import base64
    import gc

    from core.ml.variants import vae

    config = vae.VAEConfig(hidden=[64, 32])
    student = None
    sent = []
    for seed in (1, 2):
        import keras

        keras.utils.set_random_seed(seed)
        model = vae.build(config)
        token, run = stored_run("vae", model, config, student=student)
        student = student or (run.student_id, token)
        data = pad(run_page("pages/latent.py", token=token, variant="vae", model_choice=run.id))
        kernel = np.frombuffer(base64.b64decode(data["layers"][0]["kernel"]), "<f2")
        expected = model.decoder.layers[1].get_weights()[0]
        np.testing.assert_allclose(kernel.reshape(expected.shape), expected, atol=4e-3, rtol=1e-3)
        sent.append(kernel)
        del model
        gc.collect()  # Frees the first model, so the second may land at its address.
    assert not np.allclose(sent[0], sent[1])


def query(app: AppTest, name: str) -> str:
    value = app.query_params[name]
    return value[0] if isinstance(value, list) else value


def test_a_rerun_with_the_same_link_keeps_the_students_runs(stored_run):

    config = variants.make_config("vanilla")
    token, run = stored_run("vanilla", variants.build("vanilla"), config)
    for _ in range(2):  # A reload is a new session with the same link.
        app = page_alone("pages/train.py", token=token)
        assert query(app, "me") == token
        assert f"Run {run.id}: Vanilla" in [header.value for header in app.subheader]
        assert "run" in app.dataframe[0].value.columns
        assert list(app.dataframe[0].value["run"]) == [run.id]


def test_an_unknown_link_gets_no_student_and_is_never_echoed():
    # A page view writes no student row (issue 25): the visitor gets a link when they first
    # train, race or ask for it; tests/app/test_pages_integrity.py counts the rows.
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["me"] = "<b>stolen-or-made-up</b>"
    app.run()
    assert not app.exception
    assert "me" not in app.query_params
    # Told in the main column, where the eye is (it sat below the sidebar's fold), once.
    shown = " ".join(item.value for item in app.main.info)
    assert "not known here" in shown and "stolen" not in shown
    assert "not known here" not in " ".join(item.value for item in app.sidebar.info)
    app.run()
    assert not [item for item in app.main.info if "not known here" in item.value]


def test_joining_a_class_says_where_and_who_you_are_and_the_challenges_in_the_main_column(
    lab_store,
):
    from core.lab import classroom
    from ui.words import plain

    _, key = classroom.create_class(lab_store, "Lesson <3>")
    classroom.add_challenge(lab_store, key, classroom.Challenge(title="Best *BCE*", metric="bce"))
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["class"] = classroom.class_code(key)
    app.run()
    assert not app.exception
    notice = " ".join(item.value for item in app.main.success)
    me = app.session_state["student"]
    nickname = classroom.student_class(lab_store, me.id)[1].nickname
    # The teacher's text is shown escaped: as typed, never as Markdown or HTML.
    assert f"You joined **{plain('Lesson <3>')}** as **{plain(nickname)}**" in notice
    assert f"**{plain('Best *BCE*')}** (" in notice
    assert "Your teacher's challenges" in notice
    app.run()  # Once: the sidebar keeps the class line.
    assert not app.main.success
    assert nickname in " ".join(item.value for item in app.sidebar.caption)


def test_an_unknown_class_link_is_told_in_the_main_column():
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["class"] = "no-such-class-code"
    app.run()
    assert not app.exception
    assert "class link you opened is not known" in " ".join(w.value for w in app.main.warning)


def test_latent_pad_rings_the_last_drawing_where_the_encoder_puts_it():
    from core.ml import cards

    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0  # A plain "1".
    data = pad(run_page("pages/latent.py", variant="vae", last_drawing=digit))
    z_mean, _ = cards.load_model("vae").encoder(digit[None, ..., None], training=False)
    np.testing.assert_allclose(data["ring"], np.asarray(z_mean)[0], atol=0.006)  # Rounded.


def test_latent_interpolation_strips_for_vae_and_plain():
    app = run_page("pages/latent.py")
    assert any("Variational autoencoder" in text for text in captions(app))
    assert any("Deep autoencoder" in text for text in captions(app))


def test_draw_page_with_a_test_digit_reconstructs_with_the_chosen_variant():
    app = run_page("pages/draw.py", draw_source="Test digit", random_index=0)
    assert "Vanilla reconstruction" in captions(app)
    assert len([c for c in captions(app) if "MSE" in c]) == len(variants.names())  # Below.
    app = run_page("pages/draw.py", draw_source="Test digit", random_index=0, variant="deep")
    assert "Deep reconstruction" in captions(app)


def test_draw_page_blank_canvas_shows_a_hint():
    app = run_page("pages/draw.py")
    # The canvas returns no image under AppTest, exactly like an untouched canvas.
    assert "Draw a digit on the canvas" in app.info[0].value


def test_draw_noise_mode_shows_noisy_denoised_plain_and_clean():
    app = run_page(
        "pages/draw.py", draw_source="Test digit", random_index=3, draw_mode="Noise and denoise"
    )
    texts = captions(app)
    assert any(t.startswith("Noisy input · PSNR") for t in texts)
    assert any(t.startswith("Denoising autoencoder · PSNR") for t in texts)
    assert any(t.startswith("Plain convolutional · PSNR") for t in texts)
    app.selectbox(key="noise_kind").set_value("masking").run()
    assert not app.exception


def test_the_train_panel_follows_the_sidebars_variant_and_dataset(stored_run):

    config = variants.make_config("vanilla")
    token, run = stored_run("vanilla", variants.build("vanilla"), config)
    app = page_alone("pages/train.py", token=token)
    assert f"Run {run.id}: Vanilla" in [header.value for header in app.subheader]
    # The VAE chosen in the sidebar: not the vanilla run's panel (nor its code download).
    app = page_alone("pages/train.py", token=token, variant="vae")
    assert not [header.value for header in app.subheader if header.value.startswith("Run ")]
    assert "No Variational (VAE) run on MNIST digits yet" in app.info[0].value
    assert not app.get("download_button")
    # Its live defaults need more epochs than others': the page says so, with the figures.
    notes = " ".join(item.value for item in app.caption)
    assert "Ten epochs to start with" in notes and "72%" in notes
    assert app.slider(key="epochs_vae").value == 10
    # Fashion-MNIST chosen: garments, and the table says which dataset each run used.
    app = page_alone("pages/train.py", token=token, dataset="fashion")
    assert not [header.value for header in app.subheader if header.value.startswith("Run ")]
    assert "Eight fixed test garments, the same on every run" in [c.value for c in app.caption]
    table = app.dataframe[0].value
    assert list(table["dataset"]) == ["MNIST digits"]
    assert not table["settings"].str.contains("MNIST").any()


def test_train_page_has_the_settings_of_each_variant():
    app = run_page("pages/train.py")
    labels = {slider.label for slider in app.slider} | {s.label for s in app.select_slider}
    assert {"Epochs", "Batch size", "Learning rate", "Training images", "Code size"} <= labels
    app = run_page("pages/train.py", variant="sparse_kl")
    labels = {slider.label for slider in app.slider} | {s.label for s in app.select_slider}
    assert {"Target activation ρ", "Sparsity weight β"} <= labels
    app = run_page("pages/train.py", variant="denoising")
    assert app.selectbox(key="noise_kind_denoising").value == "gaussian"
    assert app.select_slider(key="noise_level_denoising").value == 0.5


def test_compare_page_table_and_grid():
    app = run_page("pages/compare.py")
    table = app.dataframe[0].value
    assert len(table) == len(variants.names()) + 1  # And PCA.
    assert any(str(name).startswith("PCA") for name in table["variant"])
    assert len(app.image) == len(variants.names()) + 1  # Originals and one strip per variant.


# Every model of each section on the test set (Features renders in the fast page test).
@pytest.mark.slow
@pytest.mark.parametrize("section", list(INSIDE_SECTIONS))
def test_inside_page_sections_render(section):
    app = run_page("pages/inside.py", inside_section=section)
    assert app.header[0].value == INSIDE_SECTIONS[section]
    for kind in INSIDE_CONTENT[section]:  # In the page itself, not the sidebar.
        assert len(getattr(app.main, kind)) > 0, f"{section}: no {kind}"


def test_inside_features_follow_the_chosen_variant_and_unit():
    app = run_page("pages/inside.py", inside_section="Features", variant="conv")
    assert app.selectbox(key="inside_features_variant").value == "conv"
    assert "first convolution" in app.image[0].proto.imgs[0].caption
    before = image_urls(app)[1]
    app.slider(key="inside_unit_conv").set_value(7).run()
    assert not app.exception and image_urls(app)[1] != before


def test_inside_contraction_table_has_each_model_and_the_penalty_shows():
    app = run_page("pages/inside.py", inside_section="Contraction")
    table = app.dataframe[0].value.set_index("model")
    jacobian = table["‖J‖² at this digit"]
    assert jacobian["Contractive"] < jacobian["Contractive without penalty"]


@pytest.mark.slow  # Trains three classifiers.
def test_inside_few_labels_runs_and_tabulates():
    app = page_alone("pages/inside.py", inside_section="Few labels")
    assert "press Run" in app.info[0].value
    app.segmented_control(key="inside_labels").set_value(10)
    app.button(key="inside_run").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert {"raw pixels", "frozen encoder", "fine-tuned encoder"} <= set(table.columns)
    assert all(0.0 <= v <= 1.0 for v in table["frozen encoder"])
