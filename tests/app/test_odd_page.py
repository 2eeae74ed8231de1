"""The Odd one out page: its numbers against an independent computation with Keras, its
refusals, and the run it starts."""

from __future__ import annotations

import numpy as np

from core.ml import odd_one_out
from tests.support.images import bar_pngs
from tests.support.pages import page_alone


def keras_errors(model, images):
    """Each test image's MSE under the Keras model itself (the page runs its ONNX export)."""
    reconstructions = np.concatenate(
        [np.asarray(model(images[start : start + 1000], training=False))
         for start in range(0, len(images), 1000)]
    )  # fmt: skip
    return ((images - reconstructions) ** 2).reshape(len(images), -1).mean(axis=1)


def texts(app) -> str:
    return " ".join(item.value for item in app.markdown)


def test_a_run_without_the_0s_is_scored_as_keras_scores_it(stored_run):
    from core.ml import cards, data, variants

    model = cards.load_model("vanilla")  # The shipped weights, stored as a run leaving out 0.
    token, run = stored_run("vanilla", model, variants.make_config("vanilla"), odd=[0])
    app = page_alone("pages/odd.py", token=token)
    assert [item.value for item in app.subheader][:3] == [
        "1. Choose what is normal",
        "2. How well it finds them",
        "3. The traps",
    ]
    _, (x_test, y_test) = data.load("mnist")
    errors = keras_errors(model, data.to_images(x_test))
    odd = y_test == 0
    # The definition of the area, pair by pair, on Keras's errors.
    pairs = errors[odd][:, None] - errors[~odd][None, :]
    area = float(((pairs > 0) + 0.5 * (pairs == 0)).mean())
    assert f"The area under the ROC curve is **{area:.3f}**" in texts(app)
    # The threshold starts where 5% of the normal images are flagged, and the counts agree.
    threshold = app.select_slider(key=f"odd_threshold_{run.id}").value
    start = np.quantile(errors[~odd], 0.95)
    assert abs(threshold - start) / start < 0.03
    caught, alarms = int((errors[odd] >= threshold).sum()), int((errors[~odd] >= threshold).sum())
    verdict = next(item.value for item in app.markdown if item.value.startswith("At "))
    # ONNX and Keras may differ in the last float bits: an image at the threshold may flip.
    found = [int(part.replace(",", "")) for part in verdict.split("**")[1].split()[:3:2]]
    assert abs(found[0] - caught) <= 2 and found[1] == int(odd.sum())
    assert f"of {int((~odd).sum()):,} normal images flagged" in verdict
    assert abs(int(verdict.split("**")[3].split()[0].replace(",", "")) - alarms) <= 2
    # The traps: the three probes, each with its own error under the model.
    for name, image in odd_one_out.probes().items():
        error = float(((np.asarray(model(image, training=False)) - image) ** 2).mean())
        assert f"error {error:.4f}" in texts(app), name
    # The student's runs with the same odd ones, with their area.
    table = app.dataframe[0].value
    assert list(table["run"]) == [run.id] and list(table["code size"]) == [32]
    assert abs(table["area under the ROC curve"][0] - area) < 0.002


def test_the_table_shows_the_published_figures_beside_the_measured_ones():
    app = page_alone("pages/odd.py")
    table = app.dataframe[-1].value
    assert list(table["odd MNIST digit"]) == [str(digit) for digit in range(10)]
    assert list(table["Tonnaer 2-D"]) == list(odd_one_out.TONNAER[2])
    assert list(table["Tonnaer 32-D"]) == list(odd_one_out.TONNAER[32])
    measured = table[["VAE 2-D, error", "VAE 2-D, −ELBO", "VAE 32-D, error", "VAE 32-D, −ELBO"]]
    assert measured.notna().all().all() and ((measured > 0) & (measured < 1)).all().all()
    # Its sentence counts the digits where the small code found the odd one better.
    better = int((table["VAE 2-D, −ELBO"] > table["VAE 32-D, −ELBO"]).sum())
    assert f"for {better} of the 10 digits measured with both" in texts(app)
    ones = table["VAE 32-D, −ELBO"][1]
    assert f"the left-out 1s score **{ones:.2f}** here and 0.09 published" in texts(app)


def test_training_leaves_the_chosen_labels_out_and_a_forged_choice_is_refused(lab_store):
    app = page_alone("pages/odd.py")
    assert app.info[0].value.startswith("Your odd-one-out runs on MNIST digits appear here")
    app.session_state["odd_labels_mnist"] = [3, 8]
    app.run()
    next(b for b in app.button if b.label == "Train on the normal images only").click().run()
    assert not app.exception, [item.value for item in app.exception]
    token = app.query_params["me"]
    token = token[0] if isinstance(token, list) else token
    student = lab_store.find_student(token)
    run = lab_store.runs(student)[0]
    assert run.variant == "vanilla" and run.settings["train"]["odd"] == [3, 8]
    lab_store.request_stop(run.id, student)
    # Every class odd: nothing left to learn normal from; the page says so and offers no button.
    app.session_state["odd_labels_mnist"] = list(range(10))
    app.run()
    assert "Leave at least one class as normal" in app.info[0].value
    assert not [b for b in app.button if b.label == "Train on the normal images only"]


def test_a_labelled_upload_of_ones_own_can_be_the_normal_images(lab_store, stored_run):

    from core.ml import data, own_images
    from core.store import Owner

    items = [
        own_images.Item(name, "wide" if index % 2 else "tall", png)
        for index, (name, png) in enumerate(bar_pngs(120, 32))
    ]
    token, _run = stored_run("vanilla", _vanilla_model(), _vanilla_config())
    student = lab_store.find_student(token)
    dataset_id = lab_store.add_dataset(
        Owner(student_id=student), "my **shapes**", own_images.prepare(items, "resize", seed=0)
    )
    app = page_alone("pages/odd.py", token=token)
    box = app.selectbox(key="odd_dataset")
    assert box.options == ["MNIST digits", "my **shapes**"]  # A select box shows text as is.
    box.set_value(data.own_name(dataset_id)).run()
    assert not app.exception
    # Its folders are the classes: the first one ("tall") is odd to start with.
    assert any("but the odd ones (tall)" in item.value for item in app.caption)
    # In Markdown the uploader's name is shown as typed, never as formatting.
    assert "Here the normal images are my \\*\\*shapes\\*\\*" in texts(app)


def _vanilla_model():
    from core.ml import variants

    return variants.build("vanilla")


def _vanilla_config():
    from core.ml import variants

    return variants.make_config("vanilla")


def test_a_run_on_an_upload_opens_on_the_train_page_with_its_code_and_data(lab_store, stored_run):
    """Train lists every run of the student's, an upload's too: opened, it names its dataset
    and offers its file and its data (the file's name is the upload's)."""

    from core.ml import data, own_images
    from core.store import Owner
    from ui.runs_table import OPEN

    files = bar_pngs(110, 24)
    token, _ = stored_run("vanilla", _vanilla_model(), _vanilla_config())
    student = lab_store.find_student(token)
    prepared = own_images.prepare(own_images.read_upload(files), "resize", seed=0)
    name = data.own_name(lab_store.add_dataset(Owner(student_id=student), "bars", prepared))
    _, run = stored_run(
        "vanilla", _vanilla_model(), _vanilla_config(), student=(student, token), dataset=name
    )
    app = page_alone("pages/train.py", token=token, **{OPEN: run.id})
    table = app.dataframe[0].value
    assert "bars" in list(table["dataset"])
    downloads = [item.proto for item in app.get("download_button")]
    labels = [item.label for item in downloads]
    assert "Get the code" in labels and "Get the data (.npz)" in labels, labels
