"""Weighted ALS (Hu, Koren & Volinsky 2008): the NumPy oracle for the ``als`` kernel.

One half-iteration solves, for every row ``u`` of a CSR matrix ``R`` (users x items for the
user side, items x users for the item side), the weighted ridge problem

    min_x  sum_i c_ui (p_ui - x . y_i)^2 + regularization * |x|^2

over *all* columns ``i``, with confidence ``c_ui = 1 + confidence_weight * r_ui`` on stored
entries (1 elsewhere) and preference ``p_ui = 1`` where ``r_ui > 0`` (0 elsewhere). Its
normal equations are ``A x = b`` with

    A = YtY + sum_{i in row u} (c_ui - 1) y_i y_i^T,   b = sum_{i in row u} c_ui p_ui y_i,

where ``YtY = Y^T Y + regularization * I`` is precomputed once per half-iteration and
passed in. ``least_squares_cg`` runs ``cg_steps`` conjugate-gradient steps per row,
warm-started from the current ``X[u]`` (as implicit's ``_solve_cg``); ``least_squares``
solves exactly (Cholesky). Rows without entries get ``x = 0``. Both write ``X`` in place.

Index safety: The interaction CSR's indices come from data and are not checked here. They are
reachable only through validated state: the estimator builds the CSR from its id index (codes
in ``[0, n_users)``/``[0, n_items)``), and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations

import numpy as np


def _row_system(indptr, indices, data, Y, YtY, confidence_weight, u):
    """Return ``(A, b)`` of the normal equations of row ``u``."""
    lo, hi = indptr[u], indptr[u + 1]
    Yu = Y[indices[lo:hi]].astype(np.float64)
    r = data[lo:hi].astype(np.float64)
    c = 1.0 + confidence_weight * r
    A = YtY.astype(np.float64) + (Yu.T * (c - 1.0)) @ Yu
    b = (c * (r > 0)) @ Yu
    return A, b


def _row_loss(x, indices, values, Y, regularization, confidence_weight):
    """Weighted loss of one row over all columns (float64), whose gradient is ``2 (A x - b)``."""
    pred = Y @ x
    c = np.ones(Y.shape[0])
    p = np.zeros(Y.shape[0])
    c[indices] = 1.0 + confidence_weight * values
    p[indices] = values > 0
    return float(np.sum(c * (p - pred) ** 2) + regularization * x @ x)


def least_squares_cg(indptr, indices, data, X, Y, YtY, confidence_weight, cg_steps, n_threads=1):
    """Update every row of ``X`` by ``cg_steps`` conjugate-gradient steps, in place.

    Parameters
    ----------
    indptr : ndarray of shape (n_rows + 1,), int64
    indices : ndarray of shape (nnz,), int32
    data : ndarray of shape (nnz,), float32
        Raw interaction strengths ``r`` (>= 0).
    X : ndarray of shape (n_rows, k), float32 or float64
        Factors to update (warm start), C-contiguous.
    Y : ndarray of shape (n_cols, k), same dtype
        Fixed factors of the other side.
    YtY : ndarray of shape (k, k), same dtype
        ``Y.T @ Y + regularization * I``.
    confidence_weight : float
    cg_steps : int
    n_threads : int, default=1
        Unused here; part of the shared signature.
    """
    dt = X.dtype.type
    for u in range(X.shape[0]):
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            X[u] = 0
            continue
        Yu = Y[indices[lo:hi]]
        v = data[lo:hi].astype(X.dtype)
        cm1 = dt(confidence_weight) * v
        c = cm1 + dt(1)
        x = X[u]
        r = (c * (v > 0)) @ Yu - YtY @ x - cm1 @ (Yu * (Yu @ x)[:, None])
        p = r.copy()
        rsold = r @ r
        if rsold < 1e-20:
            continue
        for _ in range(cg_steps):
            Ap = YtY @ p + (cm1 * (Yu @ p)) @ Yu
            alpha = rsold / (p @ Ap)
            x += alpha * p
            r -= alpha * Ap
            rsnew = r @ r
            if rsnew < 1e-20:
                break
            p = r + (rsnew / rsold) * p
            rsold = rsnew


def least_squares(indptr, indices, data, X, Y, YtY, confidence_weight, n_threads=1):
    """Solve every row of ``X`` exactly (Cholesky of the normal equations), in place.

    Same parameters as :func:`least_squares_cg`, without ``cg_steps``.
    """
    for u in range(X.shape[0]):
        if indptr[u] == indptr[u + 1]:
            X[u] = 0
            continue
        A, b = _row_system(indptr, indices, data, Y, YtY, confidence_weight, u)
        L = np.linalg.cholesky(A)
        X[u] = np.linalg.solve(L.T, np.linalg.solve(L, b))
