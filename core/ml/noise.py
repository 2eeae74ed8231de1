"""Input corruptions for the denoising autoencoder, shared by training and the app.

Each takes float images in [0, 1], a level in [0, 1] and a seed (an int or a numpy Generator),
and returns a new float32 array in [0, 1] of the same shape; the input is never modified.
"""

from __future__ import annotations

import numpy as np

Seed = int | np.random.Generator | None

KINDS = ("gaussian", "salt_and_pepper", "masking")


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_level(level: float) -> float:
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"noise level must be between 0 and 1, got {level}")
    return float(level)


def gaussian(images: np.ndarray, level: float, seed: Seed = None) -> np.ndarray:
    """Add level * N(0, 1) to every pixel, then clip to [0, 1]."""
    level = _check_level(level)
    noise = _rng(seed).standard_normal(np.shape(images), dtype=np.float32)
    return np.clip(np.asarray(images, np.float32) + level * noise, 0.0, 1.0)


def salt_and_pepper(images: np.ndarray, level: float, seed: Seed = None) -> np.ndarray:
    """Set a `level` fraction of pixels to 0 or 1, each with probability one half."""
    level = _check_level(level)
    rng = _rng(seed)
    result = np.array(images, dtype=np.float32)
    hit = rng.random(result.shape) < level
    result[hit] = (rng.random(int(hit.sum())) < 0.5).astype(np.float32)
    return result


def masking(images: np.ndarray, level: float, seed: Seed = None) -> np.ndarray:
    """Zero a `level` fraction of pixels (dropout applied to the input)."""
    level = _check_level(level)
    result = np.array(images, dtype=np.float32)
    result[_rng(seed).random(result.shape) < level] = 0.0
    return result


CORRUPTIONS = {"gaussian": gaussian, "salt_and_pepper": salt_and_pepper, "masking": masking}


def corrupt(images: np.ndarray, kind: str, level: float, seed: Seed = None) -> np.ndarray:
    """Apply the corruption named `kind` (one of KINDS)."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(KINDS)}")
    return CORRUPTIONS[kind](images, level, seed)
