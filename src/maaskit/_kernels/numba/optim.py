"""Numba ``optim`` kernel: fused in-place SGD and Adam/AdamW updates (see the reference).

One pass over memory per step: a model keeps all its parameters in one flat buffer and calls
one update per step. Buffers of at least ``PARALLEL_MIN`` elements are split over threads;
below that the thread start-up costs more than the (memory-bound) loop.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import math

import numba as nb

#: Smallest buffer updated with several threads.
PARALLEL_MIN = 1 << 18

# Rounding-level freedoms only (FMA contraction, reciprocal division; no approximate
# functions): no 'nnan'/'ninf', so a diverging model still produces NaN for the caller to see.
_FAST = {"nsz", "arcp", "contract"}


@nb.njit(nogil=True, inline="always")
def _sgd_one(param, grad, velocity, i, lr, momentum, weight_decay, use_momentum, nesterov):
    g = grad[i] + weight_decay * param[i]
    if use_momentum:
        vi = momentum * velocity[i] + g
        velocity[i] = vi
        if nesterov:
            g = g + momentum * vi
        else:
            g = vi
    param[i] -= lr * g


@nb.njit(cache=True, nogil=True)
def _sgd_serial(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    use_momentum = momentum != 0
    for i in range(param.shape[0]):
        _sgd_one(param, grad, velocity, i, lr, momentum, weight_decay, use_momentum, nesterov)


@nb.njit(cache=True, nogil=True, parallel=True)
def _sgd_parallel(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    use_momentum = momentum != 0
    for i in nb.prange(param.shape[0]):
        _sgd_one(param, grad, velocity, i, lr, momentum, weight_decay, use_momentum, nesterov)


@nb.njit(nogil=True, inline="always", fastmath=_FAST)
def _adam_one(param, grad, m, v, i, b1, c1, b2, c2, eps, wd, decay_mult, decoupled, step_size, bc2_sqrt):
    if decoupled:
        p = param[i] * decay_mult
        g = grad[i]
    else:
        p = param[i]
        g = grad[i] + wd * p
    mi = b1 * m[i] + c1 * g
    vi = b2 * v[i] + c2 * g * g
    m[i] = mi
    v[i] = vi
    param[i] = p - step_size * (mi / (math.sqrt(vi) / bc2_sqrt + eps))


@nb.njit(cache=True, nogil=True, fastmath=_FAST)
def _adam_serial(param, grad, m, v, b1, c1, b2, c2, eps, wd, decay_mult, decoupled, step_size, bc2_sqrt):
    for i in range(param.shape[0]):
        _adam_one(param, grad, m, v, i, b1, c1, b2, c2, eps, wd, decay_mult, decoupled, step_size, bc2_sqrt)


@nb.njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def _adam_parallel(param, grad, m, v, b1, c1, b2, c2, eps, wd, decay_mult, decoupled, step_size, bc2_sqrt):
    for i in nb.prange(param.shape[0]):
        _adam_one(param, grad, m, v, i, b1, c1, b2, c2, eps, wd, decay_mult, decoupled, step_size, bc2_sqrt)


def sgd_update(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    """Numba twin of :func:`maaskit._kernels.reference.optim.sgd_update`."""
    dt = param.dtype.type
    fn = _sgd_parallel if param.shape[0] >= PARALLEL_MIN else _sgd_serial
    fn(param, grad, velocity, dt(lr), dt(momentum), dt(weight_decay), bool(nesterov))


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    """Numba twin of :func:`maaskit._kernels.reference.optim.adam_update`."""
    dt = param.dtype.type
    decoupled = bool(decoupled)
    step_size = lr / (1.0 - beta1**step)
    bc2_sqrt = math.sqrt(1.0 - beta2**step)
    decay_mult = dt(1) - dt(lr) * dt(weight_decay) if decoupled else dt(1)
    fn = _adam_parallel if param.shape[0] >= PARALLEL_MIN else _adam_serial
    fn(param, grad, m, v, dt(beta1), dt(1) - dt(beta1), dt(beta2), dt(1) - dt(beta2), dt(eps),
       dt(weight_decay), dt(decay_mult), decoupled, dt(step_size), dt(bc2_sqrt))
