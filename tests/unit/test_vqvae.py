"""The VQ-VAE's parts (core.ml.variants.vqvae, core.ml.codebook): the
codebook lookup against a brute-force one, the codebook's usage figures, the straight-through
gradient and the two losses against an independent computation, the keras-io parameter count."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml import codebook


def test_each_vector_takes_its_nearest_codebook_vector():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(64, 16)).astype(np.float32)
    vectors = rng.normal(size=(3, 7, 7, 16)).astype(np.float32)
    brute = np.linalg.norm(vectors[..., None, :] - table, axis=-1).argmin(axis=-1)
    assert np.array_equal(codebook.indices(vectors, table), brute)
    assert np.array_equal(codebook.indices(table[[5, 9, 5]], table), [5, 9, 5])


def test_the_codebooks_usage_reads_as_perplexity_and_dead_codes():
    even = codebook.usage(np.arange(64).repeat(3), 64)
    assert even["codebook_perplexity"] == pytest.approx(64) and even["codebook_dead_codes"] == 0
    one = codebook.usage(np.full(49, 7), 64)
    assert one["codebook_perplexity"] == pytest.approx(1) and one["codebook_dead_codes"] == 63
    half = codebook.usage(np.array([0, 1] * 10), 4)
    assert half["codebook_perplexity"] == pytest.approx(2) and half["codebook_dead_codes"] == 2


@pytest.mark.slow
def test_the_quantizer_passes_gradients_straight_through_and_adds_both_losses():
    import tensorflow as tf

    from core.ml.variants.vqvae_model import VectorQuantizer

    quantizer = VectorQuantizer(8, 4, beta=0.25, weight=0.5)
    quantizer.build((None, 4))
    table = np.asarray(quantizer.codebook)
    vectors = tf.constant(np.random.default_rng(1).normal(size=(2, 3, 3, 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        out = quantizer(vectors)
        weighted = tf.reduce_sum(out * tf.range(1.0, 5.0))
    chosen = table[codebook.indices(vectors.numpy(), table)]
    np.testing.assert_allclose(out.numpy(), chosen, atol=1e-6)  # Forward: the codebook's.
    # Backward: as if the snapping were not there (straight through).
    np.testing.assert_allclose(tape.gradient(weighted, vectors).numpy()[0, 0, 0], [1, 2, 3, 4])
    distance = ((vectors.numpy() - chosen) ** 2).mean()
    # Codebook loss and commitment loss are the same number forward: (1 + beta) * distance.
    assert float(quantizer.losses[0]) == pytest.approx(0.5 * 1.25 * distance, rel=1e-5)


@pytest.mark.slow
def test_the_model_has_the_keras_io_examples_size():
    from core.ml import cards, metrics
    from core.ml.variants import vqvae

    model = vqvae.build()
    assert cards.count_parameters(model) == 48_913
    assert tuple(model.encoder.output.shape[1:]) == (7, 7, 16)
    assert metrics.code_size(model) == 49  # Its tokens, not the 784 numbers of their vectors.


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_the_shipped_cards_figures_are_what_the_models_do(dataset):
    """The card's MSE / variance (the bar's measure) and codebook usage, measured again from
    the Keras model's own output and a brute-force nearest-vector search; the served model
    (ONNX Runtime, what the pages use) takes the same tokens and decodes them alike."""
    from core.ml import cards, data, served

    card = cards.load_card("vqvae", dataset=dataset)
    model = cards.load_model("vqvae", dataset=dataset)
    _, (x_test, _) = data.load(dataset)
    images = data.to_images(x_test)
    outputs = np.concatenate(
        [np.asarray(model(images[i : i + 2000], training=False)) for i in range(0, 10_000, 2000)]
    )
    normalised = ((outputs - images) ** 2).mean() / images.var()
    assert normalised == pytest.approx(card["metrics"]["normalised_mse"], rel=1e-3)
    if dataset == "mnist":
        assert normalised <= 0.0444 and cards.count_parameters(model) <= 48_913
    assert card["metrics"]["code_size"] == 49

    table = np.asarray(model.encoder.get_layer("quantizer").codebook)

    def brute(batch):  # Every distance, 500 images at a time (100 MB).
        vectors = np.asarray(model.encoder(batch, training=False))
        return np.linalg.norm(vectors[..., None, :] - table, axis=-1).argmin(axis=-1)

    chosen = np.concatenate([brute(images[i : i + 500]) for i in range(0, 10_000, 500)])
    shipped = served.load_shipped("vqvae", dataset)
    assert shipped.code_size == 49
    sample = images[:500]
    assert (shipped.tokens(sample) == chosen[:500]).mean() > 0.999  # Ties aside, the same.
    np.testing.assert_allclose(shipped.decode_tokens(chosen[:500]), outputs[:500], atol=2e-4)
    counts = np.bincount(chosen.ravel(), minlength=len(table))
    assert card["metrics"]["codebook_dead_codes"] == int((counts == 0).sum())
    frequencies = counts[counts > 0] / counts.sum()
    perplexity = np.exp(-(frequencies * np.log(frequencies)).sum())
    assert perplexity == pytest.approx(card["metrics"]["codebook_perplexity"], rel=1e-3)
