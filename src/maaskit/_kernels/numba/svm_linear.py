"""Numba ``svm_linear`` kernel: dual coordinate descent for linear SVMs (see the reference).

Same contract as :mod:`maaskit._kernels.reference.svm_linear`; this twin adds liblinear's
shrinking and solves the one-vs-rest problems of a multi-class fit in parallel.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _xorshift(state):
    # xorshift64*: the same stream in every backend, so permutations agree.
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * np.uint64(2685821657736338717)


@nb.njit(cache=True, nogil=True)
def _row_dot(X, data, indices, indptr, sparse, i, w):
    s = 0.0
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * w[indices[p]]
    else:
        for f in range(X.shape[1]):
            s += X[i, f] * w[f]
    return s


@nb.njit(cache=True, nogil=True)
def _row_axpy(X, data, indices, indptr, sparse, i, a, w):
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            w[indices[p]] += a * data[p]
    else:
        for f in range(X.shape[1]):
            w[f] += a * X[i, f]


@nb.njit(cache=True, nogil=True)
def _solve_one(X, data, indices, indptr, sparse, n, y, upper, alpha, w, l2_loss, bias,
               tol, max_iter, seed, shrinking):
    d = w.shape[0] - 1
    diag = np.zeros(n)
    qd = np.empty(n)
    ub = np.empty(n)
    for i in range(n):
        if l2_loss:
            diag[i] = 0.5 / upper[i]
            ub[i] = np.inf
        else:
            ub[i] = upper[i]
        sq = 0.0
        if sparse:
            for p in range(indptr[i], indptr[i + 1]):
                sq += data[p] * data[p]
        else:
            for f in range(d):
                sq += X[i, f] * X[i, f]
        qd[i] = diag[i] + sq + bias * bias
    # w is rebuilt from alpha so that a warm start is consistent.
    for f in range(d + 1):
        w[f] = 0.0
    for i in range(n):
        if alpha[i] != 0.0:
            _row_axpy(X, data, indices, indptr, sparse, i, alpha[i] * y[i], w)
            w[d] += alpha[i] * y[i] * bias
    index = np.arange(n)
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed) * np.uint64(2654435761) + np.uint64(88172645463325252)
    active = n
    pgmax_old = np.inf
    pgmin_old = -np.inf
    it = 0
    while it < max_iter:
        pgmax_new = -np.inf
        pgmin_new = np.inf
        for j in range(active):
            k = j + np.int64(_xorshift(state) % np.uint64(active - j))
            t = index[j]
            index[j] = index[k]
            index[k] = t
        s = 0
        while s < active:
            i = index[s]
            yi = y[i]
            g = yi * (_row_dot(X, data, indices, indptr, sparse, i, w) + bias * w[d]) - 1.0 \
                + diag[i] * alpha[i]
            pg = 0.0
            a = alpha[i]
            if a == 0.0:
                if shrinking and g > pgmax_old:
                    active -= 1
                    t = index[s]
                    index[s] = index[active]
                    index[active] = t
                    continue
                elif g < 0.0:
                    pg = g
            elif a == ub[i]:
                if shrinking and g < pgmin_old:
                    active -= 1
                    t = index[s]
                    index[s] = index[active]
                    index[active] = t
                    continue
                elif g > 0.0:
                    pg = g
            else:
                pg = g
            if pg > pgmax_new:
                pgmax_new = pg
            if pg < pgmin_new:
                pgmin_new = pg
            if abs(pg) > 1e-12:
                na = min(max(a - g / qd[i], 0.0), ub[i])
                alpha[i] = na
                delta = (na - a) * yi
                _row_axpy(X, data, indices, indptr, sparse, i, delta, w)
                w[d] += delta * bias
            s += 1
        it += 1
        if pgmax_new - pgmin_new <= tol:
            if active == n:
                break
            active = n
            pgmax_old = np.inf
            pgmin_old = -np.inf
            continue
        pgmax_old = pgmax_new if pgmax_new > 0.0 else np.inf
        pgmin_old = pgmin_new if pgmin_new < 0.0 else -np.inf
    return it


@nb.njit(cache=True, nogil=True, parallel=True)
def _solve_all(X, data, indices, indptr, sparse, n, Y, upper, alpha, W, l2_loss, bias, tol,
               max_iter, seed, shrinking, n_iter):
    for c in nb.prange(Y.shape[0]):
        n_iter[c] = _solve_one(X, data, indices, indptr, sparse, n, Y[c], upper[c], alpha[c],
                               W[c], l2_loss, bias, tol, max_iter, seed + c, shrinking)


def _run(X, data, indices, indptr, sparse, n, Y, upper, alpha, W, l2_loss, bias, tol,
         max_iter, seed, shrinking, n_threads):
    n_iter = np.zeros(Y.shape[0], dtype=np.int64)
    nt = max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS, Y.shape[0]))
    args = (X, data, indices, indptr, bool(sparse), int(n), Y, upper, alpha, W, bool(l2_loss),
            float(bias), float(tol), int(max_iter), int(seed), bool(shrinking))
    if nt == 1:
        for c in range(Y.shape[0]):
            n_iter[c] = _solve_one(*args[:6], Y[c], upper[c], alpha[c], W[c], *args[10:14],
                                   int(seed) + c, bool(shrinking))
        return n_iter
    old = nb.get_num_threads()
    nb.set_num_threads(nt)
    try:
        _solve_all(*args, n_iter)
    finally:
        nb.set_num_threads(old)
    return n_iter


def dual_cd(X, Y, upper, alpha, W, l2_loss, bias, tol, max_iter, seed, shrinking=True,
            n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.svm_linear.dual_cd` (dense X)."""
    dummy_f = np.zeros(1, dtype=X.dtype)
    dummy_i = np.zeros(1, dtype=np.int32)
    dummy_p = np.zeros(2, dtype=np.int64)
    return _run(X, dummy_f, dummy_i, dummy_p, False, X.shape[0], Y, upper, alpha, W, l2_loss,
                bias, tol, max_iter, seed, shrinking, n_threads)


def dual_cd_csr(data, indices, indptr, n_features, Y, upper, alpha, W, l2_loss, bias, tol,
                max_iter, seed, shrinking=True, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.svm_linear.dual_cd_csr` (CSR X)."""
    dummy_x = np.zeros((1, 1), dtype=data.dtype)
    return _run(dummy_x, data, indices, indptr, True, indptr.shape[0] - 1, Y, upper, alpha, W,
                l2_loss, bias, tol, max_iter, seed, shrinking, n_threads)
