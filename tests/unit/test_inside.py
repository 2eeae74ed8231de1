"""The numbers behind the Inside page, against independent computations on known inputs.

The page computes on served models (ONNX Runtime and NumPy, core.ml.served); the references
here are the Keras models they were exported from."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml import cards, few_labels, inside, served
from core.ml.pca import fit_pca


def _loader(load):
    loaded = {}

    def get(name):
        if name not in loaded:
            loaded[name] = load(name)
        return loaded[name]

    return get


@pytest.fixture(scope="module")
def models():
    """The shipped models as the page runs them."""
    return _loader(served.load_shipped)


@pytest.fixture(scope="module")
def keras_models():
    return _loader(cards.load_model)


def test_dense_filters_are_the_kernel_columns_as_images(models, keras_models):
    filters = inside.first_layer_filters(models("vanilla"))
    kernel = np.asarray(keras_models("vanilla").encoder.layers[-1].weights[0])  # (784, 32)
    assert filters.shape == (32, 28, 28)
    column = kernel[:, 5].reshape(28, 28)
    expected = (column - column.min()) / (column.max() - column.min())
    np.testing.assert_allclose(filters[5], expected, atol=1e-6)


def test_conv_filters_are_the_first_convolution(models):
    filters = inside.first_layer_filters(models("conv"))
    assert filters.ndim == 3 and filters.shape[1] == filters.shape[2] < 28
    assert filters.min() >= 0.0 and filters.max() <= 1.0


def test_top_activating_orders_by_the_unit():
    values = np.array([[0.1, 5.0], [0.9, 1.0], [0.5, 3.0], [0.7, 0.0]])
    assert inside.top_activating(values, 0, 2).tolist() == [1, 3]
    assert inside.top_activating(values, 1, 3).tolist() == [0, 2, 1]


def test_sparsity_counts_near_zero_values_by_hand():
    values = np.array([[0.0, 0.01, 0.5], [0.2, 0.0, 1.0]])
    stats = inside.sparsity(values)
    # 99th percentile of |values| is ~0.98, so "near zero" is below ~0.049: three values.
    assert stats.near_zero == pytest.approx(3 / 6)
    np.testing.assert_allclose(stats.mean_per_unit, [0.1, 0.005, 0.75])
    assert stats.histogram.sum() == 6
    # Scale-free: the same code ten times larger is exactly as sparse.
    assert inside.sparsity(values * 10).near_zero == pytest.approx(3 / 6)


def test_principal_angles_of_known_subspaces():
    e = np.eye(4)
    assert np.allclose(inside.principal_angles(e[:2], e[:2] * 3 + 0), [0, 0], atol=1e-6)
    assert np.allclose(inside.principal_angles(e[:1], e[1:2]), [90.0])
    theta = np.radians(25.0)
    tilted = np.array([[np.cos(theta), np.sin(theta), 0.0, 0.0]])
    assert inside.principal_angles(e[:1], tilted) == pytest.approx([25.0])
    # Same span, different basis (mixed and scaled rows): still zero angles.
    mixed = np.array([[1.0, 2.0, 0, 0], [-3.0, 0.5, 0, 0]])
    assert np.allclose(inside.principal_angles(e[:2], mixed), [0, 0], atol=1e-6)


@pytest.mark.slow  # Fits PCA on 55,000 images.
def test_linear_autoencoder_spans_the_principal_subspace(models, splits):
    directions = inside.decoder_directions(models("linear"))
    pca = fit_pca(splits.x_train, len(directions))
    angles = inside.principal_angles(directions, pca.components)
    assert angles.shape == (32,)
    # Measured 2026-11-22: largest angle ~1.7 degrees; unrelated 32-D subspaces of a 784-D
    # space would sit near 90 degrees.
    assert angles.max() < 5.0, angles
    random = np.random.default_rng(0).standard_normal((32, 784))
    assert inside.principal_angles(random, pca.components).max() > 60


def test_jacobian_norm_matches_finite_differences(models, keras_models, splits):
    keras_model = keras_models("vanilla")
    digit = splits.x_test[0, ..., 0]
    step = 1e-3
    base = np.asarray(keras_model.encoder(digit.reshape(1, 28, 28, 1), training=False))[0]
    bumped = np.repeat(digit.reshape(1, 784), 784, axis=0) + step * np.eye(784, dtype=np.float32)
    outputs = np.asarray(keras_model.encoder(bumped.reshape(-1, 28, 28, 1), training=False))
    numeric = ((outputs - base) / step) ** 2
    assert inside.jacobian_norm(models("vanilla"), digit) == pytest.approx(numeric.sum(), rel=0.05)


@pytest.mark.parametrize("name", ["vanilla", "contractive", "contractive_twin", "deep"])
def test_jacobian_norm_equals_tensorflows_autodiff(name, models, keras_models, splits):
    """The page's chain rule in NumPy against TensorFlow's GradientTape on the Keras model."""
    import tensorflow as tf

    digit = splits.x_test[3, ..., 0]
    x = tf.constant(digit.reshape(1, 28, 28, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        code = tf.reshape(keras_models(name).encoder(x, training=False), (1, -1))
    expected = float(tf.reduce_sum(tf.square(tape.batch_jacobian(code, x))))
    assert inside.jacobian_norm(models(name), digit) == pytest.approx(expected, rel=1e-4)


def test_jacobian_norm_is_none_for_a_convolutional_encoder(models, splits):
    assert inside.jacobian_norm(models("conv"), splits.x_test[0, ..., 0]) is None


def test_code_shift_follows_the_jacobian_for_small_noise(models, splits):
    # For isotropic noise d, E||J d||^2 = sigma^2 ||J||_F^2 and ||d||^2 ~ 784 sigma^2.
    model = models("contractive_twin")
    digit = splits.x_test[1, ..., 0]
    _, ratio = inside.code_shift(model, digit, sigma=1e-3, draws=256)
    expected = np.sqrt(inside.jacobian_norm(model, digit) / 784)
    assert ratio == pytest.approx(expected, rel=0.15)


@pytest.mark.slow  # Many Jacobians.
def test_contractive_code_moves_less_than_its_unpenalised_twin(models, splits):
    for index in range(5):
        digit = splits.x_test[index, ..., 0]
        tight = inside.jacobian_norm(models("contractive"), digit)
        loose = inside.jacobian_norm(models("contractive_twin"), digit)
        assert tight < 0.5 * loose, (index, tight, loose)
        assert (
            inside.code_shift(models("contractive"), digit, 0.05)[1]
            < inside.code_shift(models("contractive_twin"), digit, 0.05)[1]
        )


def test_overcomplete_lets_noise_through_where_constrained_models_cannot(models):
    found = {
        name: inside.noise_copying(models(name))
        for name in ("overcomplete", "vanilla", "sparse_l1", "sparse_kl", "deep")
    }
    # Measured 2026-11-22 on 200 uniform-noise images: overcomplete MSE 0.168, correlation
    # 0.33; vanilla 0.326 / 0.016; sparse L1 0.314 / 0.021. The bars leave room for retraining.
    over_mse, over_corr = found["overcomplete"]
    for name in ("vanilla", "sparse_l1", "sparse_kl", "deep"):
        mse, corr = found[name]
        assert over_mse < 0.7 * mse, found
        assert over_corr > 0.2 and over_corr > 5 * corr, found


def test_noise_copying_of_an_exact_copier_and_a_grey_output():
    def identity(images):
        return images

    mse, corr = inside.noise_copying(identity, count=20)
    assert mse == pytest.approx(0.0) and corr == pytest.approx(1.0)

    def grey(images):
        return np.full_like(images, 0.5)

    mse, corr = inside.noise_copying(grey, count=200)
    assert mse == pytest.approx(1 / 12, rel=0.05) and abs(corr) < 1e-6


def test_probe_images_are_noise_blank_and_the_digit(splits):
    digit = splits.x_test[0, ..., 0]
    probes = inside.probe_images(digit)
    assert list(probes) == ["noise", "blank", "digit"]
    assert probes["blank"].max() == 0 and 0.4 < probes["noise"].mean() < 0.6
    np.testing.assert_array_equal(probes["digit"][..., 0], digit)


def test_balanced_subset_has_each_digit_equally_and_is_seeded(splits):
    index = few_labels.balanced_subset(splits.y_train, 100, seed=3)
    assert len(set(index.tolist())) == 100
    assert np.bincount(splits.y_train[index], minlength=10).tolist() == [10] * 10
    np.testing.assert_array_equal(index, few_labels.balanced_subset(splits.y_train, 100, seed=3))
    assert not np.array_equal(index, few_labels.balanced_subset(splits.y_train, 100, seed=4))
    with pytest.raises(ValueError, match="multiple of 10"):
        few_labels.balanced_subset(splits.y_train, 15)


@pytest.mark.slow
def test_few_labels_all_three_learn_and_the_code_helps_at_ten(keras_models, splits):
    scores = few_labels.few_label_accuracies(
        keras_models("deep"), splits.x_train, splits.y_train, splits.x_test, splits.y_test, 10
    )
    assert set(scores) == {"raw pixels", "frozen encoder", "fine-tuned encoder"}
    assert all(0.2 < value <= 1.0 for value in scores.values()), scores  # Chance is 0.1.


def test_sparse_models_have_more_silent_code_values_than_vanilla(models, splits):
    x = splits.x_test[:2000]
    plain = inside.sparsity(inside.codes(models("vanilla"), x))
    # Measured on the test set 2026-11-22: near zero 1.3% (vanilla), 13% (L1), 13% (KL).
    for name in ("sparse_l1", "sparse_kl"):
        sparse = inside.sparsity(inside.codes(models(name), x))
        assert sparse.near_zero > 5 * plain.near_zero, (name, sparse.near_zero)
    kl = inside.sparsity(inside.codes(models("sparse_kl"), x))
    assert 0.03 <= kl.mean <= 0.08  # Its target rho is 0.05.
