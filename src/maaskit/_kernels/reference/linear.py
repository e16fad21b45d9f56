"""NumPy reference of the ``linear`` kernel: per-sample losses and their derivatives.

A linear model computes raw scores ``Z = X @ W + b`` (a GEMM done by the caller with BLAS);
this kernel turns ``Z`` and the encoded targets ``Y`` into the weighted loss and ``dZ``, the
derivative of the loss with respect to ``Z``, in one pass. The caller then forms the
parameter gradient ``X.T @ dZ`` (another GEMM) and hands it to the ``optim`` kernel.

Loss codes (``LOSSES`` maps names to codes); ``r = z - y`` for regression, ``m = y * z`` with
``y`` in {-1, +1} for the margin losses, and ``Y`` one-hot for ``multinomial``:

====================  =====================================  ================================
code / name           loss l                                 derivative dl/dz
====================  =====================================  ================================
0 squared_error       0.5 r^2                                r
1 huber               0.5 r^2 if abs(r) <= eps else          r or eps * sign(r)
                      eps*abs(r) - 0.5 eps^2
2 epsilon_insensitive max(0, abs(r) - eps)                   sign(r) where abs(r) > eps
3 log_loss            log(1 + exp(-m))                       -y / (1 + exp(m))
4 hinge               max(0, 1 - m)                          -y where m < 1
5 squared_hinge       max(0, 1 - m)^2                        -2 y max(0, 1 - m)
6 modified_huber      max(0, 1 - m)^2 if m >= -1 else -4 m   -2 y max(0, 1 - m) or -4 y
7 multinomial         logsumexp(z_i) - sum_k y_ik z_ik       softmax(z_i) - y_i (rows of Y sum to 1)
====================  =====================================  ================================

Codes 0-6 act elementwise on every column of ``Z`` (several outputs, or one-vs-rest
classes trained together); code 7 acts on whole rows. Each row ``i`` is weighted by
``sample_weight[i]``.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np

LOSSES = {
    "squared_error": 0,
    "huber": 1,
    "epsilon_insensitive": 2,
    "log_loss": 3,
    "hinge": 4,
    "squared_hinge": 5,
    "modified_huber": 6,
    "multinomial": 7,
}


def loss_grad(loss, Z, Y, sample_weight, dZ, epsilon):
    """Compute the weighted loss of raw scores ``Z`` and write its derivative into ``dZ``.

    Parameters
    ----------
    loss : int
        Loss code, see :data:`LOSSES`.
    Z : ndarray of shape (n_samples, n_outputs), float32 or float64, C-contiguous
        Raw scores.
    Y : ndarray of shape (n_samples, n_outputs), same dtype
        Encoded targets: values (regression), +-1 (margin losses) or one-hot (multinomial).
    sample_weight : ndarray of shape (n_samples,), same dtype
        Row weights.
    dZ : ndarray of shape (n_samples, n_outputs), same dtype
        Output: ``sample_weight[i] * dl/dZ[i, k]``.
    epsilon : float
        Width of the ``huber`` and ``epsilon_insensitive`` losses (ignored by the others).

    Returns
    -------
    loss : float
        ``sum_i sample_weight[i] * sum_k l(Z[i, k], Y[i, k])`` (row loss for multinomial).
    """
    dt = Z.dtype.type
    sw = sample_weight[:, None]
    eps = dt(epsilon)
    if loss == 7:
        zmax = Z.max(axis=1, keepdims=True)
        e = np.exp(Z - zmax)
        s = e.sum(axis=1, keepdims=True)
        lse = zmax + np.log(s)
        li = lse[:, 0] - (Y * Z).sum(axis=1)
        dZ[...] = sw * (e / s - Y)
        return float(np.sum(sample_weight.astype(np.float64) * li))
    if loss <= 2:
        r = Z - Y
        a = np.abs(r)
        if loss == 0:
            l_, d = dt(0.5) * r * r, r
        elif loss == 1:
            inside = a <= eps
            l_ = np.where(inside, dt(0.5) * r * r, eps * a - dt(0.5) * eps * eps)
            d = np.where(inside, r, eps * np.sign(r))
        else:
            out = a > eps
            l_ = np.where(out, a - eps, dt(0))
            d = np.where(out, np.sign(r), dt(0))
    else:
        m = Y * Z
        if loss == 3:
            # log(1 + exp(-m)) and 1 / (1 + exp(m)) written to avoid overflow
            l_ = np.logaddexp(dt(0), -m).astype(Z.dtype)
            e = np.exp(-np.abs(m))
            d = -Y * np.where(m > 0, e / (1 + e), 1 / (1 + e))
        elif loss == 4:
            l_ = np.maximum(dt(0), 1 - m)
            d = np.where(m < 1, -Y, dt(0))
        elif loss == 5:
            h = np.maximum(dt(0), 1 - m)
            l_, d = h * h, dt(-2) * Y * h
        else:
            h = np.maximum(dt(0), 1 - m)
            l_ = np.where(m >= -1, h * h, dt(-4) * m)
            d = np.where(m >= -1, dt(-2) * Y * h, dt(-4) * Y)
    dZ[...] = sw * d
    return float(np.sum(sample_weight.astype(np.float64)[:, None] * l_))
