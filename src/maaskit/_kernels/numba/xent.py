"""Numba ``xent`` kernel: softmax cross-entropy of logit rows, gradient written in place.

Same contract as :mod:`maaskit._kernels.reference.xent`. Rows run in parallel (``prange``)
when the call is large; float32 uses a polynomial ``exp`` (Cephes ``expf``, ~1 ulp) that
LLVM vectorises, where ``math.exp`` stays a scalar libm call: with a catalogue of a few
thousand items the exponentials are most of a training step's softmax.

Index safety: ``y`` comes from data and is not checked here; the caller guarantees
``0 <= y[i] < k``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from .fastexp import _expf

_FM = {"reassoc", "contract", "nsz", "arcp"}
#: Below this many logits the rows run on one thread (a parallel region costs more).
PARALLEL_MIN_SIZE = 1 << 16


def _exp(x):  # pragma: no cover - typed through the overload below
    raise NotImplementedError


@overload(_exp, inline="always")
def _exp_overload(x):
    if x == types.float32:
        return lambda x: _expf(x)
    return lambda x: math.exp(x)


@nb.njit(cache=True, nogil=True, fastmath=_FM, inline="always")
def _row(z, yi, scale):
    k = z.shape[0]
    mx = z[0]
    for j in range(1, k):
        if z[j] > mx:
            mx = z[j]
    zy = z[yi] - mx
    s = z[0] - z[0]
    for j in range(k):
        e = _exp(z[j] - mx)
        z[j] = e
        s += e
    inv = scale / s
    for j in range(k):
        z[j] *= inv
    z[yi] -= scale
    return math.log(float(s)) - float(zy)


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def _serial(logits, y, scale):
    total = 0.0
    for i in range(logits.shape[0]):
        total += _row(logits[i], y[i], scale)
    return total


@nb.njit(cache=True, nogil=True, fastmath=_FM, parallel=True)
def _parallel(logits, y, scale):
    n = logits.shape[0]
    losses = np.empty(n, dtype=np.float64)
    for i in nb.prange(n):
        losses[i] = _row(logits[i], y[i], scale)
    return losses.sum()


def softmax_xent(logits, y, scale):
    """Numba twin of :func:`maaskit._kernels.reference.xent.softmax_xent`."""
    if logits.shape[0] == 0:
        return 0.0
    fn = _parallel if logits.size >= PARALLEL_MIN_SIZE else _serial
    return float(fn(logits, y, logits.dtype.type(scale)))
