"""NumPy reference for the ``attention`` kernel: multi-head scaled dot-product attention.

The oracle that the Numba and Cython kernels are tested against. Shapes are head-major, as
in ``torch.nn.functional.scaled_dot_product_attention``: ``q, k, v`` of shape
``(B, H, T, D)`` (batch, heads, length, head dim), all C-contiguous and of one float dtype.

``key_valid`` of shape ``(B, T)`` (uint8) marks real tokens with 1 and padding with 0; padded
keys get zero weight. With ``causal`` query ``i`` sees keys ``j <= i`` only. A query row that
sees no key at all (every key masked) gets zero weights and a zero output instead of NaN, so
padded queries are harmless downstream.

Forward stores the softmax probabilities ``P`` of shape ``(B, H, T, T)``: backward needs
them, and at the lengths this library trains on (<= 512) they fit easily.

Gradients, with ``S = scale * Q K^T`` and ``O = P V``::

    dV = P^T dO
    dP = dO V^T
    dS = P * (dP - rowsum(dO * O))        (softmax backward; rowsum(dP * P) == rowsum(dO * O))
    dQ = scale * dS K
    dK = scale * dS^T Q

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np


def _allowed(key_valid: np.ndarray, T: int, causal: bool) -> np.ndarray:
    """Boolean (B, 1, T, T) array: may query i attend to key j."""
    allowed = key_valid.astype(bool)[:, None, None, :]
    if causal:
        allowed = allowed & np.tril(np.ones((T, T), dtype=bool))[None, None]
    return allowed


def attention_forward(q, k, v, key_valid, causal, scale, out, probs):
    """Compute ``out = softmax(scale * q k^T + mask) v`` and store the probabilities.

    Parameters
    ----------
    q, k, v : ndarray of shape (B, H, T, D)
        Queries, keys and values.
    key_valid : ndarray of shape (B, T), dtype uint8
        1 for a real key, 0 for padding.
    causal : bool
        Whether query ``i`` may only attend to keys ``j <= i``.
    scale : float
        Multiplier of the scores, usually ``1 / sqrt(D)``.
    out : ndarray of shape (B, H, T, D)
        Written with the attention output.
    probs : ndarray of shape (B, H, T, T)
        Written with the attention probabilities.
    """
    T = q.shape[2]
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    allowed = _allowed(key_valid, T, causal)
    s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # fully-masked rows: avoid inf - inf
    e = np.where(allowed, np.exp(s - m), 0.0)
    denom = e.sum(axis=-1, keepdims=True)
    p = np.divide(e, denom, out=np.zeros_like(e), where=denom > 0)
    probs[...] = p
    out[...] = np.matmul(probs, v)


def attention_backward(dout, q, k, v, out, probs, scale, dq, dk, dv):
    """Gradients of :func:`attention_forward` with respect to ``q``, ``k`` and ``v``.

    Parameters
    ----------
    dout : ndarray of shape (B, H, T, D)
        Gradient of the loss with respect to ``out``.
    q, k, v : ndarray of shape (B, H, T, D)
        The forward inputs.
    out : ndarray of shape (B, H, T, D)
        The forward output.
    probs : ndarray of shape (B, H, T, T)
        The probabilities stored by the forward pass (masked entries are 0).
    scale : float
        The forward score multiplier.
    dq, dk, dv : ndarray of shape (B, H, T, D)
        Overwritten with the gradients.
    """
    dt = q.dtype.type
    dv[...] = np.matmul(np.swapaxes(probs, -1, -2), dout)
    dp = np.matmul(dout, np.swapaxes(v, -1, -2))
    delta = np.sum(dout * out, axis=-1, keepdims=True)
    ds = probs * (dp - delta) * dt(scale)
    dq[...] = np.matmul(ds, k)
    dk[...] = np.matmul(np.swapaxes(ds, -1, -2), q)
