"""Loss terms checked against independent computations: KL sparsity, contraction, L1, VAE KL."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.ml import variants
from core.ml.variants import penalties
from core.ml.variants.vae_model import kl_nats, reconstruction_nats

RNG = np.random.default_rng(0)


def kl_reference(codes: np.ndarray, rho: float, beta: float) -> float:
    """Per-unit KL(rho || rho_hat_j) summed over units, written out with float64 loops."""
    total = 0.0
    for unit in range(codes.shape[1]):
        rho_hat = min(max(codes[:, unit].astype(np.float64).mean(), 1e-6), 1 - 1e-6)
        total += rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    return beta * total


def test_kl_sparsity_matches_per_unit_reference():
    codes = RNG.random((64, 20)).astype(np.float32) ** 3  # Uneven means across units.
    value = float(penalties.kl_sparsity(codes, 0.05, 0.3))
    assert value == pytest.approx(kl_reference(codes, 0.05, 0.3), rel=1e-5)


def test_kl_sparsity_avoids_the_two_copied_bugs():
    # Half the units nearly silent, half busy: per-unit and pooled means differ a lot.
    scale = np.array([0.02] * 5 + [0.9] * 5, np.float32)
    codes = (RNG.random((32, 10)) * scale).astype(np.float32)
    rho = 0.05
    correct = float(penalties.kl_sparsity(codes, rho, 1.0))
    rho_hat = codes.mean(axis=0)
    # Bug 1: `(1 - rho / 1 - rho_hat)` parses as 1 - rho - rho_hat.
    precedence_bug = np.sum(
        rho * np.log(rho / rho_hat) + (1 - rho) * np.log(np.abs(1 - rho / 1 - rho_hat))
    )
    # Bug 2: one mean over all units instead of one per unit.
    pooled = codes.mean()
    pooled_bug = codes.shape[1] * (
        rho * np.log(rho / pooled) + (1 - rho) * np.log((1 - rho) / (1 - pooled))
    )
    assert abs(correct - precedence_bug) > 0.1 * correct
    assert abs(correct - pooled_bug) > 0.1 * correct


def test_kl_sparsity_is_finite_for_dead_and_saturated_units():
    codes = np.zeros((8, 4), np.float32)
    codes[:, 1] = 1.0
    assert np.isfinite(float(penalties.kl_sparsity(codes, 0.05, 1.0)))


def test_kl_sparsity_is_zero_at_target():
    codes = np.full((16, 5), 0.05, np.float32)
    assert float(penalties.kl_sparsity(codes, 0.05, 3.0)) == pytest.approx(0.0, abs=1e-6)


def test_contractive_closed_form_matches_autodiff_jacobian():
    inputs = tf.constant(RNG.random((6, 784)), tf.float32)
    kernel = tf.constant(RNG.normal(0, 0.1, (784, 16)), tf.float32)
    bias = tf.constant(RNG.normal(0, 0.5, (16,)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        codes = tf.sigmoid(inputs @ kernel + bias)
    jacobian = tape.batch_jacobian(codes, inputs)  # (batch, units, pixels)
    autodiff = tf.reduce_mean(tf.reduce_sum(jacobian**2, axis=[1, 2])).numpy()
    closed = float(penalties.contractive_penalty(codes, kernel, 1.0))
    assert closed == pytest.approx(float(autodiff), rel=1e-4)


def test_contractive_layer_reads_current_weights():
    model = variants.build("contractive", variants.make_config("contractive", contraction=1.0))
    layer = model.encoder.get_layer("code")
    x = RNG.random((4, 28, 28, 1)).astype(np.float32)

    def penalty_now() -> float:
        model(x, training=True)
        return float(sum(model.losses))

    before = penalty_now()
    layer.kernel.assign(layer.kernel * 3.0)  # As an optimizer step would.
    after = penalty_now()
    codes = model.encoder(x).numpy()
    expected = penalties.contractive_penalty(codes, layer.kernel.numpy(), 1.0)
    assert after == pytest.approx(float(expected), rel=1e-5)
    assert after > 2 * before  # A build-time copy of the weights would not have moved.


def test_sparse_l1_penalty_is_l1_times_batch_mean_of_code_sums():
    config = variants.make_config("sparse_l1", l1=0.01)
    model = variants.build("sparse_l1", config)
    x = RNG.random((8, 28, 28, 1)).astype(np.float32)
    model(x, training=True)
    codes = model.encoder(x).numpy().astype(np.float64)
    expected = 0.01 * np.abs(codes).sum(axis=1).mean()
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


def test_sparse_kl_model_adds_its_penalty():
    config = variants.make_config("sparse_kl", beta=0.7)
    model = variants.build("sparse_kl", config)
    x = RNG.random((16, 28, 28, 1)).astype(np.float32)
    model(x, training=True)
    codes = model.encoder(x).numpy()
    assert float(sum(model.losses)) == pytest.approx(kl_reference(codes, 0.05, 0.7), rel=1e-4)


def test_vae_kl_matches_closed_form_and_monte_carlo():
    z_mean = RNG.normal(0, 1, (5, 2)).astype(np.float32)
    z_log_var = RNG.normal(0, 0.5, (5, 2)).astype(np.float32)
    ours = np.asarray(kl_nats(z_mean, z_log_var))
    var = np.exp(z_log_var.astype(np.float64))
    closed = 0.5 * (var + z_mean**2 - 1 - np.log(var)).sum(axis=1)
    np.testing.assert_allclose(ours, closed, rtol=1e-5)
    # Monte Carlo: E_q[log q(z) - log p(z)] with many samples.
    samples = z_mean + np.sqrt(var) * RNG.standard_normal((200_000, 5, 2))
    log_q = -0.5 * (((samples - z_mean) ** 2) / var + np.log(2 * np.pi * var)).sum(axis=2)
    log_p = -0.5 * (samples**2 + np.log(2 * np.pi)).sum(axis=2)
    np.testing.assert_allclose(ours, (log_q - log_p).mean(axis=0), atol=0.02)


def test_vae_reconstruction_is_summed_pixel_cross_entropy_in_nats():
    x = RNG.random((3, 28, 28, 1)).astype(np.float32)
    p = RNG.uniform(0.01, 0.99, (3, 28, 28, 1)).astype(np.float32)
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(np.asarray(reconstruction_nats(x, p)), expected, rtol=1e-4)
