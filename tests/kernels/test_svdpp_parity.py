"""The svdpp kernel: Numba and Cython against the NumPy reference, and its gradient."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from maaskit._backend import get_kernel

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=5e-4, atol=5e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, n_users=12, n_items=10, k=5, density=0.5, seed=0):
    rng = np.random.RandomState(seed)
    R = sp.random(n_users, n_items, density=density, format="csr", random_state=rng)
    R.data[:] = rng.randint(1, 6, R.nnz)
    R.sort_indices()
    indptr, indices = R.indptr.astype(np.int64), R.indices.astype(np.int32)
    ratings = R.data.astype(dtype)
    arrays = [(rng.randn(*s) * 0.1).astype(dtype) for s in
              ((n_users,), (n_items,), (n_users, k), (n_items, k), (n_items, k))]
    us = np.ones(n_users, dtype)
    its = (rng.rand(n_items) < 0.7).astype(dtype)
    order = rng.permutation(n_users).astype(np.int32)
    return indptr, indices, ratings, order, arrays, us, its


def _run(backend, prob, epochs=3, n_threads=1):
    indptr, indices, ratings, order, arrays, us, its = prob
    bu, bi, P, Q, Y = (a.copy() for a in arrays)
    kern = get_kernel("svdpp", backend)
    sse = [kern.svdpp_epoch(indptr, indices, ratings, order, 3.0, bu, bi, P, Q, Y, us, its,
                            0.02, 0.01, 0.05, 0.02, 0.3, n_threads) for _ in range(epochs)]
    return np.array(sse), bu, bi, P, Q, Y


@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_svdpp_epoch_matches_reference(backend, dtype):
    prob = _problem(dtype)
    ref = _run("numpy", prob)
    got = _run(backend, prob)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_frozen_items_do_not_move(backend):
    prob = _problem(np.float64)
    its = prob[-1]
    _, _, bi, _, Q, Y = _run(backend, prob, epochs=1)
    _, bi0, _, Q0, Y0 = prob[4]
    frozen = its == 0
    np.testing.assert_array_equal(Q[frozen], Q0[frozen])
    np.testing.assert_array_equal(Y[frozen], Y0[frozen])
    np.testing.assert_array_equal(bi[frozen], bi0[frozen])


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_hogwild_threads_still_learn(backend):
    prob = _problem(np.float32, n_users=200, n_items=50, k=8)
    sse, *_ = _run(backend, prob, epochs=10, n_threads=2)
    assert np.all(np.isfinite(sse)) and sse[-1] < sse[0]


def test_single_rating_update_is_the_loss_gradient():
    """For a user with one rating, the per-user update is one gradient step of the SVD++ loss."""
    rng = np.random.RandomState(3)
    k, lr, reg, regy, mu, r = 4, 1e-3, 0.07, 0.3, 3.0, 4.0
    p, q, y, b = rng.randn(k), rng.randn(k), rng.randn(k), rng.randn(2)

    def loss(th):
        p_, q_, y_, bu_, bi_ = th[:k], th[k:2 * k], th[2 * k:3 * k], th[3 * k], th[3 * k + 1]
        e = r - (mu + bu_ + bi_ + q_ @ (p_ + y_))  # |N(u)| = 1
        return 0.5 * e * e + 0.5 * (reg * (p_ @ p_ + q_ @ q_ + bu_ * bu_ + bi_ * bi_) + regy * y_ @ y_)

    th = np.concatenate([p, q, y, b])
    h, eye = 1e-6, np.eye(len(th))
    grad = np.array([(loss(th + h * eye[j]) - loss(th - h * eye[j])) / (2 * h) for j in range(len(th))])
    P, Q, Y, bu, bi = p[None].copy(), q[None].copy(), y[None].copy(), b[:1].copy(), b[1:].copy()
    one = np.ones(1)
    get_kernel("svdpp", "numpy").svdpp_epoch(
        np.array([0, 1], np.int64), np.zeros(1, np.int32), np.array([r]), np.zeros(1, np.int32), mu,
        bu, bi, P, Q, Y, one, one, lr, lr, reg, reg, regy, 1)
    step = np.concatenate([P[0] - p, Q[0] - q, Y[0] - y, bu - b[0], bi - b[1]])
    np.testing.assert_allclose(step, -lr * grad, rtol=1e-6, atol=1e-10)
