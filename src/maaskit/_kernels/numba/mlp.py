"""Numba ``mlp`` kernel: one whole training epoch of a dense network in one compiled call.

A small MLP step (digits: 200 x 64 -> 128 -> 10, ~12 MFLOP) is dominated by per-call
overhead when every layer, loss and optimizer update is a separate call from Python. This
kernel runs the epoch's batch loop inside Numba: gather the batch rows, forward (BLAS GEMM +
bias + activation), fused softmax-cross-entropy or half-MSE, backward, and the fused
``optim`` update over the flat parameter buffer, with no Python between steps.

With ``n_threads > 1`` each batch is split into contiguous row chunks, one per thread;
every thread runs forward and backward for its rows with single-threaded GEMMs, and the
chunk gradients are summed before the update. At these sizes that is what makes a second
core useful: a threaded BLAS gains little on a 200 x 64 x 128 product, while two halves of
the batch are two independent GEMM chains. The result equals the one-thread epoch up to
the rounding of the gradient sum.

Same contract as :mod:`maaskit._kernels.reference.mlp` (the oracle composed of the
reference ``dense`` and ``optim`` kernels).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .dense import GELU, IDENTITY, RELU, _act, _dact, _softmax_ce_row
from .optim import _adam_serial, _sgd_serial


#: Fewest batch rows per thread when a batch is split across threads (``n_threads > 1``).
#: Below this a thread's GEMMs are too small to pay for starting the parallel region.
MIN_ROWS_PER_THREAD = 64


@nb.njit(cache=True, nogil=True)
def _w(flat, off, a, b):
    return flat[off:off + a * b].reshape((a, b))


@nb.njit(cache=True, nogil=True)
def _workspace(rows, widths, dtype_like):
    """Buffers for :func:`_rows_forward_backward` on up to ``rows`` rows: activations of every
    layer (flat, one block per layer), pre-activations (read back by gelu only) and two
    gradient blocks of the widest layer. Allocated once per epoch, not once per batch."""
    total = 0
    widest = 0
    for w in widths:
        total += w
        widest = max(widest, w)
    return (np.empty(rows * total, dtype_like.dtype), np.empty(rows * total, dtype_like.dtype),
            np.empty(2 * rows * widest, dtype_like.dtype))


# fastmath: the bias/activation loops and the bias-gradient sums vectorise (the GEMMs are BLAS)
@nb.njit(cache=True, nogil=True, fastmath=True)
def _rows_forward_backward(X, y_idx, Y, classify, order, s0, mb, inv_n, widths, offs, act, params, gbuf,
                           wsA, wsZ, wsG):
    """Forward and backward for batch rows ``order[s0:s0 + mb]``; gradients into ``gbuf``.

    ``inv_n`` is 1 / (rows of the whole batch): a batch split into row chunks gives chunk
    gradients that sum to the batch gradient. ``wsA``/``wsZ``/``wsG`` come from
    :func:`_workspace`. The activation is chosen outside the element loops (relu, the
    common case, is a branch-free max the compiler vectorises); the arithmetic is the same
    as :func:`dense._act`/``_dact`` element by element. Returns the chunk's summed loss.
    """
    L = widths.shape[0] - 1
    dt = params.dtype.type
    zero = dt(0)
    widest = 0
    for w in widths:
        widest = max(widest, w)
    # activation block of layer l starts at mb * (widths[0] + ... + widths[l-1])
    A0 = wsA[:mb * widths[0]].reshape((mb, widths[0]))
    for i in range(mb):
        A0[i, :] = X[order[s0 + i]]
    base = mb * widths[0]
    for layer in range(L):
        wi, wo = widths[layer], widths[layer + 1]
        W = _w(params, offs[layer], wi, wo)
        boff = offs[layer] + wi * wo
        b = params[boff:boff + wo]
        a_in = wsA[base - mb * wi:base].reshape((mb, wi))
        hidden = layer < L - 1 and act != IDENTITY
        # gelu's derivative needs z: z goes to wsZ and the activation to wsA; otherwise z is
        # written to wsA and activated in place
        z = (wsZ if hidden and act == GELU else wsA)[base:base + mb * wo].reshape((mb, wo))
        np.dot(a_in, W, z)
        for i in range(mb):
            for j in range(wo):
                z[i, j] += b[j]
        if hidden:
            a = wsA[base:base + mb * wo].reshape((mb, wo))
            if act == RELU:
                for i in range(mb):
                    for j in range(wo):
                        v = z[i, j]
                        a[i, j] = v if v > zero else v * zero
            else:
                for i in range(mb):
                    for j in range(wo):
                        a[i, j] = _act(z[i, j], act)
        base += mb * wo
    k = widths[L]
    out = wsA[base - mb * k:base].reshape((mb, k))
    G = wsG[:mb * k].reshape((mb, k))
    loss = 0.0
    if classify:
        for i in range(mb):
            loss += _softmax_ce_row(out[i], y_idx[order[s0 + i]], inv_n, G[i], G[i])
    else:
        for i in range(mb):
            r = order[s0 + i]
            for j in range(k):
                d = out[i, j] - Y[r, j]
                G[i, j] = d * dt(inv_n)
                loss += float(d) * float(d)
        loss *= 0.5
    # backward; the gradient alternates between the two halves of wsG
    half = 0
    for layer in range(L - 1, -1, -1):
        wi, wo = widths[layer], widths[layer + 1]
        base -= mb * wo
        W = _w(params, offs[layer], wi, wo)
        dW = _w(gbuf, offs[layer], wi, wo)
        boff = offs[layer] + wi * wo
        a_in = wsA[base - mb * wi:base].reshape((mb, wi))
        np.dot(a_in.T, G, dW)
        for j in range(wo):
            gbuf[boff + j] = 0
        for i in range(mb):
            for j in range(wo):
                gbuf[boff + j] += G[i, j]
        if layer > 0:
            half = 1 - half
            dA = wsG[half * mb * widest:half * mb * widest + mb * wi].reshape((mb, wi))
            np.dot(G, W.T, dA)
            if act == RELU:
                for i in range(mb):
                    for j in range(wi):
                        dA[i, j] = dA[i, j] if a_in[i, j] > zero else dA[i, j] * zero
            elif act != IDENTITY:
                z = (wsZ if act == GELU else wsA)[base - mb * wi:base].reshape((mb, wi))
                for i in range(mb):
                    for j in range(wi):
                        dA[i, j] = _dact(z[i, j], a_in[i, j], dA[i, j], act)
            G = dA
    return loss


@nb.njit(cache=True, nogil=True, parallel=True)
def _chunks_forward_backward(X, y_idx, Y, classify, order, s0, mb, n_chunks, widths, offs, act, params,
                             gparts, losses):
    # rows split into n_chunks contiguous runs, one per thread; each GEMM is single-threaded
    step = (mb + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        a = s0 + c * step
        rows = min(step, s0 + mb - a)
        wsA, wsZ, wsG = _workspace(rows, widths, params)
        losses[c] = _rows_forward_backward(X, y_idx, Y, classify, order, a, rows, 1.0 / mb, widths, offs,
                                           act, params, gparts[c], wsA, wsZ, wsG)


@nb.njit(cache=True, nogil=True)
def mlp_epoch(X, y_idx, Y, classify, order, bs, widths, act, params, grads, m, v, solver, lr,
              beta1, beta2, eps, weight_decay, momentum, nesterov, step, n_threads=1):
    n = order.shape[0]
    L = widths.shape[0] - 1
    dt = params.dtype.type
    offs = np.empty(L, np.int64)
    o = 0
    for layer in range(L):
        offs[layer] = o
        o += widths[layer] * widths[layer + 1] + widths[layer + 1]
    n_par = max(1, n_threads)
    gparts = np.empty((n_par if n_par > 1 else 0, params.shape[0]), params.dtype)
    losses = np.empty(n_par, np.float64)
    wsA, wsZ, wsG = _workspace(min(bs, n), widths, params)
    total = 0.0
    s = 0
    while s < n:
        mb = min(bs, n - s)
        # each thread needs enough rows for its GEMMs to beat the fork/join cost
        chunks = min(n_par, mb // MIN_ROWS_PER_THREAD)
        if chunks > 1:
            _chunks_forward_backward(X, y_idx, Y, classify, order, s, mb, chunks, widths, offs, act, params,
                                     gparts, losses)
            for i in range(params.shape[0]):
                acc = gparts[0, i]
                for c in range(1, chunks):
                    acc += gparts[c, i]
                grads[i] = acc
            for c in range(chunks):
                total += losses[c]
        else:
            total += _rows_forward_backward(X, y_idx, Y, classify, order, s, mb, 1.0 / mb, widths, offs, act,
                                            params, grads, wsA, wsZ, wsG)
        # fused optimizer update over the flat buffer (the optim kernel's loops)
        step += 1
        if solver == 0:
            _sgd_serial(params, grads, m, dt(lr), dt(momentum), dt(weight_decay), nesterov)
        else:
            decoupled = solver == 2
            step_size = lr / (1.0 - beta1 ** step)
            bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
            decay_mult = dt(1) - dt(lr) * dt(weight_decay) if decoupled else dt(1)
            _adam_serial(params, grads, m, v, dt(beta1), dt(1) - dt(beta1), dt(beta2), dt(1) - dt(beta2),
                         dt(eps), dt(weight_decay), decay_mult, decoupled, dt(step_size), dt(bc2_sqrt))
        s += mb
    return total / n, step
