"""Reference ``svm_linear`` kernel: dual coordinate descent for linear SVMs (NumPy, the oracle).

Solves, for every row ``y`` of ``Y`` (labels in {-1, +1}) independently, the dual of

    min_w  1/2 ||w||^2 + sum_i C_i xi_i          (hinge, ``l2_loss=False``)
    min_w  1/2 ||w||^2 + sum_i C_i xi_i^2        (squared hinge, ``l2_loss=True``)

with ``xi_i = max(0, 1 - y_i (w . x_i + bias * w_b))``: the bias is an extra feature of
constant value ``bias`` whose weight is regularised, as in liblinear (Hsieh et al. 2008,
"A dual coordinate descent method for large-scale linear SVM"). The dual is

    min_a  1/2 a^T (Q + D) a - sum_i a_i,   0 <= a_i <= U_i

with ``Q_ij = y_i y_j x~_i . x~_j``; hinge: ``D = 0, U_i = C_i``; squared hinge:
``D_ii = 1 / (2 C_i), U_i = inf``. One coordinate step solves for ``a_i`` exactly and keeps
``w = sum_i a_i y_i x~_i`` up to date. The solver stops when the spread of the projected
gradient, ``max PG - min PG``, is at most ``tol`` (liblinear's criterion), or after
``max_iter`` passes.

Contract shared by all backends: ``Y`` and ``upper`` are float64 of shape (n_classes,
n_samples); ``alpha`` (n_classes, n_samples) float64 is the warm start and receives the
solution; ``W`` (n_classes, n_features + 1) float64 receives ``w`` with ``w_b`` in the last
column. ``seed`` drives the per-pass coordinate permutation. The return value is an int64
array of passes per class. Compiled twins also implement shrinking and thread over classes;
this reference ignores ``shrinking`` and ``n_threads``.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _solve(Xb: np.ndarray, y, upper, alpha, w, l2_loss, tol, max_iter, rng) -> int:
    n = Xb.shape[0]
    diag = 0.5 / upper if l2_loss else np.zeros(n)
    ub = np.full(n, np.inf) if l2_loss else upper.astype(np.float64)
    qd = diag + np.einsum("ij,ij->i", Xb, Xb)
    w[:] = (alpha * y) @ Xb
    it = 0
    while it < max_iter:
        pg_max, pg_min = -np.inf, np.inf
        for i in rng.permutation(n):
            g = y[i] * (Xb[i] @ w) - 1.0 + diag[i] * alpha[i]
            if alpha[i] == 0.0:
                pg = min(g, 0.0)
            elif alpha[i] == ub[i]:
                pg = max(g, 0.0)
            else:
                pg = g
            pg_max, pg_min = max(pg_max, pg), min(pg_min, pg)
            if abs(pg) > 1e-12:
                new = min(max(alpha[i] - g / qd[i], 0.0), ub[i])
                w += (new - alpha[i]) * y[i] * Xb[i]
                alpha[i] = new
        it += 1
        if pg_max - pg_min <= tol:
            break
    return it


def _augment(X, bias: float) -> np.ndarray:
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return np.hstack([X.astype(np.float64), np.full((X.shape[0], 1), float(bias))])


def dual_cd(X, Y, upper, alpha, W, l2_loss, bias, tol, max_iter, seed, shrinking=True,
            n_threads=1):
    """Solve the one-vs-rest linear SVM duals by coordinate descent (dense ``X``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    Y : ndarray of shape (n_classes, n_samples), float64
        Labels in {-1, +1}, one problem per row.
    upper : ndarray of shape (n_classes, n_samples), float64
        Per-sample ``C_i`` (C times class weight).
    alpha : ndarray of shape (n_classes, n_samples), float64
        Warm start; overwritten with the dual solution.
    W : ndarray of shape (n_classes, n_features + 1), float64
        Output weights, bias weight last.
    l2_loss : bool
        Squared hinge when True, hinge otherwise.
    bias : float
        Value of the constant feature (0 disables the intercept).
    tol : float
        Stopping tolerance on the projected-gradient spread.
    max_iter : int
        Maximum passes over the data.
    seed : int
        Seed of the coordinate order (class ``c`` uses ``seed + c``).
    shrinking : bool, default=True
        Ignored here.
    n_threads : int, default=1
        Ignored here.

    Returns
    -------
    n_iter : ndarray of shape (n_classes,), int64
    """
    Xb = _augment(X, bias)
    out = np.zeros(Y.shape[0], dtype=np.int64)
    for c in range(Y.shape[0]):
        rng = np.random.RandomState((seed + c) % 2**32)
        out[c] = _solve(Xb, Y[c], upper[c], alpha[c], W[c], l2_loss, tol, max_iter, rng)
    return out


def dual_cd_csr(data, indices, indptr, n_features, Y, upper, alpha, W, l2_loss, bias, tol,
                max_iter, seed, shrinking=True, n_threads=1):
    """Same as :func:`dual_cd` for ``X`` given as CSR arrays.

    Parameters
    ----------
    data, indices, indptr : ndarray
        CSR parts of ``X`` (indices int32, indptr int64).
    n_features : int
        Number of columns of ``X``.
    Y, upper, alpha, W, l2_loss, bias, tol, max_iter, seed, shrinking, n_threads
        As in :func:`dual_cd`.

    Returns
    -------
    n_iter : ndarray of shape (n_classes,), int64
    """
    X = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, n_features))
    return dual_cd(X, Y, upper, alpha, W, l2_loss, bias, tol, max_iter, seed)


def dual_objective(X, y, upper, alpha, l2_loss, bias) -> float:
    """Value of the dual objective ``1/2 a^T (Q + D) a - sum a`` for one problem.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y, upper, alpha : ndarray of shape (n_samples,)
    l2_loss : bool
    bias : float

    Returns
    -------
    value : float
    """
    Xb = _augment(X, bias)
    w = (alpha * y) @ Xb
    diag = 0.5 / upper if l2_loss else 0.0
    return float(0.5 * w @ w + 0.5 * np.sum(diag * alpha**2) - alpha.sum())


def primal_objective(X, y, upper, w, l2_loss, bias) -> float:
    """Value of the primal objective ``1/2 ||w~||^2 + sum C_i loss_i`` for one problem.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y, upper : ndarray of shape (n_samples,)
    w : ndarray of shape (n_features + 1,)
        Weights with the bias weight last.
    l2_loss : bool
    bias : float

    Returns
    -------
    value : float
    """
    Xb = _augment(X, bias)
    xi = np.maximum(0.0, 1.0 - y * (Xb @ w))
    return float(0.5 * w @ w + np.sum(upper * (xi**2 if l2_loss else xi)))
