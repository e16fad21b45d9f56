"""Batched top-k with exclusion of seen items: the NumPy oracle for the ``topk`` kernel.

Ordering: higher score first, ties broken by lower column index. Excluded or ``-inf``
entries are never returned; rows with fewer than ``k`` eligible columns are padded with
index ``-1`` and score ``-inf``.

Index safety: ``seen_indptr``/``seen_indices`` come from data (the model's seen-items CSR) and
are not checked here: an index past ``n_cols`` would write out of bounds. They are reachable
only through validated state: ``fit``/``partial_fit`` build the CSR from the id index, and
loading checks it (``maaskit._schema.CSR``: indptr from 0, non-decreasing, ending at nnz;
indices in ``[0, n_items)``) before any call.
"""

from __future__ import annotations

import numpy as np


def topk_rows(scores, seen_indptr, seen_indices, k, out_idx, out_scores, n_threads=1):
    """Write the top ``k`` columns of every row of ``scores`` into ``out_idx``/``out_scores``.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_cols), float32 or float64
        Modified in place: excluded entries are set to ``-inf``.
    seen_indptr : ndarray of shape (n_rows + 1,), int64
        CSR row pointer of the columns to exclude per row.
    seen_indices : ndarray of shape (nnz,), int32
        CSR column indices to exclude.
    k : int
        Number of columns to keep per row.
    out_idx : ndarray of shape (n_rows, k), int32
    out_scores : ndarray of shape (n_rows, k), same dtype as ``scores``
    n_threads : int, default=1
        Unused here; part of the shared signature.
    """
    n_rows = scores.shape[0]
    for r in range(n_rows):
        row = scores[r]
        row[seen_indices[seen_indptr[r] : seen_indptr[r + 1]]] = -np.inf
        order = np.argsort(-row, kind="stable")[:k]
        n_valid = int(np.count_nonzero(row[order] > -np.inf))
        out_idx[r, :n_valid] = order[:n_valid]
        out_scores[r, :n_valid] = row[order[:n_valid]]
        out_idx[r, n_valid:] = -1
        out_scores[r, n_valid:] = -np.inf
