"""NumPy reference for the ``embedding`` kernel: row lookup and its scatter-add gradient.

``out[n] = weight[ids[n]]``; the gradient adds ``dout[n]`` into row ``ids[n]`` of
``dweight`` (repeated ids accumulate). ``ids`` is flat ``(N,)`` int64 and already checked to
lie in ``[0, V)`` by the estimator.

Index safety: ``ids`` come from data and are not checked here. They are reachable only through
validated input and state: token sequences are checked non-negative, ids past the vocabulary
are mapped to the out-of-vocabulary row, padding never reaches the gather, and a loaded table
is checked to have ``vocab_size_ + 1`` rows (``maaskit._schema.Net`` and the sequence-model
rules).
"""

from __future__ import annotations

import numpy as np


def embedding_forward(ids, weight, out):
    """Gather rows of ``weight``.

    Parameters
    ----------
    ids : ndarray of shape (N,), dtype int64
        Row indices.
    weight : ndarray of shape (V, E)
        The embedding table.
    out : ndarray of shape (N, E)
        Written with ``weight[ids]``.
    """
    np.take(weight, ids, axis=0, out=out)


def embedding_backward(ids, dout, dweight):
    """Scatter-add ``dout`` into the rows ``ids`` of ``dweight``.

    Parameters
    ----------
    ids : ndarray of shape (N,), dtype int64
        Row indices used in the forward pass.
    dout : ndarray of shape (N, E)
        Gradient with respect to the gathered rows.
    dweight : ndarray of shape (V, E)
        Overwritten with the gradient with respect to ``weight``.
    """
    dweight[...] = 0
    np.add.at(dweight, ids, dout)
