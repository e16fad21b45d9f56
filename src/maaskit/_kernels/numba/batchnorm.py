"""Numba ``batchnorm`` kernel: batch normalisation per channel, forward and backward.

Same contract as :mod:`maaskit._kernels.reference.batchnorm`. Channels are independent:
every channel's statistics and output are one pass over its ``N * S`` values, accumulated
in float64. Large inputs run channels in parallel (each thread writes its own channels, so
there is no race); small ones stay on one thread, where a parallel region costs more than
the work.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Below this many values a call runs on one thread.
PARALLEL_MIN_SIZE = 1 << 17


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _channel_forward(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean,
                     running_var, c):
    N, _, S = x.shape
    M = N * S
    s = 0.0
    for n in range(N):
        for j in range(S):
            s += x[n, c, j]
    mu = s / M
    v = 0.0
    for n in range(N):
        for j in range(S):
            d = x[n, c, j] - mu
            v += d * d
    v /= M
    r = 1.0 / np.sqrt(v + eps)
    mean[c] = mu
    rstd[c] = r
    a = gamma[c] * r
    b = beta[c]
    for n in range(N):
        for j in range(S):
            out[n, c, j] = (x[n, c, j] - mu) * a + b
    unbiased = v * M / (M - 1) if M > 1 else v
    running_mean[c] = (1.0 - momentum) * running_mean[c] + momentum * mu
    running_var[c] = (1.0 - momentum) * running_var[c] + momentum * unbiased


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _forward_parallel(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean, running_var):
    for c in nb.prange(x.shape[1]):
        _channel_forward(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean,
                         running_var, c)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _forward_serial(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean, running_var):
    for c in range(x.shape[1]):
        _channel_forward(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean,
                         running_var, c)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _inference(x, gamma, beta, running_mean, running_var, eps, out):
    N, C, S = x.shape
    for n in range(N):
        for c in range(C):
            a = gamma[c] / np.sqrt(running_var[c] + eps)
            mu = running_mean[c]
            b = beta[c]
            for j in range(S):
                out[n, c, j] = (x[n, c, j] - mu) * a + b


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _channel_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta, c):
    N, _, S = x.shape
    M = N * S
    mu = mean[c]
    r = rstd[c]
    db = 0.0
    dg = 0.0
    for n in range(N):
        for j in range(S):
            g = dout[n, c, j]
            db += g
            dg += g * (x[n, c, j] - mu) * r
    k = gamma[c] * r / M
    for n in range(N):
        for j in range(S):
            xh = (x[n, c, j] - mu) * r
            dx[n, c, j] = k * (M * dout[n, c, j] - db - xh * dg)
    dgamma[c] = dg
    dbeta[c] = db


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _backward_parallel(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    for c in nb.prange(x.shape[1]):
        _channel_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta, c)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _backward_serial(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    for c in range(x.shape[1]):
        _channel_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta, c)


def batchnorm_forward(x, gamma, beta, eps, momentum, out, mean, rstd, running_mean, running_var):
    """Numba twin of :func:`maaskit._kernels.reference.batchnorm.batchnorm_forward`."""
    fn = _forward_parallel if x.size >= PARALLEL_MIN_SIZE and x.shape[1] > 1 else _forward_serial
    fn(x, gamma, beta, float(eps), float(momentum), out, mean, rstd, running_mean, running_var)


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps, out):
    """Numba twin of :func:`maaskit._kernels.reference.batchnorm.batchnorm_inference`."""
    _inference(x, gamma, beta, running_mean, running_var, float(eps), out)


def batchnorm_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    """Numba twin of :func:`maaskit._kernels.reference.batchnorm.batchnorm_backward`."""
    fn = _backward_parallel if x.size >= PARALLEL_MIN_SIZE and x.shape[1] > 1 else _backward_serial
    fn(dout, x, gamma, mean, rstd, dx, dgamma, dbeta)
