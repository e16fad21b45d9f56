"""Weighted ALS on torch tensors (CPU or CUDA): the device twin of the ``als`` kernel.

Same maths, names and argument order as :mod:`maaskit._kernels.reference.als`, but every
row is solved at once instead of in a loop: the per-row sums ``sum_{i in row u}`` become one
gather of ``Y[indices]`` and one ``index_add_`` over the stored entries, and the per-row
conjugate-gradient scalars become vectors. That is what keeps a GPU busy: a half-iteration is
a handful of large kernels instead of one tiny solve per user. All arguments are tensors on
one device; ``indptr`` and ``indices`` are int64, ``X``/``Y``/``YtY`` share a float dtype.
This module is imported only when torch is (``import maaskit`` never imports torch).

Index safety: The interaction CSR's indices come from data and are not checked here. They are
reachable only through validated state: the estimator builds the CSR from its id index (codes
in ``[0, n_users)``/``[0, n_items)``), and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations

import numpy as np
import torch

# Budget for the (entries, k, k) outer products of the exact solver, in elements: bounded
# memory whatever the data size (256 MiB in float32).
_CHOLESKY_BLOCK = 64 * 1024 * 1024


def _row_of_entry(indptr: torch.Tensor) -> torch.Tensor:
    n_rows = indptr.shape[0] - 1
    counts = indptr[1:] - indptr[:-1]
    return torch.repeat_interleave(torch.arange(n_rows, device=indptr.device), counts)


def least_squares_cg(indptr, indices, data, X, Y, YtY, confidence_weight, cg_steps, n_threads=1):
    """Update every row of ``X`` by ``cg_steps`` conjugate-gradient steps, in place.

    Parameters
    ----------
    indptr : Tensor of shape (n_rows + 1,), int64
    indices : Tensor of shape (nnz,), int64
    data : Tensor of shape (nnz,)
        Raw interaction strengths ``r`` (>= 0).
    X : Tensor of shape (n_rows, k)
        Factors to update (warm start).
    Y : Tensor of shape (n_cols, k)
        Fixed factors of the other side.
    YtY : Tensor of shape (k, k)
        ``Y.T @ Y + regularization * I``.
    confidence_weight : float
    cg_steps : int
    n_threads : int, default=1
        Unused (torch manages its own threads); part of the shared signature.
    """
    rows = _row_of_entry(indptr)
    Yg = Y[indices]
    v = data.to(X.dtype)
    cm1 = confidence_weight * v
    b = torch.zeros_like(X).index_add_(0, rows, Yg * ((cm1 + 1) * (v > 0))[:, None])

    def apply_a(z: torch.Tensor) -> torch.Tensor:
        # YtY is symmetric, so z @ YtY is YtY z row by row.
        out = z @ YtY
        t = (Yg * z[rows]).sum(1) * cm1
        return out.index_add_(0, rows, Yg * t[:, None])

    empty = indptr[1:] == indptr[:-1]
    X[empty] = 0
    r = b - apply_a(X)
    p = r.clone()
    rsold = (r * r).sum(1)
    active = (rsold >= 1e-20) & ~empty
    for _ in range(cg_steps):
        if not bool(active.any()):
            break
        Ap = apply_a(p)
        alpha = torch.where(active, rsold / (p * Ap).sum(1), torch.zeros_like(rsold))
        X += alpha[:, None] * p
        r -= alpha[:, None] * Ap
        rsnew = (r * r).sum(1)
        # A row stops (as the reference's `break`) once its residual vanishes.
        go_on = active & (rsnew >= 1e-20)
        beta = torch.where(go_on, rsnew / rsold, torch.zeros_like(rsnew))
        p = torch.where(go_on[:, None], r + beta[:, None] * p, p)
        rsold = torch.where(go_on, rsnew, rsold)
        active = go_on


def least_squares(indptr, indices, data, X, Y, YtY, confidence_weight, n_threads=1):
    """Solve every row of ``X`` exactly (batched Cholesky), in place.

    Same parameters as :func:`least_squares_cg`, without ``cg_steps``. Rows are solved in
    blocks whose outer products fit in a fixed memory budget.
    """
    n_rows, k = X.shape
    ptr = indptr.cpu().numpy()
    max_entries = max(1, _CHOLESKY_BLOCK // (k * k))
    start = 0
    while start < n_rows:
        # The longest run of rows whose entries' outer products fit the budget (>= 1 row).
        stop = int(np.searchsorted(ptr, ptr[start] + max_entries, side="right")) - 1
        stop = min(max(stop, start + 1), n_rows)
        lo, hi = int(ptr[start]), int(ptr[stop])
        rows = _row_of_entry(indptr[start : stop + 1] - lo)
        Yg = Y[indices[lo:hi]]
        v = data[lo:hi].to(X.dtype)
        cm1 = confidence_weight * v
        A = YtY.expand(stop - start, k, k).clone()
        A.index_add_(0, rows, (Yg[:, :, None] * Yg[:, None, :]) * cm1[:, None, None])
        b = torch.zeros(stop - start, k, dtype=X.dtype, device=X.device)
        b.index_add_(0, rows, Yg * ((cm1 + 1) * (v > 0))[:, None])
        L = torch.linalg.cholesky(A)
        sol = torch.cholesky_solve(b[:, :, None], L)[:, :, 0]
        empty = indptr[start + 1 : stop + 1] == indptr[start:stop]
        sol[empty] = 0
        X[start:stop] = sol
        start = stop
