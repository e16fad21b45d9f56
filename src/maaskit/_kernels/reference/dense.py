"""NumPy reference of the ``dense`` kernel: affine layer, activations and fused losses.

All functions write into preallocated, C-contiguous outputs of the inputs' dtype and return
``None`` (losses return the scalar loss). Activation codes are shared by every backend:
``0`` identity, ``1`` relu, ``2`` tanh, ``3`` sigmoid, ``4`` gelu (exact, erf based, as
``torch.nn.functional.gelu``). Activation functions accept arrays of any shape.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

IDENTITY, RELU, TANH, SIGMOID, GELU = 0, 1, 2, 3, 4
ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "tanh": TANH, "logistic": SIGMOID,
               "sigmoid": SIGMOID, "gelu": GELU}

_INV_SQRT2 = 0.7071067811865476
_INV_SQRT2PI = 0.3989422804014327


def dense_forward(X, W, b, out):
    """Affine map ``out = X @ W + b``.

    Parameters
    ----------
    X : ndarray of shape (n, d_in)
    W : ndarray of shape (d_in, d_out)
    b : ndarray of shape (d_out,)
    out : ndarray of shape (n, d_out)
        Written in place.
    """
    np.matmul(X, W, out=out)
    out += b


def dense_backward(X, W, dout, dX, dW, db, need_dx):
    """Gradients of ``X @ W + b`` given ``dout``; ``dX`` only when ``need_dx``.

    Parameters
    ----------
    X : ndarray of shape (n, d_in)
        Forward input.
    W : ndarray of shape (d_in, d_out)
    dout : ndarray of shape (n, d_out)
        Gradient of the loss with respect to the output.
    dX : ndarray of shape (n, d_in)
        Written in place when ``need_dx``.
    dW : ndarray of shape (d_in, d_out)
        Written in place.
    db : ndarray of shape (d_out,)
        Written in place.
    need_dx : bool
        Whether to compute ``dX`` (the first layer does not need it).
    """
    np.matmul(X.T, dout, out=dW)
    db[...] = dout.sum(axis=0)
    if need_dx:
        np.matmul(dout, W.T, out=dX)


def activation_forward(Z, act, out):
    """Element-wise activation ``out = f(Z)`` (``out`` may be ``Z``).

    Parameters
    ----------
    Z : ndarray
        Pre-activation, any shape.
    act : int
        Activation code (see the module docstring).
    out : ndarray, same shape as ``Z``
        Written in place.
    """
    if act == IDENTITY:
        out[...] = Z
    elif act == RELU:
        np.maximum(Z, 0, out=out)
    elif act == TANH:
        np.tanh(Z, out=out)
    elif act == SIGMOID:
        out[...] = 1.0 / (1.0 + np.exp(-Z))
    else:
        out[...] = 0.5 * Z * (1.0 + erf(Z * _INV_SQRT2))


def activation_backward(Z, A, dA, act, dZ):
    """Gradient through an activation: ``dZ = dA * f'(Z)``.

    Parameters
    ----------
    Z : ndarray
        Pre-activation (only read for gelu; may be ``A`` for the other activations).
    A : ndarray
        Activation output ``f(Z)``.
    dA : ndarray
        Gradient with respect to ``A``.
    act : int
        Activation code.
    dZ : ndarray
        Written in place (may be ``dA``).
    """
    if act == IDENTITY:
        dZ[...] = dA
    elif act == RELU:
        dZ[...] = dA * (A > 0)
    elif act == TANH:
        dZ[...] = dA * (1.0 - A * A)
    elif act == SIGMOID:
        dZ[...] = dA * A * (1.0 - A)
    else:
        cdf = 0.5 * (1.0 + erf(Z * _INV_SQRT2))
        pdf = np.exp(-0.5 * Z * Z) * _INV_SQRT2PI
        dZ[...] = dA * (cdf + Z * pdf)


def softmax_cross_entropy(logits, y, probs, grad):
    """Mean softmax cross-entropy over rows, with probabilities and the gradient, fused.

    Parameters
    ----------
    logits : ndarray of shape (n, k)
    y : ndarray of shape (n,), int64
        Class index per row, in ``[0, k)``.
    probs : ndarray of shape (n, k)
        Written in place: row-wise softmax of ``logits``.
    grad : ndarray of shape (n, k)
        Written in place: ``(probs - onehot(y)) / n``, the gradient of the mean loss.

    Returns
    -------
    loss : float
        ``mean(-log softmax(logits)[i, y_i])``.
    """
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    probs[...] = e / s
    rows = np.arange(n)
    loss = float(np.sum(np.log(s[:, 0]) - shifted[rows, y])) / n
    grad[...] = probs
    grad[rows, y] -= 1
    grad /= n
    return loss


def mse_loss(pred, target, grad):
    """Half mean squared error ``sum((pred - target)**2) / (2 n)`` and its gradient, fused.

    Parameters
    ----------
    pred : ndarray of shape (n, k)
    target : ndarray of shape (n, k)
    grad : ndarray of shape (n, k)
        Written in place: ``(pred - target) / n``.

    Returns
    -------
    loss : float
    """
    n = pred.shape[0]
    diff = pred - target
    grad[...] = diff / n
    return float(np.sum(diff.astype(np.float64) ** 2)) / (2 * n)
