"""Corruptions: ranges, fractions, determinism, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml import noise

GRAY = np.full((4, 28, 28, 1), 0.5, np.float32)


@pytest.mark.parametrize("kind", noise.KINDS)
def test_level_zero_is_identity_and_input_untouched(kind):
    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    copy = images.copy()
    np.testing.assert_array_equal(noise.corrupt(images, kind, 0.0, seed=1), images)
    noisy = noise.corrupt(images, kind, 0.7, seed=1)
    np.testing.assert_array_equal(images, copy)  # The caller's array is never modified.
    assert noisy.dtype == np.float32 and noisy.shape == images.shape
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


@pytest.mark.parametrize("kind", noise.KINDS)
def test_same_seed_same_noise(kind):
    a = noise.corrupt(GRAY, kind, 0.4, seed=7)
    b = noise.corrupt(GRAY, kind, 0.4, seed=7)
    c = noise.corrupt(GRAY, kind, 0.4, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gaussian_adds_scaled_standard_normal_then_clips():
    level, seed = 0.3, 5
    expected = np.clip(
        GRAY + level * np.random.default_rng(seed).standard_normal(GRAY.shape, dtype=np.float32),
        0,
        1,
    )
    np.testing.assert_allclose(noise.gaussian(GRAY, level, seed), expected, atol=1e-6)
    # Before clipping the added noise has standard deviation `level`.
    big = np.full((200, 28, 28, 1), 0.5, np.float32)
    assert abs(np.std(noise.gaussian(big, 0.1, 0) - 0.5) - 0.1) < 0.002


def test_salt_and_pepper_sets_level_fraction_to_black_or_white():
    big = np.full((100, 28, 28, 1), 0.5, np.float32)
    noisy = noise.salt_and_pepper(big, 0.2, seed=3)
    changed = noisy != 0.5
    assert abs(changed.mean() - 0.2) < 0.005
    assert set(np.unique(noisy[changed]).tolist()) == {0.0, 1.0}
    assert abs((noisy[changed] == 1.0).mean() - 0.5) < 0.02


def test_masking_zeroes_level_fraction_and_nothing_else():
    big = np.full((100, 28, 28, 1), 0.5, np.float32)
    noisy = noise.masking(big, 0.3, seed=3)
    assert abs((noisy == 0).mean() - 0.3) < 0.005
    assert set(np.unique(noisy).tolist()) == {0.0, 0.5}


def test_unknown_kind_and_bad_level_raise_clear_errors():
    with pytest.raises(ValueError, match="gaussian, salt_and_pepper, masking"):
        noise.corrupt(GRAY, "speckle", 0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        noise.gaussian(GRAY, 1.5)
