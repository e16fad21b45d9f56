"""The bpr kernel: Numba and Cython against the NumPy reference (n_threads=1 is deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from maaskit._backend import get_kernel
from maaskit._kernels.reference import bpr as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=1e-3, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-12)}


def _problem(dtype, n_rows=20, n_items=15, k=4, seed=0):
    rng = np.random.RandomState(seed)
    R = sp.random(n_rows, n_items, density=0.25, format="csr", random_state=rng, dtype=np.float32)
    R.sort_indices()
    indptr = R.indptr.astype(np.int64)
    indices = R.indices.astype(np.int32)
    row_of = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(indptr))
    X = ((rng.rand(n_rows, k + 1) - 0.5) / k).astype(dtype)
    X[:, k] = 1
    Y = ((rng.rand(n_items, k + 1) - 0.5) / k).astype(dtype)
    return indptr, indices, row_of, X, Y


@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("update_items", [True, False])
def test_epoch_matches_reference(backend, dtype, verify, update_items):
    indptr, indices, row_of, X, Y = _problem(dtype)
    outs = []
    for be in ("numpy", backend):
        Xb, Yb = X.copy(), Y.copy()
        stats = np.zeros(2, np.int64)
        kern = get_kernel("bpr", be)
        for epoch in range(3):
            kern.bpr_epoch(indptr, indices, row_of, Xb, Yb, 0.1, 0.01, 2**63 + 12345 + epoch,
                           verify, update_items, 1, stats)
        outs.append((Xb, Yb, stats.copy()))
    (Xr, Yr, sr), (Xk, Yk, sk) = outs
    np.testing.assert_allclose(Xk, Xr, **TOL[dtype])
    np.testing.assert_allclose(Yk, Yr, **TOL[dtype])
    np.testing.assert_array_equal(sk, sr)
    assert np.all(Xk[:, -1] == 1)
    if not update_items:
        np.testing.assert_array_equal(Yk, Y)


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_chunks_match_reference_with_two_threads_on_disjoint_rows(backend):
    # Two chunks draw from two streams; Hogwild races cannot change the draws themselves, so
    # the skip counts must agree, and factors stay finite.
    indptr, indices, row_of, X, Y = _problem(np.float64)
    stats_r, stats_k = np.zeros(2, np.int64), np.zeros(2, np.int64)
    ref.bpr_epoch(indptr, indices, row_of, X.copy(), Y.copy(), 0.05, 0.01, 7, True, True, 2, stats_r)
    Xk, Yk = X.copy(), Y.copy()
    get_kernel("bpr", backend).bpr_epoch(indptr, indices, row_of, Xk, Yk, 0.05, 0.01, 7, True, True, 2, stats_k)
    assert stats_k[1] == stats_r[1]
    assert np.isfinite(Xk).all() and np.isfinite(Yk).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_step_follows_the_loss_gradient(backend):
    # One user, one liked item, two items, verify_negative: the only possible triple is (0, 0, 1).
    rng = np.random.RandomState(3)
    k = 3
    X = rng.randn(1, k + 1)
    X[0, k] = 1
    Y = rng.randn(2, k + 1)
    indptr = np.array([0, 1], np.int64)
    indices = np.array([0], np.int32)
    row_of = np.array([0], np.int32)
    lr, reg = 1e-4, 0.1
    Xk, Yk = X.copy(), Y.copy()
    stats = np.zeros(2, np.int64)
    get_kernel("bpr", backend).bpr_epoch(indptr, indices, row_of, Xk, Yk, lr, reg, 1, True, True, 1, stats)
    assert stats[1] == 0

    def loss(x, yi, yj):
        return ref._triple_loss(x, yi, yj, reg)

    def fd(which, f):
        args = [X[0].copy(), Y[0].copy(), Y[1].copy()]
        e = 1e-6
        args[which][f] += e
        up = loss(*args)
        args[which][f] -= 2 * e
        return (up - loss(*args)) / (2 * e)

    for f in range(k):  # user coordinates (the constant last one is not trained)
        np.testing.assert_allclose((Xk[0, f] - X[0, f]) / -lr, fd(0, f), rtol=1e-5, atol=1e-8)
    assert Xk[0, k] == 1
    for f in range(k + 1):  # item factors and biases
        np.testing.assert_allclose((Yk[0, f] - Y[0, f]) / -lr, fd(1, f), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose((Yk[1, f] - Y[1, f]) / -lr, fd(2, f), rtol=1e-5, atol=1e-8)


def test_reference_rng_is_uniform_enough():
    rng = ref._XorShift(ref._seed_state(0, 0))
    draws = np.array([rng.draw(10) for _ in range(20000)])
    counts = np.bincount(draws, minlength=10)
    assert draws.min() == 0 and draws.max() == 9
    assert np.all(np.abs(counts - 2000) < 200)
