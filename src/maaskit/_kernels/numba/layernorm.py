"""Numba ``layernorm`` kernel: fused layer normalisation forward and backward.

Same contract as :mod:`maaskit._kernels.reference.layernorm`. Each row is two passes
(statistics, then the affine output) with no temporaries. Large inputs run rows in parallel;
the parameter gradients are then reduced per thread chunk and summed at the end, so there is
no write race. Small inputs (a Transformer mini-batch is ~1e4 values) stay on one thread:
opening a parallel region would cost more than the work.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Below this many values a call runs on one thread.
PARALLEL_MIN_SIZE = 1 << 17


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _row_forward(x, gamma, beta, eps, out, mean, rstd, i):
    D = x.shape[1]
    s = 0.0
    for d in range(D):
        s += x[i, d]
    mu = s / D
    v = 0.0
    for d in range(D):
        c = x[i, d] - mu
        v += c * c
    r = 1.0 / np.sqrt(v / D + eps)
    mean[i] = mu
    rstd[i] = r
    for d in range(D):
        out[i, d] = (x[i, d] - mu) * r * gamma[d] + beta[d]


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _forward_parallel(x, gamma, beta, eps, out, mean, rstd):
    for i in nb.prange(x.shape[0]):
        _row_forward(x, gamma, beta, eps, out, mean, rstd, i)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _forward_serial(x, gamma, beta, eps, out, mean, rstd):
    for i in range(x.shape[0]):
        _row_forward(x, gamma, beta, eps, out, mean, rstd, i)


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _rows_backward(dout, x, gamma, mean, rstd, dx, pg, pb, lo, hi):
    D = x.shape[1]
    for i in range(lo, hi):
        mu = mean[i]
        r = rstd[i]
        sg = 0.0
        sgx = 0.0
        for d in range(D):
            xh = (x[i, d] - mu) * r
            g = dout[i, d] * gamma[d]
            sg += g
            sgx += g * xh
            pg[d] += dout[i, d] * xh
            pb[d] += dout[i, d]
        sg /= D
        sgx /= D
        for d in range(D):
            xh = (x[i, d] - mu) * r
            dx[i, d] = r * (dout[i, d] * gamma[d] - sg - xh * sgx)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _reduce(pg, pb, dgamma, dbeta):
    for d in range(pg.shape[1]):
        a = 0.0
        b = 0.0
        for c in range(pg.shape[0]):
            a += pg[c, d]
            b += pb[c, d]
        dgamma[d] = a
        dbeta[d] = b


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _backward_parallel(dout, x, gamma, mean, rstd, dx, dgamma, dbeta, n_chunks):
    N, D = x.shape
    pg = np.zeros((n_chunks, D), dtype=np.float64)
    pb = np.zeros((n_chunks, D), dtype=np.float64)
    for c in nb.prange(n_chunks):
        _rows_backward(dout, x, gamma, mean, rstd, dx, pg[c], pb[c],
                       N * c // n_chunks, N * (c + 1) // n_chunks)
    _reduce(pg, pb, dgamma, dbeta)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _backward_serial(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    N, D = x.shape
    pg = np.zeros((1, D), dtype=np.float64)
    pb = np.zeros((1, D), dtype=np.float64)
    _rows_backward(dout, x, gamma, mean, rstd, dx, pg[0], pb[0], 0, N)
    _reduce(pg, pb, dgamma, dbeta)


def layernorm_forward(x, gamma, beta, eps, out, mean, rstd):
    """Numba twin of :func:`maaskit._kernels.reference.layernorm.layernorm_forward`."""
    fn = _forward_parallel if x.size >= PARALLEL_MIN_SIZE else _forward_serial
    fn(x, gamma, beta, float(eps), out, mean, rstd)


def layernorm_backward(dout, x, gamma, mean, rstd, dx, dgamma, dbeta):
    """Numba twin of :func:`maaskit._kernels.reference.layernorm.layernorm_backward`."""
    n_chunks = min(nb.get_num_threads(), x.shape[0] // 64)
    if x.size >= PARALLEL_MIN_SIZE and n_chunks > 1:
        _backward_parallel(dout, x, gamma, mean, rstd, dx, dgamma, dbeta, n_chunks)
    else:
        _backward_serial(dout, x, gamma, mean, rstd, dx, dgamma, dbeta)
