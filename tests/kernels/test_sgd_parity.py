"""The sgd kernel: Numba and Cython against the NumPy reference, and its gradient."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, n=400, n_users=15, n_items=12, k=5, seed=0):
    rng = np.random.RandomState(seed)
    users = rng.randint(0, n_users, n).astype(np.int32)
    items = rng.randint(0, n_items, n).astype(np.int32)
    ratings = rng.randint(1, 6, n).astype(dtype)
    P = (rng.randn(n_users, k) * 0.1).astype(dtype)
    Q = (rng.randn(n_items, k) * 0.1).astype(dtype)
    bu = (rng.randn(n_users) * 0.1).astype(dtype)
    bi = (rng.randn(n_items) * 0.1).astype(dtype)
    us = np.ones(n_users, dtype)
    its = (rng.rand(n_items) < 0.7).astype(dtype)  # some items frozen
    return users, items, ratings, bu, bi, P, Q, us, its


def _run(backend, prob, epochs=3, n_threads=1):
    users, items, ratings, bu, bi, P, Q, us, its = (a.copy() for a in prob)
    kern = get_kernel("sgd", backend)
    sse = [kern.sgd_epoch(users, items, ratings, 3.0, bu, bi, P, Q, us, its, 0.02, 0.01, 0.05, 0.02, n_threads)
           for _ in range(epochs)]
    return np.array(sse), bu, bi, P, Q


@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_epoch_matches_reference(backend, dtype):
    prob = _problem(dtype)
    ref = _run("numpy", prob)
    got = _run(backend, prob)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_frozen_rows_do_not_move(backend):
    prob = _problem(np.float64)
    _, _, _, bu, bi, P, Q, us, its = prob
    _, bu2, bi2, P2, Q2 = _run(backend, prob, epochs=1)
    frozen = its == 0
    np.testing.assert_array_equal(Q2[frozen], Q[frozen])
    np.testing.assert_array_equal(bi2[frozen], bi[frozen])
    assert not np.allclose(Q2[~frozen], Q[~frozen])


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_hogwild_threads_still_learn(backend):
    prob = _problem(np.float32, n=6000, n_users=40, n_items=30)
    sse, *_ = _run(backend, prob, epochs=10, n_threads=2)
    assert np.all(np.isfinite(sse)) and sse[-1] < sse[0]


def test_update_is_the_loss_gradient():
    """One update equals minus lr times the finite-difference gradient of the per-rating loss."""
    rng = np.random.RandomState(3)
    k, lr, reg, mu, r = 4, 1e-3, 0.07, 3.0, 4.0
    pu, qi, b = rng.randn(k), rng.randn(k), rng.randn(2)

    def loss(theta):
        p, q, bu_, bi_ = theta[:k], theta[k:2 * k], theta[2 * k], theta[2 * k + 1]
        e = r - (mu + bu_ + bi_ + p @ q)
        return 0.5 * e * e + 0.5 * reg * (p @ p + q @ q + bu_ * bu_ + bi_ * bi_)

    theta = np.concatenate([pu, qi, b])
    h = 1e-6
    grad = np.array([(loss(theta + h * np.eye(len(theta))[j]) - loss(theta - h * np.eye(len(theta))[j])) / (2 * h)
                     for j in range(len(theta))])
    kern = get_kernel("sgd", "numpy")
    P, Q = pu[None].copy(), qi[None].copy()
    bu, bi = b[:1].copy(), b[1:].copy()
    one = np.ones(1)
    kern.sgd_epoch(np.zeros(1, np.int32), np.zeros(1, np.int32), np.array([r]), mu, bu, bi, P, Q,
                   one, one, lr, lr, reg, reg, 1)
    step = np.concatenate([P[0] - pu, Q[0] - qi, bu - b[0], bi - b[1]])
    np.testing.assert_allclose(step, -lr * grad, rtol=1e-6, atol=1e-10)
