"""NumPy reference of the ``mlp`` kernel: one training epoch of a dense network.

The network is ``len(widths) - 1`` dense layers ``widths[l] -> widths[l + 1]``, with
activation ``act`` (a ``dense`` activation code) after every layer but the last. ``params``
and ``grads`` are flat buffers holding, per layer, ``W`` (row-major ``widths[l] x
widths[l + 1]``) then ``b``. Batches are ``order[s:s + bs]`` (rows of ``X``); each step runs
forward, the fused loss (softmax cross-entropy on ``y_idx`` when ``classify``, else half-MSE
on ``Y``), backward and one optimizer update (``solver`` 0 sgd, 1 adam, 2 adamw, with the
``optim`` kernel's semantics) in place. Returns ``(mean loss over the epoch, new step)``.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np

from . import dense, optim


def mlp_epoch(X, y_idx, Y, classify, order, bs, widths, act, params, grads, m, v, solver, lr,
              beta1, beta2, eps, weight_decay, momentum, nesterov, step, n_threads=1):
    """Train one epoch in place; see the module docstring.

    Parameters
    ----------
    X : ndarray of shape (n_samples, widths[0])
    y_idx : ndarray of shape (n_samples,), int64
        Class indices (used when ``classify``).
    Y : ndarray of shape (n_samples, widths[-1])
        Targets (used when not ``classify``).
    classify : bool
    order : ndarray of shape (n_samples,), int64
        Sample order of this epoch.
    bs : int
        Batch size.
    widths : ndarray of int64
        Layer widths, input first.
    act : int
        Hidden activation code.
    params, grads, m, v : ndarray of shape (n_params,)
        Flat buffers; ``params``, ``grads``, ``m``, ``v`` are updated in place.
    solver : int
        0 sgd, 1 adam, 2 adamw.
    lr, beta1, beta2, eps, weight_decay, momentum : float
    nesterov : bool
    step : int
        Optimizer steps taken so far.
    n_threads : int, default=1
        Threads a compiled twin may split each batch over (the reference runs on one).

    Returns
    -------
    loss : float
    step : int
    """
    n = order.shape[0]
    L = len(widths) - 1
    views, gviews = [], []
    o = 0
    for layer in range(L):
        a, b = int(widths[layer]), int(widths[layer + 1])
        views.append((params[o:o + a * b].reshape(a, b), params[o + a * b:o + a * b + b]))
        gviews.append((grads[o:o + a * b].reshape(a, b), grads[o + a * b:o + a * b + b]))
        o += a * b + b
    total = 0.0
    for s in range(0, n, bs):
        idx = order[s:s + bs]
        mb = len(idx)
        A = [np.ascontiguousarray(X[idx])]
        Z = [None]
        for layer, (W, b) in enumerate(views):
            z = np.empty((mb, W.shape[1]), params.dtype)
            dense.dense_forward(A[-1], W, b, z)
            a = z
            if layer < L - 1:
                a = np.empty_like(z)
                dense.activation_forward(z, act, a)
            Z.append(z)
            A.append(a)
        G = np.empty_like(A[-1])
        if classify:
            loss = dense.softmax_cross_entropy(A[-1], y_idx[idx], np.empty_like(G), G)
        else:
            loss = dense.mse_loss(A[-1], np.ascontiguousarray(Y[idx]), G)
        total += loss * mb
        for layer in range(L - 1, -1, -1):
            W, _ = views[layer]
            dW, db = gviews[layer]
            dA = np.empty_like(A[layer])
            dense.dense_backward(A[layer], W, G, dA, dW, db, layer > 0)
            if layer > 0:
                dZ = np.empty_like(dA)
                dense.activation_backward(Z[layer], A[layer], dA, act, dZ)
                G = dZ
        step += 1
        if solver == 0:
            optim.sgd_update(params, grads, m, lr, momentum, weight_decay, nesterov)
        else:
            optim.adam_update(params, grads, m, v, lr, beta1, beta2, eps, weight_decay, solver == 2, step)
    return total / n, step
