"""Numba ``mlp`` kernel: one whole training epoch of a dense network in one compiled call.

A small MLP step (digits: 200 x 64 -> 128 -> 10, ~12 MFLOP) is dominated by per-call
overhead when every layer, loss and optimizer update is a separate call from Python. This
kernel runs the epoch's batch loop inside Numba: gather the batch rows, forward (BLAS GEMM +
bias + activation), fused softmax-cross-entropy or half-MSE, backward, and the fused
``optim`` update over the flat parameter buffer, with no Python between steps.

Same contract as :mod:`maaskit._kernels.reference.mlp` (the oracle composed of the
reference ``dense`` and ``optim`` kernels).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .dense import _act, _dact
from .optim import _adam_serial, _sgd_serial


@nb.njit(cache=True, nogil=True)
def _w(flat, off, a, b):
    return flat[off:off + a * b].reshape((a, b))


@nb.njit(cache=True, nogil=True)
def mlp_epoch(X, y_idx, Y, classify, order, bs, widths, act, params, grads, m, v, solver, lr,
              beta1, beta2, eps, weight_decay, momentum, nesterov, step):
    n = order.shape[0]
    L = widths.shape[0] - 1
    dt = params.dtype.type
    offs = np.empty(L, np.int64)
    o = 0
    for layer in range(L):
        offs[layer] = o
        o += widths[layer] * widths[layer + 1] + widths[layer + 1]
    total = 0.0
    s = 0
    while s < n:
        mb = min(bs, n - s)
        # activations A[l] (mb x widths[l]); pre-activations Z only for gelu
        A = [np.empty((mb, widths[0]), params.dtype)]
        for i in range(mb):
            A[0][i, :] = X[order[s + i]]
        Zs = [np.empty((1, 1), params.dtype)]
        for layer in range(L):
            W = _w(params, offs[layer], widths[layer], widths[layer + 1])
            boff = offs[layer] + widths[layer] * widths[layer + 1]
            b = params[boff:boff + widths[layer + 1]]
            z = np.dot(A[layer], W)
            for i in range(mb):
                for j in range(widths[layer + 1]):
                    z[i, j] += b[j]
            if layer < L - 1 and act != 0:
                a = np.empty_like(z)
                for i in range(mb):
                    for j in range(widths[layer + 1]):
                        a[i, j] = _act(z[i, j], act)
                Zs.append(z)
                A.append(a)
            else:
                Zs.append(z)
                A.append(z)
        out = A[L]
        k = widths[L]
        G = np.empty((mb, k), params.dtype)
        inv_n = 1.0 / mb
        loss = 0.0
        if classify:
            for i in range(mb):
                mx = out[i, 0]
                for j in range(1, k):
                    if out[i, j] > mx:
                        mx = out[i, j]
                ssum = 0.0
                for j in range(k):
                    e = math.exp(out[i, j] - mx)
                    G[i, j] = e
                    ssum += e
                inv = 1.0 / ssum
                for j in range(k):
                    G[i, j] = dt(G[i, j] * inv) * dt(inv_n)
                yi = y_idx[order[s + i]]
                G[i, yi] -= dt(inv_n)
                loss += math.log(ssum) - (out[i, yi] - mx)
        else:
            for i in range(mb):
                r = order[s + i]
                for j in range(k):
                    d = out[i, j] - Y[r, j]
                    G[i, j] = d * dt(inv_n)
                    loss += float(d) * float(d)
            loss *= 0.5
        total += loss
        # backward
        for layer in range(L - 1, -1, -1):
            W = _w(params, offs[layer], widths[layer], widths[layer + 1])
            dW = _w(grads, offs[layer], widths[layer], widths[layer + 1])
            boff = offs[layer] + widths[layer] * widths[layer + 1]
            np.dot(A[layer].T, G, dW)
            for j in range(widths[layer + 1]):
                grads[boff + j] = 0
            for i in range(mb):
                for j in range(widths[layer + 1]):
                    grads[boff + j] += G[i, j]
            if layer > 0:
                dA = np.dot(G, W.T)
                if act != 0:
                    z = Zs[layer]
                    a = A[layer]
                    for i in range(mb):
                        for j in range(widths[layer]):
                            dA[i, j] = _dact(z[i, j], a[i, j], dA[i, j], act)
                G = dA
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
