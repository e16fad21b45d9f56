"""The fused ``mlp`` epoch kernel: Numba against the NumPy reference (composed of dense + optim)."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import mlp as ref

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _problem(dtype, classify, seed=0, n=53, widths=(6, 9, 7, 4)):
    rng = np.random.RandomState(seed)
    widths = np.array(widths, dtype=np.int64)
    X = rng.randn(n, 6).astype(dtype)
    y_idx = rng.randint(0, 4, n).astype(np.int64)
    Y = rng.randn(n, 4).astype(dtype)
    size = sum(int(a * b + b) for a, b in zip(widths[:-1], widths[1:]))
    params = (rng.randn(size) * 0.3).astype(dtype)
    order = rng.permutation(n).astype(np.int64)
    return X, y_idx, Y, order, widths, params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classify", [True, False])
@pytest.mark.parametrize("act", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("solver", [0, 1, 2])
def test_numba_epoch_matches_reference(dtype, classify, act, solver):
    X, y_idx, Y, order, widths, params = _problem(dtype, classify)
    results = []
    for k in (ref, get_kernel("mlp", "numba")):
        p = params.copy()
        g, m, v = (np.zeros_like(p) for _ in range(3))
        loss, step = 0.0, 0
        for _ in range(2):  # two epochs: optimizer state carries over
            loss, step = k.mlp_epoch(X, y_idx, Y, classify, order, 16, widths, act, p, g, m, v, solver,
                                     0.05, 0.9, 0.999, 1e-8, 1e-3, 0.9, True, step)
        results.append((loss, step, p, m, v))
    (l0, s0, p0, m0, v0), (l1, s1, p1, m1, v1) = results
    assert s0 == s1 == 2 * int(np.ceil(53 / 16))
    np.testing.assert_allclose(l1, l0, rtol=1e-4 if dtype == np.float32 else 1e-10)
    for a, b in ((p1, p0), (m1, m0), (v1, v0)):
        np.testing.assert_allclose(a, b, **TOL[dtype])


def test_epoch_lowers_the_loss():
    X, y_idx, Y, order, widths, params = _problem(np.float64, True)
    k = get_kernel("mlp", "numba")
    g, m, v = (np.zeros_like(params) for _ in range(3))
    losses, step = [], 0
    for _ in range(20):
        loss, step = k.mlp_epoch(X, y_idx, Y, True, order, 16, widths, 1, params, g, m, v, 1, 0.01,
                                 0.9, 0.999, 1e-8, 0.0, 0.0, False, step)
        losses.append(loss)
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classify", [True, False])
@pytest.mark.parametrize("n_threads", [2, 3])
def test_batches_split_over_threads_match_reference(dtype, classify, n_threads):
    # batches of 200 rows (and a last one of 50) are split into row chunks whose
    # gradients are summed: the epoch must equal the reference's up to that sum's rounding
    X, y_idx, Y, order, widths, params = _problem(dtype, classify, seed=1, n=450, widths=(6, 9, 4))
    results = []
    for k, threads in ((ref, 1), (get_kernel("mlp", "numba"), n_threads)):
        p = params.copy()
        g, m, v = (np.zeros_like(p) for _ in range(3))
        loss, step = k.mlp_epoch(X, y_idx, Y, classify, order, 200, widths, 1, p, g, m, v, 1,
                                 0.05, 0.9, 0.999, 1e-8, 1e-3, 0.9, True, 0, threads)
        results.append((loss, step, p))
    (l0, s0, p0), (l1, s1, p1) = results
    assert s0 == s1 == 3
    np.testing.assert_allclose(l1, l0, rtol=1e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(p1, p0, **TOL[dtype])
