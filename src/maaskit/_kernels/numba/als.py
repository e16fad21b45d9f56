"""Numba ``als`` kernel: per-row conjugate gradient / Cholesky, rows in parallel (see the reference).

Index safety: The interaction CSR's indices come from data and are not checked here. They are
reachable only through validated state: the estimator builds the CSR from its id index (codes
in ``[0, n_users)``/``[0, n_items)``), and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

_BLOCKS_PER_THREAD = 64


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _dot(a, b, k):
    s = a.dtype.type(0)
    for f in range(k):
        s += a[f] * b[f]
    return s


@nb.njit(cache=True, nogil=True, fastmath=True)
def _cg_row(x, Y, YtY, idx, val, cw, cg_steps, r, p, Ap):
    k = x.shape[0]
    one = x.dtype.type(1)
    cwt = x.dtype.type(cw)
    for a in range(k):
        r[a] = -_dot(YtY[a], x, k)
    for t in range(idx.shape[0]):
        y = Y[idx[t]]
        v = x.dtype.type(val[t])
        cm1 = cwt * v
        temp = (cm1 + one if v > 0 else x.dtype.type(0)) - cm1 * _dot(y, x, k)
        for f in range(k):
            r[f] += temp * y[f]
    for f in range(k):
        p[f] = r[f]
    rsold = _dot(r, r, k)
    if rsold < 1e-20:
        return
    for _ in range(cg_steps):
        for a in range(k):
            Ap[a] = _dot(YtY[a], p, k)
        for t in range(idx.shape[0]):
            cm1 = cwt * x.dtype.type(val[t])
            if cm1 != 0:
                y = Y[idx[t]]
                temp = cm1 * _dot(y, p, k)
                for f in range(k):
                    Ap[f] += temp * y[f]
        alpha = rsold / _dot(p, Ap, k)
        for f in range(k):
            x[f] += alpha * p[f]
            r[f] -= alpha * Ap[f]
        rsnew = _dot(r, r, k)
        if rsnew < 1e-20:
            break
        beta = rsnew / rsold
        for f in range(k):
            p[f] = r[f] + beta * p[f]
        rsold = rsnew


@nb.njit(cache=True, nogil=True, parallel=True)
def _cg_all(indptr, indices, data, X, Y, YtY, cw, cg_steps, n_blocks):
    n, k = X.shape
    for blk in nb.prange(n_blocks):
        r = np.empty(k, X.dtype)
        p = np.empty(k, X.dtype)
        Ap = np.empty(k, X.dtype)
        for u in range(blk * n // n_blocks, (blk + 1) * n // n_blocks):
            lo, hi = indptr[u], indptr[u + 1]
            if lo == hi:
                X[u, :] = 0
                continue
            _cg_row(X[u], Y, YtY, indices[lo:hi], data[lo:hi], cw, cg_steps, r, p, Ap)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _chol_row(x, Y, YtY, idx, val, cw, A, b):
    k = x.shape[0]
    for a in range(k):
        b[a] = 0
        for c in range(k):
            A[a, c] = YtY[a, c]
    for t in range(idx.shape[0]):
        y = Y[idx[t]]
        v = val[t]
        cm1 = cw * v
        c_ = cm1 + 1.0 if v > 0 else 0.0
        for a in range(k):
            b[a] += c_ * y[a]
            ya = cm1 * y[a]
            for c in range(a + 1):
                A[a, c] += ya * y[c]
    # In-place Cholesky (lower triangle), then two triangular solves.
    for j in range(k):
        s = A[j, j]
        for m in range(j):
            s -= A[j, m] * A[j, m]
        d = np.sqrt(s) if s > 0 else 1e-30
        A[j, j] = d
        for i in range(j + 1, k):
            s = A[i, j]
            for m in range(j):
                s -= A[i, m] * A[j, m]
            A[i, j] = s / d
    for i in range(k):
        s = b[i]
        for m in range(i):
            s -= A[i, m] * b[m]
        b[i] = s / A[i, i]
    for i in range(k - 1, -1, -1):
        s = b[i]
        for m in range(i + 1, k):
            s -= A[m, i] * b[m]
        b[i] = s / A[i, i]
    for i in range(k):
        x[i] = b[i]


@nb.njit(cache=True, nogil=True, parallel=True)
def _chol_all(indptr, indices, data, X, Y, YtY, cw, n_blocks):
    n, k = X.shape
    for blk in nb.prange(n_blocks):
        A = np.empty((k, k), np.float64)
        b = np.empty(k, np.float64)
        for u in range(blk * n // n_blocks, (blk + 1) * n // n_blocks):
            lo, hi = indptr[u], indptr[u + 1]
            if lo == hi:
                X[u, :] = 0
                continue
            _chol_row(X[u], Y, YtY, indices[lo:hi], data[lo:hi], cw, A, b)


def _n_blocks(n_rows, n_threads):
    return max(1, min(n_rows, max(1, n_threads) * _BLOCKS_PER_THREAD))


def _with_threads(n_threads, fn, *args):
    old = nb.get_num_threads()
    nb.set_num_threads(max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS)))
    try:
        fn(*args)
    finally:
        nb.set_num_threads(old)


def least_squares_cg(indptr, indices, data, X, Y, YtY, confidence_weight, cg_steps, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.als.least_squares_cg`."""
    if X.shape[0] == 0:
        return
    _with_threads(n_threads, _cg_all, indptr, indices, data, X, Y, YtY, float(confidence_weight),
                  int(cg_steps), _n_blocks(X.shape[0], n_threads))


def least_squares(indptr, indices, data, X, Y, YtY, confidence_weight, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.als.least_squares`."""
    if X.shape[0] == 0:
        return
    _with_threads(n_threads, _chol_all, indptr, indices, data, X, Y, YtY, float(confidence_weight),
                  _n_blocks(X.shape[0], n_threads))
