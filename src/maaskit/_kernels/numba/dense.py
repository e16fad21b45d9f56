"""Numba ``dense`` kernel: affine layer (BLAS GEMM), activations and fused losses.

Same contract as :mod:`maaskit._kernels.reference.dense`. GEMMs go to BLAS through
``np.dot``; the element-wise passes are compiled loops, parallel only above ``_PAR_MIN``
elements, since a parallel launch costs more than the work on small MLP batches.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange

IDENTITY, RELU, TANH, SIGMOID, GELU = 0, 1, 2, 3, 4
_PAR_MIN = 1 << 17
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT2PI = 0.3989422804014327


@nb.njit(cache=True, nogil=True)
def dense_forward(X, W, b, out):
    np.dot(X, W, out)
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            out[i, j] += b[j]


@nb.njit(cache=True, nogil=True)
def dense_backward(X, W, dout, dX, dW, db, need_dx):
    np.dot(X.T, dout, dW)
    n, m = dout.shape
    db[:] = 0
    for i in range(n):
        for j in range(m):
            db[j] += dout[i, j]
    if need_dx:
        np.dot(dout, W.T, dX)


@nb.njit(nogil=True, inline="always")
def _act(z, act):
    if act == RELU:
        return z if z > 0 else z * 0
    if act == TANH:
        return math.tanh(z)
    if act == SIGMOID:
        return 1 / (1 + math.exp(-z))
    if act == GELU:
        return 0.5 * z * (1 + math.erf(z * _INV_SQRT2))
    return z


@nb.njit(nogil=True, inline="always")
def _dact(z, a, da, act):
    if act == RELU:
        return da if a > 0 else da * 0
    if act == TANH:
        return da * (1 - a * a)
    if act == SIGMOID:
        return da * a * (1 - a)
    if act == GELU:
        cdf = 0.5 * (1 + math.erf(z * _INV_SQRT2))
        return da * (cdf + z * math.exp(-0.5 * z * z) * _INV_SQRT2PI)
    return da


@nb.njit(cache=True, nogil=True)
def _fwd_serial(z, act, o):
    for i in range(z.size):
        o[i] = _act(z[i], act)


@nb.njit(cache=True, nogil=True, parallel=True)
def _fwd_par(z, act, o):
    for i in prange(z.size):
        o[i] = _act(z[i], act)


@nb.njit(cache=True, nogil=True)
def _bwd_serial(z, a, da, act, dz):
    for i in range(z.size):
        dz[i] = _dact(z[i], a[i], da[i], act)


@nb.njit(cache=True, nogil=True, parallel=True)
def _bwd_par(z, a, da, act, dz):
    for i in prange(z.size):
        dz[i] = _dact(z[i], a[i], da[i], act)


@nb.njit(cache=True, nogil=True)
def activation_forward(Z, act, out):
    z = Z.reshape(-1)
    o = out.reshape(-1)
    if z.size >= _PAR_MIN:
        _fwd_par(z, act, o)
    else:
        _fwd_serial(z, act, o)


@nb.njit(cache=True, nogil=True)
def activation_backward(Z, A, dA, act, dZ):
    z = Z.reshape(-1)
    a = A.reshape(-1)
    da = dA.reshape(-1)
    dz = dZ.reshape(-1)
    if z.size >= _PAR_MIN:
        _bwd_par(z, a, da, act, dz)
    else:
        _bwd_serial(z, a, da, act, dz)


@nb.njit(nogil=True, inline="always")
def _softmax_ce_row(z, yi, scale, probs, grad):
    """Stable softmax of one logit row into ``probs``; ``grad = (probs - onehot) * scale``.

    ``probs`` and ``grad`` may be the same row. Returns the row's cross-entropy.
    """
    k = z.shape[0]
    mx = z[0]
    for j in range(1, k):
        if z[j] > mx:
            mx = z[j]
    s = 0.0
    for j in range(k):
        e = math.exp(z[j] - mx)
        probs[j] = e
        s += e
    inv = 1.0 / s
    for j in range(k):
        probs[j] *= inv
        grad[j] = probs[j] * scale
    grad[yi] -= scale
    return math.log(s) - (z[yi] - mx)


@nb.njit(cache=True, nogil=True)
def softmax_cross_entropy(logits, y, probs, grad):
    n = logits.shape[0]
    inv_n = 1.0 / n
    loss = 0.0
    for i in range(n):
        loss += _softmax_ce_row(logits[i], y[i], inv_n, probs[i], grad[i])
    return loss * inv_n


@nb.njit(cache=True, nogil=True)
def mse_loss(pred, target, grad):
    n, k = pred.shape
    inv_n = 1.0 / n
    loss = 0.0
    for i in range(n):
        for j in range(k):
            d = pred[i, j] - target[i, j]
            grad[i, j] = d * inv_n
            loss += float(d) * float(d)
    return loss * 0.5 * inv_n
