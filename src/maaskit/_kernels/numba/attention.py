"""Numba ``attention`` kernel: fused multi-head self-attention forward and backward.

Same contract as :mod:`maaskit._kernels.reference.attention`. One compiled call covers every
batch row and head (``prange`` over ``B * H``), so small serving shapes pay no Python cost per
head. Each query row is scored, soft-maxed (max-subtracted, masked keys skipped instead of
set to ``-inf``) and applied to ``v`` in one pass over the keys.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# No "nnan"/"ninf": masked rows rely on exact zero handling, never on inf arithmetic.
_FM = {"reassoc", "contract", "nsz", "arcp"}


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def _head_forward(q, k, v, kv, causal, scale, out, probs):
    T, D = q.shape
    zero = scale - scale  # a zero of the input dtype: keeps float32 sums in float32
    for i in range(T):
        p = probs[i]
        jmax = i + 1 if causal else T
        m = -np.inf
        for j in range(T):
            if j < jmax and kv[j] != 0:
                s = zero
                for d in range(D):
                    s += q[i, d] * k[j, d]
                s *= scale
                p[j] = s
                if s > m:
                    m = s
            else:
                p[j] = 0.0
        o = out[i]
        for d in range(D):
            o[d] = 0.0
        if m == -np.inf:
            continue  # no visible key: zero weights, zero output
        tot = zero
        for j in range(jmax):
            if kv[j] != 0:
                e = np.exp(p[j] - m)
                p[j] = e
                tot += e
        inv = 1.0 / tot
        for j in range(jmax):
            if kv[j] != 0:
                pj = p[j] * inv
                p[j] = pj
                for d in range(D):
                    o[d] += pj * v[j, d]


@nb.njit(cache=True, nogil=True, parallel=True)
def _forward(q, k, v, key_valid, causal, scale, out, probs):
    B, H = q.shape[0], q.shape[1]
    for bh in nb.prange(B * H):
        b = bh // H
        h = bh % H
        _head_forward(q[b, h], k[b, h], v[b, h], key_valid[b], causal, scale, out[b, h], probs[b, h])


@nb.njit(cache=True, nogil=True)
def _forward_serial(q, k, v, key_valid, causal, scale, out, probs):
    B, H = q.shape[0], q.shape[1]
    for bh in range(B * H):
        b = bh // H
        h = bh % H
        _head_forward(q[b, h], k[b, h], v[b, h], key_valid[b], causal, scale, out[b, h], probs[b, h])


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def _head_backward(do, q, k, v, o, p, scale, dq, dk, dv):
    T, D = q.shape
    zero = scale - scale
    dq[:, :] = 0.0
    dk[:, :] = 0.0
    dv[:, :] = 0.0
    for i in range(T):
        pi = p[i]
        delta = zero
        for d in range(D):
            delta += do[i, d] * o[i, d]
        for j in range(T):
            pij = pi[j]
            if pij == 0.0:
                continue  # masked (or underflowed) weight: contributes nothing
            dp = zero
            for d in range(D):
                dp += do[i, d] * v[j, d]
            ds = pij * (dp - delta) * scale
            for d in range(D):
                dv[j, d] += pij * do[i, d]
                dq[i, d] += ds * k[j, d]
                dk[j, d] += ds * q[i, d]


@nb.njit(cache=True, nogil=True, parallel=True)
def _backward(dout, q, k, v, out, probs, scale, dq, dk, dv):
    B, H = q.shape[0], q.shape[1]
    for bh in nb.prange(B * H):
        b = bh // H
        h = bh % H
        _head_backward(dout[b, h], q[b, h], k[b, h], v[b, h], out[b, h], probs[b, h], scale,
                       dq[b, h], dk[b, h], dv[b, h])


@nb.njit(cache=True, nogil=True)
def _backward_serial(dout, q, k, v, out, probs, scale, dq, dk, dv):
    B, H = q.shape[0], q.shape[1]
    for bh in range(B * H):
        b = bh // H
        h = bh % H
        _head_backward(dout[b, h], q[b, h], k[b, h], v[b, h], out[b, h], probs[b, h], scale,
                       dq[b, h], dk[b, h], dv[b, h])


# Below this many multiply-adds a call runs on one thread: starting and joining a parallel
# region costs more than it saves (and much more on a loaded machine).
PARALLEL_MIN_WORK = 1 << 20


def _parallel(q) -> bool:
    B, H, T, D = q.shape
    return B * H > 1 and B * H * T * T * D >= PARALLEL_MIN_WORK


def attention_forward(q, k, v, key_valid, causal, scale, out, probs):
    """Numba twin of :func:`maaskit._kernels.reference.attention.attention_forward`."""
    fn = _forward if _parallel(q) else _forward_serial
    fn(q, k, v, key_valid, bool(causal), q.dtype.type(scale), out, probs)


def attention_backward(dout, q, k, v, out, probs, scale, dq, dk, dv):
    """Numba twin of :func:`maaskit._kernels.reference.attention.attention_backward`."""
    fn = _backward if _parallel(q) else _backward_serial
    fn(dout, q, k, v, out, probs, q.dtype.type(scale), dq, dk, dv)
