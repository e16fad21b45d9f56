"""Batched top-k with exclusion of seen items on torch tensors (CPU or CUDA).

The device twin of :mod:`maaskit._kernels.reference.topk`, same names and argument order,
tensors instead of arrays. Excluded or ``-inf`` entries are never returned; short rows are
padded with index ``-1`` and score ``-inf``. One difference: ``torch.topk`` does not promise
an order among exactly tied scores, where the reference prefers the lower column.

Index safety: ``seen_indptr``/``seen_indices`` come from data (the model's seen-items CSR) and
are not checked here: an index past ``n_cols`` would write out of bounds. They are reachable
only through validated state: ``fit``/``partial_fit`` build the CSR from the id index, and
loading checks it (``maaskit._schema.CSR``: indptr from 0, non-decreasing, ending at nnz;
indices in ``[0, n_items)``) before any call.
"""

from __future__ import annotations

import torch


def topk_rows(scores, seen_indptr, seen_indices, k, out_idx, out_scores, n_threads=1):
    """Write the top ``k`` columns of every row of ``scores`` into ``out_idx``/``out_scores``.

    Parameters
    ----------
    scores : Tensor of shape (n_rows, n_cols)
        Modified in place: excluded entries are set to ``-inf``.
    seen_indptr : Tensor of shape (n_rows + 1,), int64
        CSR row pointer of the columns to exclude per row.
    seen_indices : Tensor of shape (nnz,), int64
        CSR column indices to exclude.
    k : int
        Number of columns to keep per row.
    out_idx : Tensor of shape (n_rows, k), int64
    out_scores : Tensor of shape (n_rows, k), same dtype as ``scores``
    n_threads : int, default=1
        Unused; part of the shared signature.
    """
    n_rows, n_cols = scores.shape
    counts = seen_indptr[1:] - seen_indptr[:-1]
    rows = torch.repeat_interleave(torch.arange(n_rows, device=scores.device), counts)
    scores[rows, seen_indices] = float("-inf")
    kk = min(k, n_cols)
    vals, idx = torch.topk(scores, kk, dim=1, largest=True, sorted=True)
    invalid = torch.isneginf(vals)
    out_idx.fill_(-1)
    out_scores.fill_(float("-inf"))
    out_idx[:, :kk] = torch.where(invalid, torch.full_like(idx, -1), idx)
    out_scores[:, :kk] = vals
