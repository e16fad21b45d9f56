"""Numba ``fasttext`` kernel: averaged feature embeddings + softmax head (see the reference).

SGD is sequential (one document after another, as fastText with one thread); prediction
runs documents in parallel.

Index safety: Feature indices (the documents' CSR) come from data and are not checked here.
They are reachable only through validated state: features are looked up in ``vocabulary_``
(unknown ones dropped), and a loaded ``embeddings_`` is checked to have one row per vocabulary
entry and ``coef_`` one row per class (``maaskit._schema``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _hidden(indptr, indices, E, i, h):
    dim = E.shape[1]
    lo = indptr[i]
    hi = indptr[i + 1]
    for k in range(dim):
        h[k] = 0
    for t in range(lo, hi):
        row = E[indices[t]]
        for k in range(dim):
            h[k] += row[k]
    if hi > lo:
        inv = E.dtype.type(1.0 / (hi - lo))
        for k in range(dim):
            h[k] *= inv
    return lo, hi


@nb.njit(cache=True, nogil=True, fastmath=True)
def train_epoch(indptr, indices, labels, order, lrs, E, W, b):
    """One SGD pass over ``order``; returns the summed cross-entropy before each update."""
    dim = E.shape[1]
    C = W.shape[0]
    h = np.empty(dim, dtype=E.dtype)
    gh = np.empty(dim, dtype=E.dtype)
    z = np.empty(C, dtype=np.float64)
    d = np.empty(C, dtype=E.dtype)
    loss = 0.0
    for t in range(order.shape[0]):
        i = order[t]
        lo, hi = _hidden(indptr, indices, E, i, h)
        m = -np.inf
        for c in range(C):
            s = b[c]
            for k in range(dim):
                s += W[c, k] * h[k]
            z[c] = s
            if z[c] > m:
                m = z[c]
        tot = 0.0
        for c in range(C):
            tot += math.exp(z[c] - m)
        lse = m + math.log(tot)
        y = labels[i]
        loss -= z[y] - lse
        for c in range(C):
            d[c] = math.exp(z[c] - lse)
        d[y] -= 1
        lr = E.dtype.type(lrs[t])
        for k in range(dim):
            gh[k] = 0
        for c in range(C):
            dc = d[c]
            for k in range(dim):
                gh[k] += W[c, k] * dc
            g = lr * dc
            for k in range(dim):
                W[c, k] -= g * h[k]
            b[c] -= g
        if hi > lo:
            step = lr * E.dtype.type(1.0 / (hi - lo))
            for k in range(dim):
                gh[k] *= step
            for t2 in range(lo, hi):
                row = E[indices[t2]]
                for k in range(dim):
                    row[k] -= gh[k]
    return loss


@nb.njit(cache=True, nogil=True, fastmath=True, parallel=True)
def predict_scores(indptr, indices, E, W, b, out):
    """Class scores ``W @ h + b`` of every document, written to ``out``."""
    n = indptr.shape[0] - 1
    dim = E.shape[1]
    C = W.shape[0]
    for i in nb.prange(n):
        h = np.empty(dim, dtype=E.dtype)
        _hidden(indptr, indices, E, i, h)
        for c in range(C):
            s = b[c]
            for k in range(dim):
                s += W[c, k] * h[k]
            out[i, c] = s
