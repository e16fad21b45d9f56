"""The svm_kernel kernel (SMO with WSS2): every backend against the NumPy reference.

Compiled backends shrink and cache rows, the reference does neither; all must reach the
same optimum: dual objective, intercept, decision values and the KKT conditions, whose
dual gradient is checked against central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference.svm_kernel import KERNELS, kernel_matrix, row_norms_sq

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-5, atol=1e-5)}
PARAMS = {"linear": (1.0, 0.0, 3.0), "poly": (0.2, 1.0, 3.0), "rbf": (0.3, 0.0, 3.0),
          "sigmoid": (0.05, -1.0, 3.0)}


def _problem(dtype, n=80, d=5, k=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 1.2
    labels = rng.randint(0, k, n)
    X = (centers[labels] + rng.randn(n, d)).astype(dtype)
    Y = np.where(labels[None, :] == np.arange(k)[:, None], 1.0, -1.0)
    cw = np.array([1.0, 3.0, 0.5])[:k]
    upper = np.ascontiguousarray(np.broadcast_to(cw[labels], Y.shape))
    return X, Y, upper


def _solve(backend, X, Y, upper, kernel, use_full=True, cache_rows=1000, shrinking=True,
           n_threads=1, tol=1e-6):
    kern = get_kernel("svm_kernel", backend)
    gamma, coef0, degree = PARAMS[kernel]
    code = KERNELS[kernel]
    sq = row_norms_sq(X)
    K = kernel_matrix(X, X, code, gamma, coef0, degree, sq, sq, np.float32)
    alpha = np.zeros(Y.shape)
    rho = np.zeros(Y.shape[0])
    obj = np.zeros(Y.shape[0])
    n_iter = kern.smo(X, sq, K, use_full, Y, upper, alpha, rho, obj, code, gamma, coef0, degree,
                      tol, 100000, cache_rows, shrinking, n_threads)
    return alpha, rho, obj, n_iter


def _decision(X, alpha, Y, rho, kernel):
    gamma, coef0, degree = PARAMS[kernel]
    K = kernel_matrix(X, X, KERNELS[kernel], gamma, coef0, degree)
    return K @ (alpha * Y).T - rho


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_smo_matches_reference(backend, dtype, kernel):
    X, Y, upper = _problem(dtype)
    ra, rrho, robj, _ = _solve("numpy", X, Y, upper, kernel)
    a, rho, obj, n_iter = _solve(backend, X, Y, upper, kernel)
    assert np.all(n_iter < 100000)
    np.testing.assert_allclose(obj, robj, **TOL[dtype])
    np.testing.assert_allclose(_decision(X, a, Y, rho, kernel), _decision(X, ra, Y, rrho, kernel),
                               rtol=2e-3, atol=2e-3)
    # feasibility: box and equality constraint
    assert np.all(a >= 0) and np.all(a <= upper + 1e-12)
    np.testing.assert_allclose((a * Y).sum(axis=1), 0.0, atol=1e-8)


@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_row_cache_with_eviction_and_threads(backend, kernel):
    X, Y, upper = _problem(np.float64, n=120)
    _, _, full_obj, _ = _solve(backend, X, Y, upper, kernel, use_full=True)
    # 3 cached rows out of 120: constant eviction; 2 threads split the classes
    _, _, obj, _ = _solve(backend, X, Y, upper, kernel, use_full=False, cache_rows=6, n_threads=2)
    np.testing.assert_allclose(obj, full_obj, rtol=1e-5)
    _, _, obj2, _ = _solve(backend, X, Y, upper, kernel, shrinking=False)
    np.testing.assert_allclose(obj2, full_obj, rtol=1e-5)


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_compiled_backends_follow_the_same_path(backend):
    X, Y, upper = _problem(np.float64)
    a1, rho1, _, it1 = _solve("numba", X, Y, upper, "rbf", tol=1e-3)
    a2, rho2, _, it2 = _solve(backend, X, Y, upper, "rbf", tol=1e-3)
    np.testing.assert_array_equal(it1, it2)
    np.testing.assert_allclose(a1, a2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kkt_conditions_and_gradient(backend):
    X, Y, upper = _problem(np.float64)
    a, rho, obj, _ = _solve(backend, X, Y, upper, "rbf", tol=1e-6)
    gamma, coef0, degree = PARAMS["rbf"]
    K = kernel_matrix(X, X, KERNELS["rbf"], gamma, coef0, degree)
    for c in range(Y.shape[0]):
        y, C, al = Y[c], upper[c], a[c]
        Q = y[:, None] * K * y[None, :]

        def f(v):
            return 0.5 * v @ Q @ v - v.sum()

        grad = Q @ al - 1.0
        h = 1e-6
        for i in range(0, len(al), 13):
            e = np.zeros_like(al)
            e[i] = h
            np.testing.assert_allclose((f(al + e) - f(al - e)) / (2 * h), grad[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(obj[c], f(al), rtol=1e-5)
        # KKT with the intercept b = -rho: y_i f(x_i) >= 1 at a_i = 0, <= 1 at C, = 1 free
        margin = y * (K @ (al * y) - rho[c])
        free = (al > 1e-8) & (al < C - 1e-8)
        assert np.all(margin[al <= 0] >= 1 - 1e-3)
        assert np.all(margin[al >= C] <= 1 + 1e-3)
        np.testing.assert_allclose(margin[free], 1.0, atol=1e-3)


def test_matches_libsvm_on_breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Y = np.where(y == 1, 1.0, -1.0)[None, :]
    upper = np.ones_like(Y)
    kern = get_kernel("svm_kernel", "cython")
    gamma = 1.0 / (X.shape[1] * X.var())
    sq = row_norms_sq(X)
    K = kernel_matrix(X, X, 2, gamma, 0.0, 3.0, sq, sq, np.float32)
    alpha, rho, obj = np.zeros_like(Y), np.zeros(1), np.zeros(1)
    kern.smo(X, sq, K, True, Y, upper, alpha, rho, obj, 2, gamma, 0.0, 3.0, 1e-3, 10**6, 10, True, 1)
    sk = SVC(C=1.0, kernel="rbf", gamma="scale", tol=1e-3).fit(X, y)
    ay = np.zeros(len(y))
    ay[sk.support_] = sk.dual_coef_[0]
    K64 = kernel_matrix(X, X, 2, gamma, 0.0, 3.0)
    sk_obj = 0.5 * ay @ K64 @ ay - np.abs(ay).sum()
    np.testing.assert_allclose(obj[0], sk_obj, rtol=1e-5)
    np.testing.assert_allclose(-rho[0], sk.intercept_[0], atol=1e-3)
    assert (alpha[0] > 0).sum() == len(sk.support_)
