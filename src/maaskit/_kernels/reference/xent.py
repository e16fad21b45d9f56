"""NumPy reference for the ``xent`` kernel: softmax cross-entropy of logit rows, gradient in place.

The output layer of a model scored against a whole catalogue (or a sampled slice of it) is
one GEMM ``logits = H W^T`` of shape ``(n, k)``: ``n`` positions, ``k`` items. Holding a
second ``(n, k)`` array for the probabilities or the gradient doubles the memory of the
largest buffer of a training step, so this kernel overwrites the logits with the gradient::

    p = softmax(logits[i]);   loss_i = log(sum exp(logits[i])) - logits[i, y_i]
    logits[i] <- scale * (p - onehot(y_i))

``scale`` is usually ``1 / n`` (the gradient of the mean). The row maximum is subtracted
before ``exp``, so any finite logits are safe; a very negative logit (a masked column) gets
probability 0.

Index safety: ``y`` comes from data and is not checked here; the caller guarantees
``0 <= y[i] < k`` (targets are item indices of the model's own catalogue, or column 0 of a
sampled slice).
"""

from __future__ import annotations

import numpy as np


def softmax_xent(logits, y, scale):
    """Row-wise softmax cross-entropy; ``logits`` is overwritten with the gradient.

    Parameters
    ----------
    logits : ndarray of shape (n, k), float32 or float64, C-contiguous
        Scores; on return, ``scale * (softmax(logits) - onehot(y))``.
    y : ndarray of shape (n,), int64
        Target column of each row.
    scale : float
        Multiplier of the gradient.

    Returns
    -------
    loss : float
        Sum over rows of the cross-entropy (not scaled).
    """
    n = logits.shape[0]
    if n == 0:
        return 0.0
    rows = np.arange(n)
    mx = logits.max(axis=1, keepdims=True)
    shifted = logits - mx
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.sum(np.log(s[:, 0].astype(np.float64)) - shifted[rows, y].astype(np.float64)))
    dt = logits.dtype.type
    logits[...] = e / s
    logits[rows, y] -= dt(1)
    logits *= dt(scale)
    return loss
