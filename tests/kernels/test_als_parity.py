"""The als kernel: Numba and Cython against the NumPy reference, and the maths it relies on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from maaskit._backend import get_kernel
from maaskit._kernels.reference import als as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-3, atol=2e-4), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _problem(dtype, n_rows=30, n_cols=25, k=6, seed=0):
    rng = np.random.RandomState(seed)
    R = sp.random(n_rows, n_cols, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    R.data = np.ceil(R.data * 5).astype(np.float32)  # play counts 1..5
    R = R.tolil()
    R.rows[3], R.data[3] = [], []  # an empty row must give zeros
    R = R.tocsr()
    R.sort_indices()
    X = rng.rand(n_rows, k).astype(dtype)
    Y = rng.rand(n_cols, k).astype(dtype)
    G = (Y.T @ Y + 0.1 * np.eye(k)).astype(dtype)
    return R.indptr.astype(np.int64), R.indices.astype(np.int32), R.data.astype(np.float32), X, Y, G


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_cg_matches_reference(backend, dtype, n_threads):
    indptr, indices, data, X, Y, G = _problem(dtype)
    Xr = X.copy()
    ref.least_squares_cg(indptr, indices, data, Xr, Y, G, 2.0, 3)
    Xk = X.copy()
    get_kernel("als", backend).least_squares_cg(indptr, indices, data, Xk, Y, G, 2.0, 3, n_threads)
    np.testing.assert_allclose(Xk, Xr, **TOL[dtype])
    assert np.all(Xk[3] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_matches_reference_and_solves_normal_equations(backend, dtype):
    indptr, indices, data, X, Y, G = _problem(dtype)
    Xk = X.copy()
    get_kernel("als", backend).least_squares(indptr, indices, data, Xk, Y, G, 2.0, 2)
    Xr = X.copy()
    ref.least_squares(indptr, indices, data, Xr, Y, G, 2.0)
    np.testing.assert_allclose(Xk, Xr, **TOL[dtype])
    for u in (0, 5, 17):
        A, b = ref._row_system(indptr, indices, data, Y, G, 2.0, u)
        np.testing.assert_allclose(A @ Xk[u].astype(np.float64), b, rtol=1e-3 if dtype == np.float32 else 1e-8,
                                   atol=1e-3 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cg_converges_to_exact_solution(backend):
    indptr, indices, data, X, Y, G = _problem(np.float64, k=5)
    exact = X.copy()
    ref.least_squares(indptr, indices, data, exact, Y, G, 1.5)
    Xk = X.copy()
    # CG in exact arithmetic terminates in k steps; a few more absorb rounding.
    get_kernel("als", backend).least_squares_cg(indptr, indices, data, Xk, Y, G, 1.5, 12, 1)
    np.testing.assert_allclose(Xk, exact, rtol=1e-6, atol=1e-8)


def test_normal_equations_are_the_gradient_of_the_weighted_loss():
    # Finite differences in float64: grad L(x) = 2 (A x - b), the residual CG drives to zero.
    indptr, indices, data, X, Y, G = _problem(np.float64, k=4)
    reg, cw, u = 0.1, 2.0, 7
    G = Y.T @ Y + reg * np.eye(4)
    A, b = ref._row_system(indptr, indices, data, Y, G, cw, u)
    lo, hi = indptr[u], indptr[u + 1]
    x = X[u].copy()
    eps = 1e-6
    fd = np.empty(4)
    for f in range(4):
        e = np.zeros(4)
        e[f] = eps
        fd[f] = (ref._row_loss(x + e, indices[lo:hi], data[lo:hi], Y, reg, cw)
                 - ref._row_loss(x - e, indices[lo:hi], data[lo:hi], Y, reg, cw)) / (2 * eps)
    np.testing.assert_allclose(fd, 2 * (A @ x - b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_input(backend):
    kern = get_kernel("als", backend)
    X = np.zeros((0, 3), np.float32)
    Y = np.ones((2, 3), np.float32)
    G = np.eye(3, dtype=np.float32)
    kern.least_squares_cg(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), X, Y, G, 1.0, 3, 2)
    kern.least_squares(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), X, Y, G, 1.0, 2)
