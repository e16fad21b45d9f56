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
from numba.extending import intrinsic, overload

_FM = {"reassoc", "contract", "nsz", "arcp"}
#: Below this many logits the rows run on one thread (a parallel region costs more).
PARALLEL_MIN_SIZE = 1 << 16


@intrinsic
def _f32_from_bits(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits."""
    if bits != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _expf(x):
    """Cephes expf for float32 x <= 0 (clamped to [-87.3, 0]); see the attention kernel."""
    x = min(max(x, np.float32(-87.3)), np.float32(0.0))
    n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
    r = x - n * np.float32(0.693359375) + n * np.float32(2.12194440e-4)
    y = np.float32(1.9875691500e-4)
    y = y * r + np.float32(1.3981999507e-3)
    y = y * r + np.float32(8.3334519073e-3)
    y = y * r + np.float32(4.1665795894e-2)
    y = y * r + np.float32(1.6666665459e-1)
    y = y * r + np.float32(5.0000001201e-1)
    y = y * r * r + r + np.float32(1.0)
    return y * _f32_from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))


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
