"""The shipped models in trained/: present, loadable by plain Keras, carded, and meeting the bars.

The metrics in the cards come from `python -m core.evaluate`; the slow tests here measure them
again with code independent of core.ml.metrics, so a card cannot claim what the model does not do.
"""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from core.ml import cards, evaluate, variants

NAMES = variants.all_names()


@pytest.fixture(scope="module")
def x_test(splits):
    return splits.x_test


@pytest.mark.parametrize("name", NAMES)
def test_model_and_card_are_shipped(name):
    assert cards.model_path(name).is_file(), f"trained/{name}.keras is missing"
    card = cards.load_card(name)
    assert card is not None, f"trained/{name}.json is missing"
    assert card["variant"] == name
    training = card["training"]
    for key in ("epochs", "epochs_completed", "optimizer", "seed", "seconds", "machine"):
        assert key in training, key
    for key in ("bce", "mse", "psnr_db", "test_images"):
        assert key in card["metrics"], key
    assert card["metrics"]["test_images"] == 10000
    # The card alone rebuilds the architecture: its config fits the shipped weights.
    config = variants.get(name).config_class(**card["config"])
    rebuilt = variants.build(name, config)
    rebuilt.set_weights(cards.load_model(name).get_weights())


@pytest.mark.slow  # TensorFlow in a subprocess.
def test_plain_keras_loads_every_model_after_importing_the_custom_objects():
    paths = [str(cards.model_path(name)) for name in NAMES]
    script = (
        "import sys, keras, core.ml.custom_objects\n"
        "for path in sys.argv[1:]:\n"
        "    model = keras.models.load_model(path)\n"
        "    assert model.encoder is not None and model.decoder is not None\n"
        "print('loaded', len(sys.argv) - 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"loaded {len(NAMES)}" in done.stdout


def test_every_quality_bar_is_met_by_the_cards():
    table, every = evaluate.report()
    assert every, table


def _keras_bce(model, images) -> float:
    """Mean per-pixel BCE with Keras's own loss, independent of core.ml.metrics."""
    total = 0.0
    for start in range(0, len(images), 2000):
        x = images[start : start + 2000]
        y = keras.ops.convert_to_numpy(model(x, training=False))
        flat_x, flat_y = x.reshape(len(x), -1), y.reshape(len(x), -1)
        total += float(keras.losses.binary_crossentropy(flat_x, flat_y).numpy().sum())
    return total / len(images)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n != "linear"])
def test_card_bce_is_what_the_model_does(name, x_test):
    card = cards.load_card(name)
    measured = _keras_bce(cards.load_model(name), x_test)
    assert measured == pytest.approx(card["metrics"]["bce"], abs=2e-4)


@pytest.mark.slow
def test_linear_card_against_independent_pca(x_test, splits):
    card = cards.load_card("linear")
    model = cards.load_model("linear")
    reconstructions = np.asarray(model(x_test, training=False))
    assert float(((reconstructions - x_test) ** 2).mean()) == pytest.approx(
        card["metrics"]["mse"], rel=1e-3
    )
    # PCA through numpy's SVD of the centred training data, not core.ml.pca's eigh.
    train = np.concatenate([splits.x_train, splits.x_val]).reshape(60000, -1)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train[::3] - mean, full_matrices=False)  # Every 3rd image: fast.
    basis = vt[:32]
    flat = x_test.reshape(len(x_test), -1) - mean
    pca_mse = float((((flat @ basis.T) @ basis - flat) ** 2).mean())
    assert card["metrics"]["mse"] <= 1.03 * pca_mse


@pytest.mark.slow
def test_vae_elbo_on_test_set(x_test):
    card = cards.load_card("vae")
    vae = cards.load_model("vae")
    z_mean, z_log_var = (np.asarray(t, np.float64) for t in vae.encoder(x_test, training=False))
    rng = np.random.default_rng(99)
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
    p = np.clip(
        np.asarray(vae.decoder(z.astype(np.float32)), np.float64).reshape(10000, -1), 1e-7, 1 - 1e-7
    )
    x = x_test.reshape(10000, -1)
    reconstruction = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    kl = 0.5 * (np.exp(z_log_var) + z_mean**2 - 1 - z_log_var).sum(axis=1)
    elbo = float((reconstruction + kl).mean())
    assert elbo == pytest.approx(card["metrics"]["negative_elbo"], abs=1.0)
    assert elbo <= 142
