"""The web tier's models (core.ml.served: ONNX Runtime) against the Keras models they were
exported from: every shipped bundle, on both datasets, and a freshly trained one."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from core.ml import cards, data, metrics, onnx_export, served, variants

SHIPPED = [
    (dataset, name)
    for dataset in data.DATASETS
    for name in variants.all_names()
    if cards.model_path(name, dataset=dataset).is_file()
]


@pytest.fixture(scope="module")
def test_images():
    found = {}

    def get(dataset):
        if dataset not in found:
            _, (x_test, _) = data.load(dataset)
            # 300 test images and 20 of uniform noise: far from what the models saw too.
            noise = np.random.default_rng(0).random((20, 28, 28, 1)).astype(np.float32)
            found[dataset] = np.concatenate([data.to_images(x_test[:300]), noise])
        return found[dataset]

    return get


def test_every_shipped_model_has_a_bundle():
    assert len(SHIPPED) >= 2 * 10
    missing = [
        (dataset, name)
        for dataset, name in SHIPPED
        if not served.shipped_path(name, dataset).is_file()
    ]
    assert not missing, f"run `make onnx` for {missing}"


@pytest.mark.parametrize(("dataset", "name"), SHIPPED)
def test_shipped_bundle_runs_like_keras(dataset, name, test_images):
    model = cards.load_model(name, dataset=dataset)
    bundle = served.load_shipped(name, dataset)
    images = test_images(dataset)
    measured = onnx_export.differences(model, bundle, images)
    assert all(measured[part] <= limit for part, limit in onnx_export.TOLERANCE.items()), measured
    # The decoder on codes it never met: random points of the code space.
    z = np.random.default_rng(1).normal(size=(50, *bundle.code_shape)).astype(np.float32)
    np.testing.assert_allclose(
        bundle.decode(z), np.asarray(model.decoder(z, training=False)), rtol=0, atol=1e-5
    )
    code = model.encoder(images[:1], training=False)
    code = code[0] if isinstance(code, (list, tuple)) else code
    assert bundle.code_shape == tuple(np.asarray(code).shape[1:])
    assert bundle.code_size == metrics.code_size(model)  # A VQ-VAE's: its 49 tokens.


def test_the_tolerance_is_float32_rounding_not_a_loose_bar():
    """Strict enough to catch a wrong weight: one decoder bias changed by 1e-3 fails."""
    model = cards.load_model("vanilla")
    bundle = served.load_shipped("vanilla")
    images = np.random.default_rng(3).random((20, 28, 28, 1)).astype(np.float32)
    assert onnx_export.differences(model, bundle, images)["reconstruction"] < 1e-5
    weights = model.get_weights()
    weights[-1] = weights[-1] + 1e-3
    model.set_weights(weights)
    assert onnx_export.differences(model, bundle, images)["decoder"] > 1e-5


@pytest.mark.parametrize("name", ["vanilla", "tied", "contractive", "vae", "linear"])
def test_dense_chains_compute_what_the_onnx_halves_do(name, test_images):
    """The weights the pages read (filters, the browser's decoder, the Jacobian) are the
    model's: the NumPy chain gives the same outputs as the ONNX graph."""
    bundle = served.load_shipped(name)
    images = test_images("mnist")[:50]
    decoder = bundle.chain("decoder")
    z = bundle.encode(images)
    x = z.reshape(len(z), -1)
    for layer in decoder:
        x = layer(x)
    np.testing.assert_allclose(x.reshape(-1, 28, 28, 1), bundle.decode(z), atol=1e-5)
    encoder = bundle.chain("encoder")
    if name == "vae":  # Two heads (mean and log-variance): not one chain.
        assert encoder is None
        return
    x = images.reshape(len(images), -1)
    for layer in encoder:
        x = layer(x)
    np.testing.assert_allclose(x, z.reshape(len(z), -1), atol=1e-4)


def test_a_convolutional_model_has_no_chains_but_its_filters():
    bundle = served.load_shipped("conv")
    assert bundle.chain("encoder") is None and bundle.chain("decoder") is None
    assert bundle.first_layer.ndim == 4 and bundle.first_layer.shape[2] == 1


def test_a_fresh_model_exports_with_its_keras_weights(tmp_path):
    """What a worker writes for a run: an untrained model exports, runs like Keras, and
    carries its `.weights.h5` (the Train page's download), which loads back into Keras."""
    model = variants.build("sparse_l1")  # An activity regulariser: tf2onnx needs it gone.
    bundle = served.Served(onnx_export.bundle(model, "sparse_l1"), "run-test@0")
    images = np.random.default_rng(2).random((8, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(bundle(images), np.asarray(model(images)), atol=1e-5)
    file = tmp_path / "model.weights.h5"
    file.write_bytes(bundle.keras_weights)
    copy = variants.build("sparse_l1")
    copy.load_weights(file)
    np.testing.assert_allclose(np.asarray(copy(images)), np.asarray(model(images)), atol=1e-6)


def shifted(model, seed: int) -> None:
    """Moves every float weight of `model` off its initial value, as training does (biases
    start at zero, which tf2onnx folds away)."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            w + rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.dtype.kind == "f" else w
            for w in model.get_weights()
        ]
    )


# A Dense chain, convolutions, a VAE's two heads, a tied decoder (the encoder's kernel read
# transposed), noise layers, and an activity regulariser stripped before the export.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["vanilla", "conv", "vae", "tied", "denoising", "sparse_l1"])
def test_a_refilled_bundle_runs_like_keras_with_each_checkpoints_weights(name):
    """What a worker writes with each checkpoint: the graphs of one export (of a spare model
    with marked weights) with the checkpoint's weights filled in. It must run like Keras with
    those weights, checkpoint after checkpoint."""
    refill = onnx_export.refill_for(variants.build(name))
    assert refill is not None and all(refill.slots[part] for part in ("encoder", "decoder"))
    model = variants.build(name)
    images = np.random.default_rng(2).random((16, 28, 28, 1)).astype(np.float32)
    before = None
    for seed in (5, 6):  # Two checkpoints of one run.
        shifted(model, seed)
        refilled = served.Served(onnx_export.bundle(model, name, refill=refill))
        measured = onnx_export.differences(model, refilled, images)
        assert all(measured[part] <= onnx_export.TOLERANCE[part] for part in measured), measured
        if before is not None:  # The second is not the first's weights again.
            assert np.abs(refilled(images) - before).max() > 1e-3
        before = refilled(images)


@pytest.mark.slow
def test_graphs_whose_weights_are_not_plain_copies_are_not_refilled(monkeypatch):
    """Were an initializer computed from a weight (scaled, say, as a fold would leave it),
    filling in copies would serve wrong weights: the check against Keras must refuse the
    graphs, and the worker then exports each checkpoint's bundle in full."""
    real = onnx_export._initializers

    def scaled(graph):
        return {
            key: value * 2 if value.dtype.kind == "f" else value
            for key, value in real(graph).items()
        }

    monkeypatch.setattr(onnx_export, "_initializers", scaled)
    assert onnx_export.refill_for(variants.build("vanilla")) is None


@pytest.mark.parametrize(
    "broken",
    [b"", b"not a zip", b"PK\x03\x04 truncated"],
)
def test_broken_bytes_are_refused_with_a_bundle_error(broken):
    with pytest.raises(served.BundleError):
        served.Served(broken)


def test_a_bundle_of_another_format_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("meta.json", '{"format": 99}')
    with pytest.raises(served.BundleError, match="format 99"):
        served.Served(out.getvalue())
