"""Numba ``bpr`` kernel: Hogwild SGD over sample chunks, xorshift64* per chunk (see the reference).

Index safety: User/item indices (the interaction CSR, and negatives drawn by the kernel's own
RNG in ``[0, n_items)``) are not checked here. They are reachable only through validated state:
the CSR is built from the id index, and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SM1 = np.uint64(0xBF58476D1CE4E5B9)
_SM2 = np.uint64(0x94D049BB133111EB)
_XS = np.uint64(0x2545F4914F6CDD1D)
_S12, _S25, _S27, _S30, _S31, _S32 = (np.uint64(s) for s in (12, 25, 27, 30, 31, 32))
_MAX_TRIES = 10


@nb.njit(cache=True, nogil=True)
def _seed_state(seed, t):
    z = seed + np.uint64(t + 1) * _GOLDEN + _GOLDEN
    z = (z ^ (z >> _S30)) * _SM1
    z = (z ^ (z >> _S27)) * _SM2
    z = z ^ (z >> _S31)
    if z == np.uint64(0):
        z = _GOLDEN
    return z


@nb.njit(cache=True, nogil=True, inline="always")
def _step(x):
    x ^= x >> _S12
    x ^= x << _S25
    x ^= x >> _S27
    return x


@nb.njit(cache=True, nogil=True, inline="always")
def _bounded(x, n):
    r = x * _XS
    return np.int64(((r >> _S32) * np.uint64(n)) >> _S32)


@nb.njit(cache=True, nogil=True, inline="always")
def _contains(indices, lo, hi, j):
    # Binary search in a sorted CSR row.
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v == j:
            return True
        if v < j:
            lo = mid + 1
        else:
            hi = mid
    return False


@nb.njit(cache=True, nogil=True, fastmath=True)
def _chunk(indptr, indices, row_of, X, Y, lr, reg, state, start, stop, verify, update_items):
    nnz = indices.shape[0]
    n_items = Y.shape[0]
    k = X.shape[1] - 1
    correct = 0
    skipped = 0
    one = X.dtype.type(1)
    for _ in range(start, stop):
        state = _step(state)
        pos = _bounded(state, nnz)
        u = row_of[pos]
        i = indices[pos]
        state = _step(state)
        j = _bounded(state, n_items)
        if verify:
            lo, hi = indptr[u], indptr[u + 1]
            tries = 1
            hit = _contains(indices, lo, hi, j)
            while hit and tries < _MAX_TRIES:
                state = _step(state)
                j = _bounded(state, n_items)
                tries += 1
                hit = _contains(indices, lo, hi, j)
            if hit:
                skipped += 1
                continue
        x = X[u]
        yi = Y[i]
        yj = Y[j]
        score = X.dtype.type(0)
        for f in range(k + 1):
            score += x[f] * (yi[f] - yj[f])
        z = X.dtype.type(1.0 / (1.0 + np.exp(np.float64(score))))
        if score > 0:
            correct += 1
        if update_items:
            for f in range(k):
                xu = x[f]
                x[f] += lr * (z * (yi[f] - yj[f]) - reg * xu)
                yi[f] += lr * (z * xu - reg * yi[f])
                yj[f] += lr * (-z * xu - reg * yj[f])
            yi[k] += lr * (z * one - reg * yi[k])
            yj[k] += lr * (-z * one - reg * yj[k])
        else:
            for f in range(k):
                x[f] += lr * (z * (yi[f] - yj[f]) - reg * x[f])
    return correct, skipped


@nb.njit(cache=True, nogil=True, parallel=True)
def _epoch(indptr, indices, row_of, X, Y, lr, reg, seed, verify, update_items, n_threads, out):
    nnz = indices.shape[0]
    for t in nb.prange(n_threads):
        state = _seed_state(seed, t)
        c, s = _chunk(indptr, indices, row_of, X, Y, lr, reg, state,
                      t * nnz // n_threads, (t + 1) * nnz // n_threads, verify, update_items)
        out[t, 0] = c
        out[t, 1] = s


def bpr_epoch(indptr, indices, row_of, X, Y, learning_rate, regularization, seed,
              verify_negative, update_items, n_threads, stats):
    """Numba twin of :func:`maaskit._kernels.reference.bpr.bpr_epoch`."""
    n_threads = max(1, int(n_threads))
    out = np.zeros((n_threads, 2), dtype=np.int64)
    if len(indices):
        dt = X.dtype.type
        old = nb.get_num_threads()
        nb.set_num_threads(max(1, min(n_threads, nb.config.NUMBA_NUM_THREADS)))
        try:
            _epoch(indptr, indices, row_of, X, Y, dt(learning_rate), dt(regularization),
                   np.uint64(int(seed)), bool(verify_negative), bool(update_items), n_threads, out)
        finally:
            nb.set_num_threads(old)
    stats[0] = out[:, 0].sum()
    stats[1] = out[:, 1].sum()
