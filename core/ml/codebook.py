"""A VQ-VAE's codebook as the pages and the measures read it (NumPy only: the web tier runs
without Keras): which codebook vector each position of a code took, and how much of the
codebook the model uses."""

from __future__ import annotations

import numpy as np


def indices(vectors: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """The index of the codebook vector nearest to each vector of `vectors` (..., dim): for a
    VQ-VAE's quantised code, the very vector it took, as a whole number per position."""
    flat = np.asarray(vectors, np.float32).reshape(-1, codebook.shape[1])
    distances = (
        (flat**2).sum(axis=1, keepdims=True) - 2.0 * flat @ codebook.T + (codebook**2).sum(axis=1)
    )
    return distances.argmin(axis=1).reshape(np.shape(vectors)[:-1])


def usage(chosen: np.ndarray, size: int) -> dict[str, float]:
    """How the codebook is used over `chosen` indices: the perplexity of the codes' frequencies
    (exp of their entropy: `size` when all are used evenly, 1 when one is), and how many
    codebook vectors are never chosen (dead codes)."""
    counts = np.bincount(np.asarray(chosen).ravel(), minlength=size)
    frequencies = counts / max(1, counts.sum())
    used = frequencies[frequencies > 0]
    return {
        "codebook_perplexity": float(np.exp(-(used * np.log(used)).sum())),
        "codebook_dead_codes": int((counts == 0).sum()),
        "codebook_size": int(size),
    }
