"""Loss curves for charts: the moving average and the thinning of long curves."""

from __future__ import annotations

import numpy as np

from core.ml.curves import smooth, thin


def test_moving_average_is_debiased_and_skips_non_finite_batches():
    np.testing.assert_allclose(smooth([3.0, 3.0, 3.0], 0.9), [3.0, 3.0, 3.0])
    # By hand, weight 0.5: 0.5 * 0 / (1 - 0.5) = 0; (0.5 * 0 + 0.5 * 1) / (1 - 0.25) = 2/3.
    np.testing.assert_allclose(smooth([0.0, 1.0], 0.5), [0.0, 2.0 / 3.0])
    np.testing.assert_allclose(smooth([2.0, np.nan, np.inf, 2.0], 0.9), [2.0, 2.0, 2.0, 2.0])
    assert np.isnan(smooth([np.nan, 1.0], 0.9)[0])  # Nothing to average yet.


def test_short_curves_are_kept_and_long_ones_become_bucket_means():
    x, y = np.arange(5.0), np.arange(5.0) * 2
    kept_x, kept_y, k = thin(x, y, most=5)
    assert k == 1 and np.array_equal(kept_x, x) and np.array_equal(kept_y, y)
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    thin_x, thin_y, k = thin(x, y, most=4)
    assert k == 3  # ceil(10 / 4): three buckets of 3 and the last point alone.
    np.testing.assert_allclose(thin_x, [1.0, 4.0, 7.0, 9.0])
    np.testing.assert_allclose(thin_y, [(0 + 1 + 4) / 3, (9 + 16 + 25) / 3, (36 + 49 + 64) / 3, 81])
    y[0] = np.nan  # A diverged batch does not poison its bucket.
    np.testing.assert_allclose(thin(x, y, most=4)[1][0], (1 + 4) / 2)
