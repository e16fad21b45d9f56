"""Reference ``svm_kernel`` kernel: SMO for kernel SVMs (NumPy, the oracle).

Solves, for every row ``y`` of ``Y`` (labels in {-1, +1}), the C-SVC dual of libsvm

    min_a  1/2 a^T Q a - sum_i a_i,   0 <= a_i <= C_i,   y^T a = 0,   Q_ij = y_i y_j K(x_i, x_j)

by sequential minimal optimisation with second-order working-set selection (WSS2, Fan, Chen
& Lin 2005, "Working set selection using second order information for training SVM"). The
intercept is ``-rho`` with ``rho`` computed as libsvm's ``calculate_rho``; the decision
function is ``sum_i a_i y_i K(x_i, x) - rho``. The solver stops when the maximal KKT
violation ``max_{I_up} -y G - min_{I_low} -y G`` is below ``tol`` or after ``max_iter``
steps.

Kernels (``kernel`` code): 0 linear ``x.z``; 1 poly ``(gamma x.z + coef0)^degree``;
2 rbf ``exp(-gamma ||x - z||^2)``; 3 sigmoid ``tanh(gamma x.z + coef0)``.

Contract shared by all backends: ``X`` (n_samples, n_features) float32/float64;
``sqnorm`` (n_samples,) float64 squared row norms; ``K`` a precomputed (n_samples,
n_samples) float32 kernel matrix used when ``use_full`` (otherwise rows are computed on
demand into a cache of ``cache_rows`` rows); ``Y`` and ``upper`` (n_classes, n_samples)
float64; ``alpha`` (n_classes, n_samples) float64 warm start, overwritten with the solution;
``rho`` and ``obj`` (n_classes,) float64 outputs (intercept term and dual objective). Returns
the int64 number of SMO steps per class. Compiled twins add shrinking and the row cache;
this reference always builds the full kernel matrix and ignores ``shrinking``,
``cache_rows`` and ``n_threads``.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np

KERNELS = {"linear": 0, "poly": 1, "rbf": 2, "sigmoid": 3}
TAU = 1e-12


def kernel_matrix(X, Z, kernel: int, gamma: float, coef0: float, degree: float,
                  sqnorm_x=None, sqnorm_z=None, dtype=np.float64) -> np.ndarray:
    """Kernel matrix ``K(X, Z)`` through one BLAS GEMM.

    With ``dtype=np.float64`` everything is computed in float64. With ``np.float32`` the
    whole pipeline runs in single precision (libsvm also caches kernel values as float):
    the GEMM is twice as fast and the elementwise passes are SIMD. For rbf the rows are
    first centred (the kernel is translation invariant), which removes the cancellation
    that ``|x|^2 + |z|^2 - 2 x.z`` would otherwise suffer in float32.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_x, n_features)
    Z : ndarray or sparse matrix of shape (n_z, n_features)
    kernel : int
        Kernel code (0 linear, 1 poly, 2 rbf, 3 sigmoid).
    gamma, coef0, degree : float
        Kernel parameters.
    sqnorm_x, sqnorm_z : ndarray, default=None
        Squared row norms (computed when missing; only rbf uses them, and only in float64).
    dtype : {np.float64, np.float32}, default=np.float64
        Output precision.

    Returns
    -------
    K : ndarray of shape (n_x, n_z)
    """
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        Z = Z.toarray() if hasattr(Z, "toarray") else np.asarray(Z)
        same = X is Z
        if kernel == 2:
            shift = Z.mean(axis=0, dtype=np.float64)
            X = (X - shift).astype(np.float32)
            Z = X if same else (Z - shift).astype(np.float32)
            sqnorm_x = np.einsum("ij,ij->i", X, X)
            sqnorm_z = sqnorm_x if same else np.einsum("ij,ij->i", Z, Z)
        else:
            X = X.astype(np.float32, copy=False)
            Z = X if same else Z.astype(np.float32, copy=False)
        G = X @ Z.T
        g = np.float32(gamma)
    else:
        if not hasattr(X, "toarray"):
            X = np.asarray(X, dtype=np.float64)
        if not hasattr(Z, "toarray"):
            Z = np.asarray(Z, dtype=np.float64)
        G = X @ Z.T
        G = np.asarray(G.toarray() if hasattr(G, "toarray") else G, dtype=np.float64)
        if kernel == 2:
            sqnorm_x = row_norms_sq(X) if sqnorm_x is None else sqnorm_x
            sqnorm_z = row_norms_sq(Z) if sqnorm_z is None else sqnorm_z
        g = gamma
    if kernel == 0:
        return G
    if kernel == 2:
        # exp(-g |x|^2 - g |z|^2 + 2 g x.z), clipped at 1, in place
        G *= 2 * g
        G -= (g * sqnorm_x).astype(dtype)[:, None]
        G -= (g * sqnorm_z).astype(dtype)[None, :]
        np.minimum(G, 0, out=G)
        return np.exp(G, out=G)
    G *= g
    G += dtype.type(coef0)
    if kernel == 1:
        return G**degree
    return np.tanh(G, out=G)


def row_norms_sq(X) -> np.ndarray:
    """Squared Euclidean norm of every row, in float64.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, n_features)

    Returns
    -------
    sqnorm : ndarray of shape (n,), float64
    """
    if hasattr(X, "multiply"):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    X = np.asarray(X, dtype=np.float64)
    return np.einsum("ij,ij->i", X, X)


def _solve(K, y, C, a, tol, max_iter):
    QD = np.diag(K).copy()
    G = -1.0 + y * (K @ (a * y))
    it = 0
    while it < max_iter:
        up = np.where(y > 0, a < C, a > 0)  # a_t y_t may increase
        low = np.where(y > 0, a > 0, a < C)  # a_t y_t may decrease
        myg = -y * G
        if not up.any() or not low.any():
            break
        i = int(np.flatnonzero(up)[np.argmax(myg[up])])
        gmax = myg[i]
        gd = gmax - myg
        gmax2 = np.max(-myg[low])
        cand = low & (gd > 0)
        if gmax + gmax2 < tol or not cand.any():
            break
        qc = QD[i] + QD - 2.0 * K[i]
        qc = np.where(qc > 0, qc, TAU)
        score = np.where(cand, -(gd**2) / qc, np.inf)
        j = int(np.argmin(score))
        it += 1
        # Move along y_i a_i + y_j a_j = const, then clip to the box (libsvm's update).
        old_i, old_j = a[i], a[j]
        q = max(QD[i] + QD[j] - 2.0 * K[i, j], TAU)
        if y[i] != y[j]:
            delta = (-G[i] - G[j]) / q
            diff = a[i] - a[j]
            a[i] += delta
            a[j] += delta
            if diff > 0 and a[j] < 0:
                a[j], a[i] = 0.0, diff
            elif diff <= 0 and a[i] < 0:
                a[i], a[j] = 0.0, -diff
            if diff > C[i] - C[j]:
                if a[i] > C[i]:
                    a[i], a[j] = C[i], C[i] - diff
            elif a[j] > C[j]:
                a[j], a[i] = C[j], C[j] + diff
        else:
            delta = (G[i] - G[j]) / q
            s = a[i] + a[j]
            a[i] -= delta
            a[j] += delta
            if s > C[i]:
                if a[i] > C[i]:
                    a[i], a[j] = C[i], s - C[i]
            elif a[j] < 0:
                a[j], a[i] = 0.0, s
            if s > C[j]:
                if a[j] > C[j]:
                    a[j], a[i] = C[j], s - C[j]
            elif a[i] < 0:
                a[i], a[j] = 0.0, s
        G += y * (K[i] * ((a[i] - old_i) * y[i]) + K[j] * ((a[j] - old_j) * y[j]))
    return it, G


def _rho(y, C, a, G) -> float:
    yg = y * G
    upper, lower = a >= C, a <= 0
    free = ~upper & ~lower
    if free.any():
        return float(yg[free].mean())
    ub_set = (upper & (y < 0)) | (lower & (y > 0))
    lb_set = (upper & (y > 0)) | (lower & (y < 0))
    ub = yg[ub_set].min() if ub_set.any() else np.inf
    lb = yg[lb_set].max() if lb_set.any() else -np.inf
    return float(0.5 * (ub + lb))


def smo(X, sqnorm, K, use_full, Y, upper, alpha, rho, obj, kernel, gamma, coef0, degree, tol,
        max_iter, cache_rows, shrinking=True, n_threads=1):
    """Solve the one-vs-rest C-SVC duals by SMO with WSS2.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sqnorm : ndarray of shape (n_samples,), float64
    K : ndarray of shape (n_samples, n_samples), float32
        Precomputed kernel matrix, read when ``use_full``.
    use_full : bool
    Y : ndarray of shape (n_classes, n_samples), float64
        Labels in {-1, +1}.
    upper : ndarray of shape (n_classes, n_samples), float64
        Per-sample ``C_i``.
    alpha : ndarray of shape (n_classes, n_samples), float64
        Warm start; overwritten with the solution.
    rho, obj : ndarray of shape (n_classes,), float64
        Outputs: ``rho`` (the intercept is ``-rho``) and the dual objective.
    kernel : int
    gamma, coef0, degree : float
    tol : float
    max_iter : int
        Maximum SMO steps per class.
    cache_rows : int
        Ignored here.
    shrinking : bool, default=True
        Ignored here.
    n_threads : int, default=1
        Ignored here.

    Returns
    -------
    n_iter : ndarray of shape (n_classes,), int64
    """
    if not use_full:
        K = kernel_matrix(X, X, kernel, gamma, coef0, degree, sqnorm, sqnorm, np.float32)
    K = K.astype(np.float64)
    out = np.zeros(Y.shape[0], dtype=np.int64)
    for c in range(Y.shape[0]):
        y, C, a = Y[c], upper[c], alpha[c]
        out[c], G = _solve(K, y, C, a, tol, max_iter)
        rho[c] = _rho(y, C, a, G)
        obj[c] = 0.5 * float(a @ (G - 1.0))
    return out
