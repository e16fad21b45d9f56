"""The svm_linear kernel (dual coordinate descent): every backend against the NumPy reference.

The solvers follow different coordinate paths (the reference does not shrink), so they are
compared where they must agree: the optimum (dual objective, weights, decision values), the
KKT conditions, and the dual gradient, which is checked by central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from maaskit._backend import get_kernel
from maaskit._kernels.reference.svm_linear import dual_objective, primal_objective

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-6, atol=1e-6)}


def _problem(dtype, n=60, d=5, k=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 1.5
    labels = rng.randint(0, k, n)
    X = (centers[labels] + rng.randn(n, d)).astype(dtype)
    Y = np.where(labels[None, :] == np.arange(k)[:, None], 1.0, -1.0)
    cw = np.array([1.0, 2.0, 0.5])[:k]
    upper = np.ascontiguousarray(np.broadcast_to(0.3 * cw[labels], Y.shape))
    return X, Y, upper


def _solve(backend, X, Y, upper, l2, shrinking=True, sparse=False, n_threads=1, tol=1e-8):
    kern = get_kernel("svm_linear", backend)
    alpha = np.zeros(Y.shape)
    W = np.zeros((Y.shape[0], X.shape[1] + 1))
    if sparse:
        S = sp.csr_matrix(X)
        n_iter = kern.dual_cd_csr(S.data, S.indices.astype(np.int32), S.indptr.astype(np.int64),
                                  X.shape[1], Y, upper, alpha, W, l2, 1.0, tol, 20000, 3,
                                  shrinking, n_threads)
    else:
        n_iter = kern.dual_cd(X, Y, upper, alpha, W, l2, 1.0, tol, 20000, 3, shrinking, n_threads)
    return alpha, W, n_iter


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l2", [False, True])
def test_dual_cd_matches_reference(backend, dtype, l2):
    X, Y, upper = _problem(dtype)
    ref_alpha, ref_W, _ = _solve("numpy", X.astype(np.float64), Y, upper, l2)
    alpha, W, n_iter = _solve(backend, X, Y, upper, l2)
    assert np.all(n_iter < 20000)
    for c in range(Y.shape[0]):
        ref = dual_objective(X.astype(np.float64), Y[c], upper[c], ref_alpha[c], l2, 1.0)
        got = dual_objective(X.astype(np.float64), Y[c], upper[c], alpha[c], l2, 1.0)
        np.testing.assert_allclose(got, ref, **TOL[dtype])
    np.testing.assert_allclose(W, ref_W, **TOL[dtype])
    # w is the maintained sum_i alpha_i y_i x~_i
    Xb = np.hstack([X.astype(np.float64), np.ones((X.shape[0], 1))])
    np.testing.assert_allclose(W, (alpha * Y) @ Xb, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_equals_dense(backend, dtype):
    X, Y, upper = _problem(dtype)
    X[np.abs(X) < 0.8] = 0  # real sparsity
    _, W_dense, _ = _solve(backend, X, Y, upper, True)
    _, W_csr, _ = _solve(backend, X, Y, upper, True, sparse=True)
    np.testing.assert_allclose(W_csr, W_dense, **TOL[dtype])


@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("l2", [False, True])
def test_shrinking_and_threads_reach_same_optimum(backend, l2):
    X, Y, upper = _problem(np.float64, n=120)
    a1, W1, _ = _solve(backend, X, Y, upper, l2, shrinking=False)
    a2, W2, _ = _solve(backend, X, Y, upper, l2, shrinking=True, n_threads=2)
    np.testing.assert_allclose(W2, W1, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_compiled_backends_follow_the_same_path(backend):
    # Same xorshift permutation stream: Numba and Cython do identical arithmetic.
    X, Y, upper = _problem(np.float64)
    a1, W1, it1 = _solve("numba", X, Y, upper, False, tol=1e-3)
    a2, W2, it2 = _solve(backend, X, Y, upper, False, tol=1e-3)
    np.testing.assert_array_equal(it1, it2)
    np.testing.assert_allclose(W1, W2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("l2", [False, True])
def test_kkt_conditions_and_gradient(backend, l2):
    X, Y, upper = _problem(np.float64)
    alpha, W, _ = _solve(backend, X, Y, upper, l2)
    Xb = np.hstack([X, np.ones((X.shape[0], 1))])
    for c in range(Y.shape[0]):
        y, C, a = Y[c], upper[c], alpha[c]
        D = 0.5 / C if l2 else np.zeros_like(C)
        Q = (y[:, None] * Xb) @ (y[:, None] * Xb).T + np.diag(D)
        grad = Q @ a - 1.0
        # central finite differences of the dual objective
        h = 1e-6
        for i in range(0, len(a), 7):
            e = np.zeros_like(a)
            e[i] = h
            fd = (dual_objective(X, y, C, a + e, l2, 1.0) - dual_objective(X, y, C, a - e, l2, 1.0)) / (2 * h)
            np.testing.assert_allclose(fd, grad[i], rtol=1e-5, atol=1e-6)
        ub = np.inf if l2 else C
        assert np.all(a >= 0) and np.all(a <= ub)
        pg = np.where(a <= 0, np.minimum(grad, 0), np.where(a >= ub, np.maximum(grad, 0), grad))
        assert np.max(np.abs(pg)) < 1e-6
        # strong duality: primal = -dual at the optimum
        p = primal_objective(X, y, C, W[c], l2, 1.0)
        np.testing.assert_allclose(p, -dual_objective(X, y, C, a, l2, 1.0), rtol=1e-6)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_matches_liblinear_on_breast_cancer(loss):
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Y = np.where(y == 1, 1.0, -1.0)[None, :]
    upper = np.ones_like(Y)
    l2 = loss == "squared_hinge"
    _, W, _ = _solve("cython", X, Y, upper, l2, tol=1e-6)
    sk = LinearSVC(loss=loss, dual=True, tol=1e-8, max_iter=200000).fit(X, y)
    w_sk = np.r_[sk.coef_[0], sk.intercept_[0]]
    ours = primal_objective(X, Y[0], upper[0], W[0], l2, 1.0)
    theirs = primal_objective(X, Y[0], upper[0], w_sk, l2, 1.0)
    assert ours <= theirs * (1 + 1e-5)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
