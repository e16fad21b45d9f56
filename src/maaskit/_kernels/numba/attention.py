"""Numba ``attention`` kernel: fused multi-head self-attention forward and backward.

Same contract as :mod:`maaskit._kernels.reference.attention`. One compiled call covers every
batch row and head (``prange`` over ``B * H``), so small serving shapes pay no Python cost per
head. Two per-head code paths, picked per call by :data:`GEMM_MIN_LENGTH`:

* scalar loops (small heads): each query row is scored, soft-maxed (max-subtracted, masked
  keys skipped) and applied to ``v`` in one pass over the keys;
* GEMM (larger heads): the ``T x T x D`` products (two forward, four backward) are BLAS
  calls (``np.dot`` on 2-D C/F-contiguous views; transposed operands are read in place) and
  the masked softmax is a vectorised sweep per row, with a polynomial ``exp`` for float32
  (``np.exp`` stays a scalar libm call, ~8 ns per weight: as costly as the GEMMs at T=128).
  While the threaded version runs, BLAS is held to one thread (see ``_one_blas_thread``).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import contextlib

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from .fastexp import _expf

# No "nnan"/"ninf": masked rows rely on exact zero handling, never on inf arithmetic.
_FM = {"reassoc", "contract", "nsz", "arcp"}


def _exp(x):  # pragma: no cover - typed through the overload below
    raise NotImplementedError


@overload(_exp, inline="always")
def _exp_overload(x):
    """``exp`` of a max-subtracted score: the vectorisable float32 one, libm's for float64,
    both clamped at 0 from above so that a masked key's weight stays finite (see _expf)."""
    if x == types.float32:
        return lambda x: _expf(x)
    return lambda x: np.exp(min(x, 0.0))


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def _head_forward(q, k, v, kv, causal, scale, ninf, one, out, probs):
    T, D = q.shape
    zero = scale - scale  # a zero of the input dtype: keeps float32 sums in float32
    for i in range(T):
        p = probs[i]
        jmax = i + 1 if causal else T
        m = ninf
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
        if m == ninf:
            continue  # no visible key: zero weights, zero output
        tot = zero
        for j in range(jmax):
            if kv[j] != 0:
                e = _exp(p[j] - m)
                p[j] = e
                tot += e
        inv = one / tot
        for j in range(jmax):
            if kv[j] != 0:
                pj = p[j] * inv
                p[j] = pj
                for d in range(D):
                    o[d] += pj * v[j, d]


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


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def _head_forward_gemm(q, k, v, mk, causal, scale, ninf, one, out, probs):
    T = q.shape[0]
    zero = scale - scale
    np.dot(q, k.T, probs)  # raw scores; scaled in the max sweep below
    for i in range(T):
        p = probs[i]
        jmax = i + 1 if causal else T
        m = ninf
        for j in range(jmax):
            s = p[j] * scale
            p[j] = s
            if mk[j] != 0 and s > m:
                m = s
        if m == ninf:
            p[:] = 0.0  # no visible key: zero weights, zero output
            continue
        tot = zero
        for j in range(jmax):
            e = _exp(p[j] - m) * mk[j]  # masked key: finite * 0 == exactly 0
            p[j] = e
            tot += e
        for j in range(jmax, T):
            p[j] = 0.0
        inv = one / tot
        for j in range(jmax):
            p[j] *= inv
    np.dot(probs, v, out)


@nb.njit(cache=True, nogil=True, fastmath=_FM)
def _head_backward_gemm(do, q, k, v, o, p, scale, dq, dk, dv, ds):
    T, D = q.shape
    zero = scale - scale
    np.dot(do, v.T, ds)  # dP
    for i in range(T):
        delta = zero
        for d in range(D):
            delta += do[i, d] * o[i, d]
        for j in range(T):
            ds[i, j] = p[i, j] * (ds[i, j] - delta) * scale
    np.dot(ds, k, dq)
    np.dot(ds.T, q, dk)
    np.dot(p.T, do, dv)


@nb.njit(cache=True, nogil=True, inline="always")
def _forward_head(q, k, v, key_valid, mk, causal, scale, consts, out, probs, gemm, bh):
    H = q.shape[1]
    b = bh // H
    h = bh % H
    if gemm:
        _head_forward_gemm(q[b, h], k[b, h], v[b, h], mk[b], causal, scale, consts[0],
                           consts[1], out[b, h], probs[b, h])
    else:
        _head_forward(q[b, h], k[b, h], v[b, h], key_valid[b], causal, scale, consts[0],
                      consts[1], out[b, h], probs[b, h])


@nb.njit(cache=True, nogil=True, inline="always")
def _backward_head(dout, q, k, v, out, probs, scale, dq, dk, dv, gemm, bh):
    H, T = q.shape[1], q.shape[2]
    b = bh // H
    h = bh % H
    if gemm:
        ds = np.empty((T, T), q.dtype)  # dP, then dS; 64 KiB at T = 128, cheap per head
        _head_backward_gemm(dout[b, h], q[b, h], k[b, h], v[b, h], out[b, h], probs[b, h],
                            scale, dq[b, h], dk[b, h], dv[b, h], ds)
    else:
        _head_backward(dout[b, h], q[b, h], k[b, h], v[b, h], out[b, h], probs[b, h], scale,
                       dq[b, h], dk[b, h], dv[b, h])


@nb.njit(cache=True, nogil=True, parallel=True)
def _forward(q, k, v, key_valid, causal, scale, out, probs, gemm):
    mk = (key_valid != 0).astype(q.dtype)  # 0/1 multipliers for the GEMM path's softmax
    # -inf and 1 of the input dtype: a float64 literal would turn float32 maths into
    # float64 (and np.exp of float64 is a scalar libm call)
    consts = np.array((-np.inf, 1.0)).astype(q.dtype)
    for bh in nb.prange(q.shape[0] * q.shape[1]):
        _forward_head(q, k, v, key_valid, mk, causal, scale, consts, out, probs, gemm, bh)


@nb.njit(cache=True, nogil=True)
def _forward_serial(q, k, v, key_valid, causal, scale, out, probs, gemm):
    mk = (key_valid != 0).astype(q.dtype)
    consts = np.array((-np.inf, 1.0)).astype(q.dtype)
    for bh in range(q.shape[0] * q.shape[1]):
        _forward_head(q, k, v, key_valid, mk, causal, scale, consts, out, probs, gemm, bh)


@nb.njit(cache=True, nogil=True, parallel=True)
def _backward(dout, q, k, v, out, probs, scale, dq, dk, dv, gemm):
    for bh in nb.prange(q.shape[0] * q.shape[1]):
        _backward_head(dout, q, k, v, out, probs, scale, dq, dk, dv, gemm, bh)


@nb.njit(cache=True, nogil=True)
def _backward_serial(dout, q, k, v, out, probs, scale, dq, dk, dv, gemm):
    for bh in range(q.shape[0] * q.shape[1]):
        _backward_head(dout, q, k, v, out, probs, scale, dq, dk, dv, gemm, bh)

# Below this many multiply-adds a call runs on one thread: starting and joining a parallel
# region costs more than it saves (and much more on a loaded machine).
PARALLEL_MIN_WORK = 1 << 20

# Heads at least this long take the GEMM path, shorter ones the scalar loops. Measured
# single-threaded (float32, fwd + bwd per head, GEMM time / scalar time): T = 8: 0.87-1.31
# (D = 8..64: the five BLAS calls' overhead is the whole cost), T = 16: 0.48-0.84,
# T = 32: 0.33-0.56, T = 64: 0.28-0.46. D barely moves the crossover, so it is on T alone.
GEMM_MIN_LENGTH = 16


def _parallel(q) -> bool:
    B, H, T, D = q.shape
    return B * H > 1 and B * H * T * T * D >= PARALLEL_MIN_WORK


def _gemm(q) -> bool:
    return q.shape[2] >= GEMM_MIN_LENGTH


def _one_blas_thread(parallel: bool, gemm: bool):
    """Hold BLAS to one thread while the threaded GEMM path runs.

    Each prange worker makes its own BLAS calls; letting OpenBLAS start its threads under
    them oversubscribed the cores ~100x (64x4x128x32 on 2 cores: 7.6 s instead of 63 ms).
    The switch costs ~60 us, against >= 1 ms of work on this path.
    """
    if parallel and gemm:
        from .._blas import one_blas_thread

        return one_blas_thread()
    return contextlib.nullcontext()


def attention_forward(q, k, v, key_valid, causal, scale, out, probs):
    """Numba twin of :func:`maaskit._kernels.reference.attention.attention_forward`."""
    par, gemm = _parallel(q), _gemm(q)
    with _one_blas_thread(par, gemm):
        (_forward if par else _forward_serial)(q, k, v, key_valid, bool(causal),
                                               q.dtype.type(scale), out, probs, gemm)


def attention_backward(dout, q, k, v, out, probs, scale, dq, dk, dv):
    """Numba twin of :func:`maaskit._kernels.reference.attention.attention_backward`."""
    par, gemm = _parallel(q), _gemm(q)
    with _one_blas_thread(par, gemm):
        (_backward if par else _backward_serial)(dout, q, k, v, out, probs,
                                                 q.dtype.type(scale), dq, dk, dv, gemm)
