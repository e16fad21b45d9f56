"""DSGD on Dask: distributed SGD for explicit matrix factorisation (Gemulla et al. 2011).

Kernels: ``sgd`` (``sgd_epoch``, as the in-process
:class:`~maaskit.recommender.MatrixFactorization`).

Users and items are dealt round-robin by code into ``P`` blocks each (as the block ALS),
so the rating matrix falls into ``P x P`` cells kept on the workers, each with its
ratings in a fixed random order. An epoch runs ``P`` strata; stratum ``s`` holds the
cells ``(b, (b + s) mod P)``, which share no user and no item, so their SGD runs in
parallel without any conflict and the result is a valid serial SGD order (unlike
parameter averaging, nothing is averaged away). Between strata only factor blocks move:
the item blocks rotate through the cells, and the ratings never leave their worker. The
learning-rate decay, regularisation and initialisation are those of the in-process
model; the visiting order of the ratings differs, so results match in RMSE, not bit for
bit.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._backend import get_kernel
from ._blocks import (
    _concat,
    _popularity,
    _split_by_cells,
    _sum,
    block_size,
    finish,
    interleave,
    pieces_by,
    prepare,
    worker_threads,
)

_RATINGS_PER_THREAD = 250_000  # as MatrixFactorization: Hogwild threads only on big cells


# ---------------------------------------------------------------------- worker-side tasks
def _cell(pieces: list[tuple], n_blocks: int, seed: int) -> tuple:
    """Ratings of one cell with local codes (``code // n_blocks``), in a fixed random order."""
    u, i, r = _concat(pieces)
    perm = np.random.RandomState(seed).permutation(len(r))
    return ((u[perm] // n_blocks).astype(np.int32), (i[perm] // n_blocks).astype(np.int32),
            np.ascontiguousarray(r[perm], dtype=np.float32))


def _init(n_rows: int, k: int, init_std: float, seed: int) -> tuple:
    F = (np.random.RandomState(seed).standard_normal((n_rows, k)) * init_std).astype(np.float32)
    return F, np.zeros(n_rows, np.float32)


def _sgd_cell(cell: tuple, ustate: tuple, istate: tuple, mu: float, lr: float, lr_b: float,
              reg: float, reg_b: float, backend: str) -> tuple:
    u, i, r = cell
    # Task results may be shared between tasks: update copies, never the inputs.
    Pm, bu = ustate[0].copy(), ustate[1].copy()
    Qm, bi = istate[0].copy(), istate[1].copy()
    nt = max(1, min(worker_threads(), len(r) // _RATINGS_PER_THREAD))
    sse = get_kernel("sgd", backend).sgd_epoch(
        u, i, r, mu, bu, bi, Pm, Qm, np.ones(len(bu), np.float32), np.ones(len(bi), np.float32),
        lr, lr_b, reg, reg_b, nt)
    return (Pm, bu), (Qm, bi), float(sse)


def _seen_rows(cells: list[tuple], n_rows: int, n_items: int) -> sp.csr_matrix:
    """Seen-matrix rows of one user block from its cells ``(b, 0..P-1)``, global item codes."""
    P = len(cells)
    rows = np.concatenate([c[0] for c in cells])
    cols = np.concatenate([c[1].astype(np.int64) * P + q for q, c in enumerate(cells)])
    vals = np.concatenate([c[2] for c in cells])
    R = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, n_items))
    R.sum_duplicates()
    R.sort_indices()
    return R


def _total(values: list[float]) -> float:
    return float(sum(values))


# ---------------------------------------------------------------------- client side
def fit_mf(est: Any, X: Any, client: Any, n_blocks: int) -> Any:
    """Fit ``est`` (a :class:`~maaskit.recommender.MatrixFactorization`) by DSGD on ``client``."""
    rng, where = est._validate("fit")
    prep = prepare(X, client, implicit=False)
    n_users, n_items = len(prep.user_index), len(prep.item_index)
    P = max(1, min(n_blocks, n_users, n_items))

    split = client.map(_split_by_cells, prep.coded, n_blocks=P, pure=False)
    popularity = client.submit(_sum, client.map(_popularity, prep.coded, n_items=n_items, pure=False),
                               pure=False)
    pieces = pieces_by(client, split, P * P)
    seeds = rng.randint(0, 2**31 - 1, size=P * P + 2 * P)
    cells = [[client.submit(_cell, pieces[b * P + q], P, int(seeds[b * P + q]), pure=False)
              for q in range(P)] for b in range(P)]
    del split, pieces
    prep.coded = []

    k, std = int(est.n_factors), float(est.init_std)
    U = [client.submit(_init, block_size(n_users, P, b), k, std, int(seeds[P * P + b]), pure=False)
         for b in range(P)]
    V = [client.submit(_init, block_size(n_items, P, q), k, std, int(seeds[P * P + P + q]), pure=False)
         for q in range(P)]

    mu = prep.total / prep.n
    lr = float(est.learning_rate)
    lr_b = lr if est.bias_learning_rate is None else float(est.bias_learning_rate)
    reg = float(est.regularization)
    reg_b = reg if est.bias_regularization is None else float(est.bias_regularization)
    sse = 0.0
    for epoch in range(est.max_iter):
        sses = []
        for s in range(P):
            for b in range(P):
                q = (b + s) % P
                res = client.submit(_sgd_cell, cells[b][q], U[b], V[q], mu, lr, lr_b, reg, reg_b,
                                    est.backend_, pure=False)
                U[b] = client.submit(operator.getitem, res, 0, pure=False)
                V[q] = client.submit(operator.getitem, res, 1, pure=False)
                sses.append(client.submit(operator.getitem, res, 2, pure=False))
        # The in-process divergence check and verbose output, once per epoch.
        sse = client.submit(_total, sses, pure=False).result()
        est._epoch_check(sse, epoch, prep.n, where)
        lr *= est.learning_rate_decay
        lr_b *= est.learning_rate_decay

    ustates, vstates = client.gather(U), client.gather(V)
    est.global_mean_ = float(mu)
    est.user_factors_ = interleave([s[0] for s in ustates], n_users)
    est.user_bias_ = interleave([s[1] for s in ustates], n_users)
    est.item_factors_ = interleave([s[0] for s in vstates], n_items)
    est.item_bias_ = interleave([s[1] for s in vstates], n_items)
    est.train_rmse_ = float(np.sqrt(sse / max(prep.n, 1))) if est.max_iter else float("nan")
    est.rating_range_ = [float(prep.vmin), float(prep.vmax)]
    seen = [client.submit(_seen_rows, cells[b], block_size(n_users, P, b), n_items, pure=False)
            for b in range(P)]
    finish(est, prep, client, seen, popularity)
    est._check_divergence(where)
    return est
