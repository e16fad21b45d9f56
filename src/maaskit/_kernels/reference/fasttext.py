"""NumPy reference ``fasttext`` kernel: averaged feature embeddings + a softmax head.

A document is a bag of feature ids (words, word n-grams, character n-grams). Its hidden
vector is the mean of their rows of ``E``; the class scores are ``W @ h + b`` and the loss is
the softmax cross-entropy (Joulin et al. 2017, "Bag of Tricks for Efficient Text
Classification"). ``train_epoch`` runs plain SGD over the documents in the given order,
updating ``E``, ``W`` and ``b`` in place with exact gradients: the input gradient
``W.T @ (p - y)`` uses ``W`` before its update and is split evenly over the document's
features (a feature occurring twice gets it twice). A document with no features has
``h = 0`` and trains only the bias. With zero learning rates the call is a pure loss
evaluation, which the tests use for finite differences.

Index safety: Feature indices (the documents' CSR) come from data and are not checked here.
They are reachable only through validated state: features are looked up in ``vocabulary_``
(unknown ones dropped), and a loaded ``embeddings_`` is checked to have one row per vocabulary
entry and ``coef_`` one row per class (``maaskit._schema``).
"""

from __future__ import annotations

import numpy as np


def _hidden(indptr, indices, E, i):
    lo, hi = int(indptr[i]), int(indptr[i + 1])
    if hi == lo:
        return np.zeros(E.shape[1], dtype=E.dtype), lo, hi
    return E[indices[lo:hi]].sum(axis=0) * E.dtype.type(1.0 / (hi - lo)), lo, hi


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    m = z.max()
    return z - m - np.log(np.exp(z - m).sum())


def train_epoch(indptr, indices, labels, order, lrs, E, W, b):
    """One SGD pass over ``order``; returns the summed cross-entropy before each update.

    Parameters
    ----------
    indptr : ndarray of shape (n_docs + 1,), int64
        CSR row pointers of the document-feature lists.
    indices : ndarray of shape (nnz,), int32
        Feature ids.
    labels : ndarray of shape (n_docs,), int32
        Class index of each document.
    order : ndarray of shape (n_steps,), int64
        Documents to visit, in order.
    lrs : ndarray of shape (n_steps,), float64
        Learning rate of each step.
    E : ndarray of shape (n_features, dim), float32 or float64
        Feature embeddings, updated in place.
    W : ndarray of shape (n_classes, dim)
        Output weights, updated in place.
    b : ndarray of shape (n_classes,)
        Output bias, updated in place.

    Returns
    -------
    loss : float
    """
    loss = 0.0
    dt = E.dtype.type
    for t in range(len(order)):
        i = int(order[t])
        h, lo, hi = _hidden(indptr, indices, E, i)
        logp = _log_softmax(W @ h + b)
        y = int(labels[i])
        loss -= logp[y]
        d = np.exp(logp)
        d[y] -= 1.0
        d = d.astype(E.dtype)
        lr = dt(lrs[t])
        grad_h = W.T @ d
        W -= lr * np.outer(d, h)
        b -= lr * d
        if hi > lo:
            step = lr * dt(1.0 / (hi - lo)) * grad_h
            for f in indices[lo:hi]:
                E[f] -= step
    return float(loss)


def predict_scores(indptr, indices, E, W, b, out):
    """Class scores ``W @ h + b`` of every document, written to ``out``.

    Parameters
    ----------
    indptr, indices : ndarray
        As in :func:`train_epoch`.
    E, W, b : ndarray
        Model parameters.
    out : ndarray of shape (n_docs, n_classes)
        Output, same dtype as ``E``.
    """
    for i in range(len(indptr) - 1):
        h, _, _ = _hidden(indptr, indices, E, i)
        out[i] = W @ h + b
