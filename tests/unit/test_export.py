"""The latent pad's decoder export: the weights that reach the browser decode like Keras."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from core.ml import cards, export, served


@pytest.fixture(scope="module")
def vae():
    return cards.load_model("vae")


@pytest.fixture(scope="module")
def served_vae():
    return served.load_shipped("vae")


def test_float16_chain_decodes_like_the_keras_decoder(vae, served_vae):
    chain = export.dense_chain(served_vae)
    assert [(layer.kernel.shape, layer.activation) for layer in chain] == [
        ((2, 256), "relu"),
        ((256, 512), "relu"),
        ((512, 784), "sigmoid"),
    ]
    z = np.random.default_rng(0).normal(scale=1.5, size=(500, 2)).astype(np.float32)
    keras_pixels = np.asarray(vae.decoder(z, training=False)).reshape(500, 784)
    exported = export.forward(chain, z)
    assert np.abs(exported - keras_pixels).max() < 0.005  # Under 1.3 of 255 grey levels.


def test_json_carries_exactly_the_float16_weights(vae, served_vae):
    layer = export.dense_chain(served_vae)[1]
    data = layer.as_json()
    assert (data["rows"], data["columns"], data["activation"]) == (256, 512, "relu")
    kernel = np.frombuffer(base64.b64decode(data["kernel"]), "<f2").reshape(256, 512)
    bias = np.frombuffer(base64.b64decode(data["bias"]), "<f2")
    np.testing.assert_array_equal(kernel, layer.kernel)
    np.testing.assert_array_equal(bias, layer.bias)
    # Row-major: row i holds the weights from input unit i (what the browser's loop assumes).
    np.testing.assert_allclose(kernel[3], vae.decoder.layers[2].get_weights()[0][3], atol=2e-3)


def test_forward_is_the_textbook_dense_chain():
    chain = [
        export.DenseLayer(
            np.array([[1.0, -1.0]], np.float16), np.array([0, 1], np.float16), "relu"
        ),
        export.DenseLayer(
            np.array([[2.0], [1.0]], np.float16), np.array([0], np.float16), "sigmoid"
        ),
    ]
    # z = 3: relu([3, -2]) = [3, 0]; sigmoid(6) = 0.99753.
    assert export.forward(chain, [[3.0]])[0, 0] == pytest.approx(1 / (1 + np.exp(-6)), abs=1e-6)
    # z = -1000: relu([-1000, 1001]) = [0, 1001]; sigmoid(1001) = 1.
    assert export.forward(chain, [[-1000.0]])[0, 0] == 1.0
    # A huge negative logit gives 0, without an overflow warning or a NaN.
    one = [export.DenseLayer(np.ones((1, 1), np.float16), np.zeros(1, np.float16), "sigmoid")]
    with np.errstate(over="raise"):
        assert export.forward(one, [[-5000.0]])[0, 0] == pytest.approx(0.0, abs=1e-25)


def test_decoders_the_browser_cannot_run_are_refused():
    from keras import Input, Model, layers

    from core.ml.onnx_export import bundle

    with pytest.raises(export.NotExportable, match="not a chain of Dense"):
        export.dense_chain(served.load_shipped("conv"))
    # A Dense decoder with an activation the browser's loop does not know: no chain exported.
    image = Input((28, 28, 1))
    code = layers.Dense(2)(layers.Flatten()(image))
    z = Input((2,))
    pixels = layers.Reshape((28, 28, 1))(layers.Dense(784, activation="tanh")(z))

    class Halves:
        encoder, decoder = Model(image, code), Model(z, pixels)

    with pytest.raises(export.NotExportable, match="not a chain of Dense"):
        export.dense_chain(served.Served(bundle(Halves(), keras_weights=False)))
