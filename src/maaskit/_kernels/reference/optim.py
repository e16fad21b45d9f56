"""NumPy reference of the ``optim`` kernel: fused in-place SGD and Adam/AdamW parameter updates.

Every function updates 1-D C-contiguous arrays of one dtype in place and returns ``None``;
scalars are Python floats/ints. Arithmetic is done in the arrays' dtype, in the same order as
``torch.optim`` (single-tensor path), so that float64 results match torch to rounding.

Conventions that differ from torch in form but not in value:

* SGD momentum: torch sets the momentum buffer to ``g`` on the first step; here the caller
  initialises ``velocity`` to zeros, and ``momentum * 0 + g == g`` gives the same first step.
* Adam: ``step`` is the 1-based count of updates *including* this one (torch increments its
  ``state["step"]`` before using it), so the first call passes ``step=1``.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np


def sgd_update(param, grad, velocity, lr, momentum, weight_decay, nesterov):
    """Apply one SGD step (``torch.optim.SGD`` semantics, dampening 0) in place.

    Parameters
    ----------
    param : ndarray of shape (n,), float32 or float64
        Parameters, updated in place.
    grad : ndarray of shape (n,)
        Gradient of the loss at ``param``.
    velocity : ndarray of shape (n,)
        Momentum buffer, updated in place when ``momentum != 0`` (start with zeros).
    lr : float
        Learning rate.
    momentum : float
        Momentum factor; 0 disables momentum and leaves ``velocity`` untouched.
    weight_decay : float
        L2 penalty added to the gradient: ``g = grad + weight_decay * param``.
    nesterov : bool
        Use Nesterov momentum: ``g = g + momentum * velocity`` instead of ``g = velocity``.
    """
    dt = param.dtype.type
    lr, momentum, weight_decay = dt(lr), dt(momentum), dt(weight_decay)
    g = grad + weight_decay * param if weight_decay != 0 else grad.copy()
    if momentum != 0:
        velocity *= momentum
        velocity += g
        g = g + momentum * velocity if nesterov else velocity.copy()
    param -= lr * g


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    """Apply one Adam (or AdamW when ``decoupled``) step in place, as ``torch.optim`` does.

    Parameters
    ----------
    param : ndarray of shape (n,), float32 or float64
        Parameters, updated in place.
    grad : ndarray of shape (n,)
        Gradient of the loss at ``param``.
    m, v : ndarray of shape (n,)
        First and second moment estimates, updated in place (start with zeros).
    lr : float
        Learning rate.
    beta1, beta2 : float
        Exponential decay rates of the moment estimates.
    eps : float
        Added to ``sqrt(v_hat)`` (after the square root) for stability.
    weight_decay : float
        L2 strength: added to the gradient (Adam) or applied as ``param *= 1 - lr * wd``
        before the step (AdamW, ``decoupled=True``).
    decoupled : bool
        AdamW's decoupled weight decay.
    step : int
        1-based index of this update, used for bias correction.
    """
    dt = param.dtype.type
    lr_, b1, b2, eps_, wd = dt(lr), dt(beta1), dt(beta2), dt(eps), dt(weight_decay)
    if decoupled:
        if weight_decay != 0:
            param *= dt(1) - lr_ * wd
        g = grad
    else:
        g = grad + wd * param if weight_decay != 0 else grad
    m *= b1
    m += (dt(1) - b1) * g
    v *= b2
    v += (dt(1) - b2) * g * g
    # bias corrections are scalars: computed in double like torch does with Python floats
    bc1 = 1.0 - beta1**step
    bc2_sqrt = np.sqrt(1.0 - beta2**step)
    step_size = dt(lr / bc1)
    denom = np.sqrt(v) / dt(bc2_sqrt) + eps_
    param -= step_size * (m / denom)
