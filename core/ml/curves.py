"""Loss curves for charts: per-batch losses smoothed and thinned without hiding what they are."""

from __future__ import annotations

import numpy as np


def smooth(values: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """Exponential moving average, debiased at the start as TensorBoard's smoothing is.

    Non-finite values (a diverged batch) are skipped: the average carries on past them.
    """
    values = np.asarray(values, np.float64)
    out = np.empty_like(values)
    last, steps = 0.0, 0
    for index, value in enumerate(values):
        if np.isfinite(value):
            last = last * weight + (1 - weight) * value
            steps += 1
        out[index] = last / (1 - weight**steps) if steps else np.nan
    return out


def thin(x: np.ndarray, y: np.ndarray, most: int = 1500) -> tuple[np.ndarray, np.ndarray, int]:
    """At most `most` points: the means of consecutive buckets of `k` points; returns x, y, k.

    k is 1 (nothing changed) for short curves; a chart says "mean of k batches" otherwise.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) <= most:
        return x, y, 1
    k = int(np.ceil(len(x) / most))
    usable = len(x) // k * k
    x_out = x[:usable].reshape(-1, k).mean(axis=1)
    with np.errstate(invalid="ignore"):
        y_out = np.nanmean(y[:usable].reshape(-1, k), axis=1)
    if usable < len(x):  # The last, shorter bucket.
        x_out = np.append(x_out, x[usable:].mean())
        y_out = np.append(
            y_out, np.nanmean(y[usable:]) if np.isfinite(y[usable:]).any() else np.nan
        )
    return x_out, y_out, k
