"""NumPy reference for the ``batchnorm`` kernel: batch normalisation per channel.

``x`` is ``(N, C, S)``: ``N`` samples, ``C`` channels (features), ``S`` positions per channel
(``H * W`` for images, 1 for flat features); callers reshape. Statistics are taken per channel
over the ``M = N * S`` values, with the biased variance for normalising and the unbiased one
for the running estimate (``torch.nn.functional.batch_norm`` semantics)::

    mean = sum(x) / M,  var = sum((x - mean)^2) / M,  rstd = 1 / sqrt(var + eps)
    out = (x - mean) * rstd * gamma + beta
    running_mean = (1 - momentum) * running_mean + momentum * mean
    running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

At prediction time the running statistics replace the batch ones (:func:`batchnorm_inference`).
Backward, with ``xhat = (x - mean) * rstd``::

    dbeta = sum(dout),  dgamma = sum(dout * xhat)
    dx = gamma * rstd / M * (M * dout - dbeta - xhat * dgamma)
"""

from __future__ import annotations

import numpy as np


def batchnorm_forward(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean, running_var):
    """Normalise with the batch statistics and update the running ones (training).

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Input.
    gamma, beta : ndarray of shape (C,)
        Scale and shift.
    eps : float
        Added to the variance.
    momentum : float
        Weight of the batch statistics in the running estimates (0 leaves them unchanged).
    out : ndarray of shape (N, C, S)
        Written with the result.
    mean, rstd : ndarray of shape (C,)
        Written with each channel's batch mean and inverse standard deviation.
    running_mean, running_var : ndarray of shape (C,)
        Updated in place.
    """
    M = x.shape[0] * x.shape[2]
    xd = x.astype(np.float64)
    mu = xd.mean(axis=(0, 2))
    xc = xd - mu[None, :, None]
    var = np.mean(xc * xc, axis=(0, 2))
    r = 1.0 / np.sqrt(var + eps)
    mean[...] = mu
    rstd[...] = r
    out[...] = xc * r[None, :, None] * gamma[None, :, None] + beta[None, :, None]
    unbiased = var * M / (M - 1) if M > 1 else var
    running_mean[...] = (1.0 - momentum) * running_mean + momentum * mu
    running_var[...] = (1.0 - momentum) * running_var + momentum * unbiased


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps, out):
    """Normalise with the running statistics (prediction).

    Parameters
    ----------
    x : ndarray of shape (N, C, S)
        Input.
    gamma, beta, running_mean, running_var : ndarray of shape (C,)
        Scale, shift and the running statistics.
    eps : float
        Added to the variance.
    out : ndarray of shape (N, C, S)
        Written with the result.
    """
    r = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    a = gamma * r
    out[...] = (x - running_mean[None, :, None]) * a[None, :, None] + beta[None, :, None]


def batchnorm_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    """Gradients of :func:`batchnorm_forward` (batch statistics).

    Parameters
    ----------
    dout : ndarray of shape (N, C, S)
        Gradient with respect to the output.
    x, gamma, mean, rstd : ndarray
        As in (and from) the forward pass.
    dx : ndarray of shape (N, C, S)
        Overwritten with the gradient with respect to ``x``.
    dgamma, dbeta : ndarray of shape (C,)
        Overwritten with the gradients with respect to ``gamma`` and ``beta``.
    """
    M = x.shape[0] * x.shape[2]
    dd = dout.astype(np.float64)
    xhat = (x - mean[None, :, None].astype(np.float64)) * rstd[None, :, None]
    db = dd.sum(axis=(0, 2))
    dg = np.sum(dd * xhat, axis=(0, 2))
    k = (gamma * rstd.astype(np.float64)) / M
    dx[...] = k[None, :, None] * (M * dd - db[None, :, None] - xhat * dg[None, :, None])
    dgamma[...] = dg
    dbeta[...] = db
