"""Block ALS on Dask: the Spark MLlib scheme with maaskit's ``als`` kernel.

Kernels: ``als`` (``least_squares_cg`` / ``least_squares``, as the in-process
:class:`~maaskit.recommender.ALS`).

Users are dealt into ``P`` blocks and items into ``Q``, round-robin by code (MLlib's hash
partitioning: it spreads popular items, which come first, evenly). A user block
holds, on one worker, its rows of the interaction matrix with the columns renumbered to
the items those users touched, plus, per item block, the list of those items ("out
blocks" in MLlib). A half-iteration then

1. sums the ``k x k`` Gram matrices of the item blocks (``Y^T Y``, a tiny tree-reduce),
2. takes, on the worker of each item block, the factor rows each user block needs,
3. solves every user block on its worker with the kernel, warm-started from its factors.

The item half-iteration mirrors it. Each row's solve depends only on that row's
interactions, the other side's factors and ``Y^T Y``, so the result is the in-process
ALS up to the float32 summation order of ``Y^T Y`` (given the same initial factors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._backend import get_kernel
from ..exceptions import ModelFitError
from ._blocks import (
    _concat,
    _csr,
    _popularity,
    _split_by_items,
    _split_by_users,
    _sum,
    block_size,
    finish,
    interleave,
    pieces_by,
    prepare,
    worker_threads,
)


# ---------------------------------------------------------------------- worker-side tasks
def _build_block(pieces: list[tuple], side: int, n_rows: int, n_row_blocks: int, n_cols: int,
                 n_col_blocks: int) -> tuple:
    """One block of ``n_rows`` rows, its columns renumbered to the columns its rows touch.

    ``side`` 0 makes rows users and columns items, 1 the transpose. Rows are local
    (``code // n_row_blocks``). Returns ``((indptr, indices, data), needed)``:
    ``needed[q]`` lists the touched columns of column block ``q`` as local rows of that
    block, ascending; the renumbered columns follow ``needed`` concatenated in block order.
    """
    coded = _concat(pieces)
    rows = coded[side] // n_row_blocks
    cols = coded[1 - side].astype(np.int64)
    R = _csr(rows, cols, coded[2], (n_rows, n_cols))
    touched = np.unique(R.indices).astype(np.int64)
    # Sort key of a column: (its column block, its local row there), as one integer.
    stride = n_cols // n_col_blocks + 1
    keys = (touched % n_col_blocks) * stride + touched // n_col_blocks
    order = np.argsort(keys, kind="stable")
    col_keys = (R.indices % n_col_blocks).astype(np.int64) * stride + R.indices // n_col_blocks
    local = np.searchsorted(keys[order], col_keys).astype(np.int32)
    touched = touched[order]
    needed = [touched[touched % n_col_blocks == q] // n_col_blocks for q in range(n_col_blocks)]
    return (R.indptr.astype(np.int64), local, R.data.astype(np.float32)), needed


def _seen_rows(block: tuple, n_items: int) -> sp.csr_matrix:
    """Rows of the seen matrix with global item codes, rebuilt from a user block."""
    (indptr, local, data), needed = block
    Q = len(needed)
    touched = np.concatenate([nq * Q + q for q, nq in enumerate(needed)])
    return sp.csr_matrix((data, touched[local].astype(np.int32), indptr),
                         shape=(len(indptr) - 1, n_items))


def _needed(block: tuple, q: int) -> np.ndarray:
    return block[1][q]


def _init(n_rows: int, k: int, seed: int) -> np.ndarray:
    return (np.random.RandomState(seed).random_sample((n_rows, k)) * 0.01).astype(np.float32)


def _gram(F: np.ndarray) -> np.ndarray:
    return F.T @ F


def _regularize(G: np.ndarray, regularization: float) -> np.ndarray:
    G = G.astype(np.float32)
    G[np.diag_indices_from(G)] += np.float32(regularization)
    return np.ascontiguousarray(G)


def _take(F: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return F if len(rows) == len(F) else F[rows]


def _solve(block: tuple, X: np.ndarray, slices: list[np.ndarray], G: np.ndarray,
           confidence_weight: float, cg_steps: int, exact: bool, backend: str) -> np.ndarray:
    (indptr, indices, data), _ = block
    X = X.copy()  # a task result may be shared: never write to it in place
    Y = np.ascontiguousarray(np.concatenate(slices) if len(slices) > 1 else slices[0], dtype=np.float32)
    kern = get_kernel("als", backend)
    if exact:
        kern.least_squares(indptr, indices, data, X, Y, G, confidence_weight, worker_threads())
    else:
        kern.least_squares_cg(indptr, indices, data, X, Y, G, confidence_weight, cg_steps,
                              worker_threads())
    return X


def _is_finite(*arrays: np.ndarray) -> bool:
    return all(bool(np.isfinite(a.sum())) for a in arrays)


# ---------------------------------------------------------------------- client side
def _half(client: Any, blocks: list, needed: list[list], X: list, Y: list, est: Any,
          exact: bool) -> list:
    """One half-iteration: solve every block of ``X`` with ``Y`` fixed; return new futures."""
    grams = [client.submit(_gram, y, pure=False) for y in Y]
    G = client.submit(_regularize, client.submit(_sum, grams, pure=False),
                      float(est.regularization), pure=False)
    out = []
    for b, block in enumerate(blocks):
        slices = [client.submit(_take, Y[q], needed[b][q], pure=False) for q in range(len(Y))]
        out.append(client.submit(_solve, block, X[b], slices, G, float(est.confidence_weight),
                                 int(est.cg_steps), exact, est.backend_, pure=False))
    return out


def fit_als(est: Any, X: Any, client: Any, n_blocks: int, init: tuple | None = None) -> Any:
    """Fit ``est`` (an :class:`~maaskit.recommender.ALS`) by block ALS on ``client``.

    ``init``, a pair of full initial factor arrays, replaces the seeded per-block
    initialisation (tests use it to compare with the in-process ALS).
    """
    rng, where = est._validate("fit")
    prep = prepare(X, client, implicit=True)
    n_users, n_items = len(prep.user_index), len(prep.item_index)
    P, Q = min(n_blocks, n_users), min(n_blocks, n_items)

    usplit = client.map(_split_by_users, prep.coded, n_user_blocks=P, pure=False)
    isplit = client.map(_split_by_items, prep.coded, n_item_blocks=Q, pure=False)
    popularity = client.submit(_sum, client.map(_popularity, prep.coded, n_items=n_items, pure=False),
                               pure=False)
    upieces, ipieces = pieces_by(client, usplit, P), pieces_by(client, isplit, Q)
    ublocks = [client.submit(_build_block, upieces[b], 0, block_size(n_users, P, b), P, n_items, Q,
                             pure=False) for b in range(P)]
    iblocks = [client.submit(_build_block, ipieces[q], 1, block_size(n_items, Q, q), Q, n_users, P,
                             pure=False) for q in range(Q)]
    del usplit, isplit, upieces, ipieces
    prep.coded = []  # the blocks now hold the data; let the partitions go

    def needed_of(blocks, n_other):
        return [[client.submit(_needed, f, q, pure=False) for q in range(n_other)] for f in blocks]

    uneed, ineed = needed_of(ublocks, Q), needed_of(iblocks, P)
    k = int(est.n_factors)
    if init is None:
        seeds = rng.randint(0, 2**31 - 1, size=P + Q)
        U = [client.submit(_init, block_size(n_users, P, b), k, int(seeds[b]), pure=False)
             for b in range(P)]
        V = [client.submit(_init, block_size(n_items, Q, q), k, int(seeds[P + q]), pure=False)
             for q in range(Q)]
    else:
        U0, V0 = (np.asarray(a, dtype=np.float32) for a in init)
        U = client.scatter([np.ascontiguousarray(U0[b::P]) for b in range(P)], hash=False)
        V = client.scatter([np.ascontiguousarray(V0[q::Q]) for q in range(Q)], hash=False)

    exact = est.solver == "cholesky"
    est.n_iter_ = 0
    for it in range(est.max_iter):
        U = _half(client, ublocks, uneed, U, V, est, exact)
        V = _half(client, iblocks, ineed, V, U, est, exact)
        # One small round trip per iteration: the divergence check of the in-process fit,
        # which also keeps the scheduler from queueing the whole run at once.
        if not client.submit(_is_finite, *U, *V, pure=False).result():
            raise ModelFitError(
                f"{where}: training diverged at iteration {it + 1} (factors are not finite). "
                f"Try a larger regularization."
            )
        est.n_iter_ = it + 1
        if est.verbose:
            print(f"ALS (distributed, {P}x{Q} blocks): iteration {it + 1}/{est.max_iter}")

    est.user_factors_ = interleave(client.gather(U), n_users)
    est.item_factors_ = interleave(client.gather(V), n_items)
    seen = [client.submit(_seen_rows, blk, n_items, pure=False) for blk in ublocks]
    finish(est, prep, client, seen, popularity)
    est._check_divergence(where)
    return est

