"""AppTest page tests of the race, the replay, the second dataset and the fair comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.lab.runs import start_race
from core.ml import data
from tests.support.pages import INSIDE_CONTENT, inside_header, page_alone, run_page
from ui import palette


def finish_race(store, student_id: int, racers, epochs: int = 2) -> list[int]:
    """A race queued as the page queues it, then ended as a worker ends each racer: per-epoch
    held-out MSE, samples, weights and test metrics."""
    from core.ml import variants

    ids = start_race(store, student_id, racers)
    for rank, run_id in enumerate(ids):
        run = store.run(run_id)
        store.claim(run_id, "test:0")
        model = variants.build(
            run.variant, variants.make_config(run.variant, **run.settings["model"])
        )
        for epoch in range(epochs + 1):
            store.add_epoch(
                run_id,
                epoch,
                {"val_mse": 0.1 / (epoch + 1) / (rank + 1)},
                np.zeros((8, 28, 28, 1), np.float32),
                model.get_weights(),
                epochs_done=epoch,
            )
        store.finish(
            run_id, "finished", metrics={"mse": 0.05 / (rank + 1), "code_size": 2 + rank * 30}
        )
    return ids


def test_race_page_shows_a_finished_race_with_curves_digits_and_results(lab_store):
    student_id, token = lab_store.new_student()
    racers = [
        ("vanilla", {"code_size": 2, "epochs": 2}),
        ("vanilla", {"code_size": 32, "epochs": 2}),
    ]
    ids = finish_race(lab_store, student_id, racers)
    app = page_alone("pages/race.py", token=token)
    assert app.title[0].value == "Race autoencoders"
    assert app.selectbox(key="race_pick").value == ids[0]
    text = " ".join(item.value for item in app.markdown)
    assert "**code 2**" in text and "**code 32**" in text
    assert text.count("finished, 2 epochs in") == 2 and "(s)" not in text
    assert len(app.get("vega_lite_chart")) == 1
    table = app.dataframe[0].value
    assert list(table["racer"]) == ["code 2", "code 32"]
    assert list(table["run"]) == ids
    # The racers have no test BCE: a dash in its cells, not the word "None".
    assert table["test BCE"].isna().all() and app.dataframe[0].proto.placeholder == "—"
    # Originals and each racer's eight reconstructions after the picked epoch.
    assert len(app.image) == 3


def test_the_race_page_shows_only_the_races_of_the_sessions_dataset(lab_store):
    student_id, token = lab_store.new_student()
    finish_race(lab_store, student_id, [("vanilla", {"epochs": 2}), ("deep", {"epochs": 2})])
    app = page_alone("pages/race.py", token=token, dataset="fashion")
    assert "race_pick" not in [box.key for box in app.selectbox]
    assert "Your races on Fashion-MNIST appear here." in [item.value for item in app.info]
    assert "race_pick" in [box.key for box in page_alone("pages/race.py", token=token).selectbox]


def test_racers_that_wait_for_a_slot_say_they_take_turns(lab_store):
    student_id, token = lab_store.new_student()
    ids = start_race(lab_store, student_id, [("vanilla", {}), ("deep", {})])
    lab_store.claim(ids[0], "test:0")  # One racer trains, the other waits its turn.
    app = page_alone("pages/race.py", token=token)
    text = " ".join(item.value for item in app.caption)
    assert "The racers take turns" in text
    for run_id in ids:
        lab_store.finish(run_id, "stopped")
    app = page_alone("pages/race.py", token=token)
    assert "take turns" not in " ".join(item.value for item in app.caption)


def test_the_default_race_and_what_it_was_measured_to_show(lab_store):
    from core.ml import cards, choices

    _, token = lab_store.new_student()
    app = page_alone("pages/race.py", token=token)
    assert app.multiselect(key="race_variants").value == ["vanilla", "deep", "linear"]
    assert app.select_slider(key="race_epochs").value == choices.DEFAULT_RACE["epochs"] == 10
    text = " ".join(item.value for item in app.caption)
    recorded = choices.DEFAULT_RACE_MSE
    assert recorded["vanilla"] < recorded["deep"] < recorded["linear"]
    assert (
        f"Vanilla {recorded['vanilla']:.4f}, Deep {recorded['deep']:.4f}, "
        f"Linear (PCA) {recorded['linear']:.4f} MSE per pixel"
    ) in text
    deep = cards.load_card("deep")
    assert f"Deep {deep['metrics']['mse']:.4f} after 100 epochs" in text


def test_race_form_offers_the_variants_settings_first(lab_store):
    _, token = lab_store.new_student()
    app = page_alone("pages/race.py", token=token, race_mode="One setting", variant="vae")
    setting = app.selectbox(key="race_setting_vae")
    assert setting.options[0] == "KL weight β"
    assert app.multiselect(key="race_values_vae_beta").value == [0.5, 1.0, 4.0]


@pytest.mark.slow  # Loads the Fashion-MNIST models.
def test_a_fashion_link_switches_the_pages_to_fashion_mnist():
    app = run_page("pages/train.py", dataset="fashion")
    assert "Fashion-MNIST" in app.markdown[0].value
    draw = run_page("pages/draw.py", dataset="fashion")
    assert draw.title[0].value == "Reconstruct a garment"
    assert draw.segmented_control(key="draw_source").options == ["Upload", "Test image"]
    assert "labelled" in " ".join(item.value for item in draw.caption)


def test_a_missing_dataset_says_how_to_get_it_and_keeps_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("AE_FASHION_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path / "cache"))
    from core.ml import data

    (tmp_path / "cache").mkdir()
    # MNIST's own cache must still be found: copy it into the empty cache folder.
    monkeypatch.delenv("AE_CACHE_DIR")
    mnist_cache = data.cache_dir() / data.CACHE_NAME
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path / "cache"))
    if mnist_cache.is_file():
        (tmp_path / "cache" / data.CACHE_NAME).write_bytes(mnist_cache.read_bytes())
    app = run_page("pages/home.py", dataset="fashion")
    warning = " ".join(item.value for item in app.sidebar.warning)
    assert "Fashion-MNIST is not installed" in warning and "dataset-fashion-mnist" in warning
    assert app.session_state["dataset"] == "mnist"


def test_compare_page_has_code_sizes_and_the_equal_code_size_table(stored_run):
    from core.ml import variants

    model = variants.build("deep", variants.make_config("deep"))
    token, _run = stored_run("deep", model, variants.make_config("deep"))
    app = page_alone("pages/compare.py", token=token)
    table = app.dataframe[0].value
    sizes = dict(zip(table["variant"], table["code size"], strict=True))
    assert sizes["Vanilla"] == 32 and sizes["Convolutional"] == 128 and sizes["Denoising"] == 1568
    assert sizes["Variational (VAE)"] == 2 and sizes["Sparse (KL)"] == 128
    assert app.segmented_control(key="fair_code_size").value == 32
    fair = app.dataframe[1].value
    assert set(fair["code size"]) == {32}
    assert {"Vanilla", "Deep", "Linear (PCA)", "Tied-weight stacked"} <= set(fair["variant"])
    assert list(fair["MSE per pixel"]) == sorted(fair["MSE per pixel"])
    # PCA has no parameters, epochs or BCE: those cells show a dash, not Streamlit's "None".
    assert table[table["variant"].str.startswith("PCA")].isna().any(axis=None)
    assert [frame.proto.placeholder for frame in app.dataframe] == ["—", "—"]


@pytest.mark.slow  # Decodes every replay frame.
@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_latent_page_replays_the_shipped_vae(dataset):
    app = run_page("pages/latent.py", variant="vae", dataset=dataset)
    assert "How the code forms" in [item.value for item in app.subheader]
    epochs = app.select_slider(
        key="replay_frame_shipped:vae" if dataset == "mnist" else "replay_frame_shipped:fashion/vae"
    )
    assert epochs.options[0] == "0" and len(epochs.options) > 10
    charts = app.get("vega_lite_chart")
    assert len(charts) == 1
    # Each class in the palette's colour, as on the pad's scatter above it.
    scale = json.loads(charts[0].proto.spec)["encoding"]["color"]["scale"]
    assert scale["range"] == list(palette.classes())
    assert scale["domain"] == list(data.get(dataset).labels)


@pytest.mark.parametrize(
    "section", ["Features", "Sparse codes", "Copying", "Contraction", "Linear and PCA"]
)
@pytest.mark.slow  # Every Fashion-MNIST model on its test set; MNIST's twin is fast.
def test_inside_sections_render_on_fashion(section):
    app = run_page("pages/inside.py", inside_section=section, dataset="fashion")
    assert app.header[0].value == inside_header(section, "fashion")
    assert "Fashion-MNIST" in app.main.get("markdown")[0].value  # Says whose models these are.
    for kind in INSIDE_CONTENT[section]:  # In the page itself, not the sidebar.
        assert len(getattr(app.main, kind)) > 0, f"{section} on Fashion-MNIST: no {kind}"
