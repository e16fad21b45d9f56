"""Per-feature bin thresholds for histogram-based trees.

A feature with at most ``max_bins`` distinct values gets one bin per value (thresholds at
the midpoints between consecutive values, so trees split exactly as on raw data);
otherwise thresholds sit at the midpoints of ``max_bins`` quantiles, as in scikit-learn's
``HistGradientBoosting``. Quantiles are taken on a subsample of at most ``subsample`` rows.
"""

from __future__ import annotations

import numpy as np


def compute_thresholds(X: np.ndarray, max_bins: int, rng: np.random.RandomState,
                       subsample: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted bin thresholds per feature.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite training data.
    max_bins : int
        At most this many bins per feature (2..256).
    rng : RandomState
        Draws the subsample when ``n_samples > subsample``.
    subsample : int, default=200_000
        Rows used to place the thresholds.

    Returns
    -------
    thresholds : ndarray of shape (n_features, max_bins - 1), float64
        Row ``f`` holds ``n_thresholds[f]`` increasing thresholds, then zeros.
    n_thresholds : ndarray of shape (n_features,), int32
    """
    n, p = X.shape
    if n > subsample:
        X = X[np.sort(rng.choice(n, subsample, replace=False))]
    thresholds = np.zeros((p, max_bins - 1), dtype=np.float64)
    n_thresholds = np.zeros(p, dtype=np.int32)
    for f in range(p):
        col = np.asarray(X[:, f], dtype=np.float64)
        uniq = np.unique(col)
        if len(uniq) <= max_bins:
            t = (uniq[:-1] + uniq[1:]) * 0.5
        else:
            q = np.linspace(0, 100, max_bins + 1)[1:-1]
            t = np.unique(np.percentile(col, q, method="midpoint"))
        t = t[: max_bins - 1]
        thresholds[f, : len(t)] = t
        n_thresholds[f] = len(t)
    return thresholds, n_thresholds
