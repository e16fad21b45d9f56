"""NumPy reference for the ``layernorm`` kernel: layer normalisation over the last axis.

``out = (x - mean) * rstd * gamma + beta`` row by row, with ``rstd = 1 / sqrt(var + eps)``
(biased variance, as ``torch.nn.functional.layer_norm``). ``x`` is ``(N, D)``: callers flatten
the leading axes. The forward pass stores ``mean`` and ``rstd`` for the backward pass::

    xhat = (x - mean) * rstd,   g = dout * gamma
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
    dgamma = sum_rows(dout * xhat),   dbeta = sum_rows(dout)

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np


def layernorm_forward(x, gamma, beta, eps, out, mean, rstd):
    """Normalise every row of ``x`` and apply the affine map.

    Parameters
    ----------
    x : ndarray of shape (N, D)
        Input rows.
    gamma, beta : ndarray of shape (D,)
        Scale and shift.
    eps : float
        Added to the variance.
    out : ndarray of shape (N, D)
        Written with the result.
    mean, rstd : ndarray of shape (N,)
        Written with each row's mean and inverse standard deviation.
    """
    mu = x.mean(axis=1)
    xc = x - mu[:, None]
    var = np.mean(xc * xc, axis=1)
    r = 1.0 / np.sqrt(var + eps)
    mean[...] = mu
    rstd[...] = r
    out[...] = xc * rstd[:, None] * gamma + beta


def layernorm_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    """Gradients of :func:`layernorm_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, D)
        Gradient with respect to the output.
    x, gamma, mean, rstd : ndarray
        As in (and from) the forward pass.
    dx : ndarray of shape (N, D)
        Overwritten with the gradient with respect to ``x``.
    dgamma, dbeta : ndarray of shape (D,)
        Overwritten with the gradients with respect to ``gamma`` and ``beta``.
    """
    xhat = (x - mean[:, None]) * rstd[:, None]
    g = dout * gamma
    dx[...] = rstd[:, None] * (g - g.mean(axis=1, keepdims=True)
                               - xhat * np.mean(g * xhat, axis=1, keepdims=True))
    dgamma[...] = np.sum(dout * xhat, axis=0)
    dbeta[...] = np.sum(dout, axis=0)
