"""Numba ``hybrid`` kernel: Hogwild SGD (WARP, BPR, squared) over feature rows (see the reference).

Index safety: feature, user and item indices are not checked here. They are reachable only
through validated state: the feature CSRs are built by the estimator (and loaded ones are
checked by ``maaskit._schema`` to index into the embedding tables), the interactions and
``neg_pool`` come from the id indices.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .bpr import _bounded, _contains, _seed_state, _step

LOSS_WARP, LOSS_BPR, LOSS_SQUARED = 0, 1, 2


@nb.njit(cache=True, nogil=True, inline="always")
def _represent(indptr, indices, data, E, B, row, out):
    k = E.shape[1]
    for f in range(k):
        out[f] = 0
    bias = E.dtype.type(0)
    for a in range(indptr[row], indptr[row + 1]):
        feat, w = indices[a], data[a]
        for f in range(k):
            out[f] += w * E[feat, f]
        bias += w * B[feat]
    return bias


@nb.njit(cache=True, nogil=True)
def _adagrad_row(indptr, indices, data, E, B, GE, GB, row, coef, vec, g_bias, lr, alpha, update_bias):
    # g_rep = coef * vec (kept as two factors so no temporary is needed)
    k = E.shape[1]
    for a in range(indptr[row], indptr[row + 1]):
        feat, w = indices[a], data[a]
        for f in range(k):
            g = w * (coef * vec[f]) + alpha * E[feat, f]
            GE[feat, f] += g * g
            E[feat, f] -= lr * g / np.sqrt(GE[feat, f])
        if update_bias:
            gb = w * g_bias + alpha * B[feat]
            GB[feat] += gb * gb
            B[feat] -= lr * gb / np.sqrt(GB[feat])


@nb.njit(cache=True, nogil=True)
def _update(uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, Eu, Bu, Ei, Bi,
            GEu, GBu, GEi, GBi, u, i, j, dpos, dneg, dbu, has_bu, lr, ua, ia, pu, qi, qj, gp):
    _adagrad_row(if_indptr, if_indices, if_data, Ei, Bi, GEi, GBi, i, dpos, pu, dpos, lr, ia, True)
    k = Eu.shape[1]
    for f in range(k):
        gp[f] = dpos * qi[f]
    if j >= 0:
        _adagrad_row(if_indptr, if_indices, if_data, Ei, Bi, GEi, GBi, j, dneg, pu, dneg, lr, ia, True)
        for f in range(k):
            gp[f] = gp[f] + dneg * qj[f]
    one = Eu.dtype.type(1)
    _adagrad_row(uf_indptr, uf_indices, uf_data, Eu, Bu, GEu, GBu, u, one, gp, dbu, lr, ua, has_bu)


@nb.njit(cache=True, nogil=True)
def _dot(a, b):
    s = a.dtype.type(0)
    for f in range(a.shape[0]):
        s += a[f] * b[f]
    return s


@nb.njit(cache=True, nogil=True)
def _chunk(loss, uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, row_of, col_of,
           values, seen_indptr, seen_indices, neg_pool, Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi,
           lr, ua, ia, max_sampled, state, start, stop):
    dt = Eu.dtype.type
    k = Eu.shape[1]
    pu = np.empty(k, Eu.dtype)
    qi = np.empty(k, Eu.dtype)
    qj = np.empty(k, Eu.dtype)
    gp = np.empty(k, Eu.dtype)
    nnz = row_of.shape[0]
    n_pool = neg_pool.shape[0]
    good = 0
    skipped = 0
    zero = dt(0)
    for _ in range(start, stop):
        state = _step(state)
        pos = _bounded(state, nnz)
        u, i = row_of[pos], col_of[pos]
        bu = _represent(uf_indptr, uf_indices, uf_data, Eu, Bu, u, pu)
        bi = _represent(if_indptr, if_indices, if_data, Ei, Bi, i, qi)
        si = _dot(pu, qi) + bi
        lo, hi = seen_indptr[u], seen_indptr[u + 1]
        if loss == LOSS_SQUARED:
            d = dt(si + bu - values[pos])
            _update(uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, Eu, Bu, Ei, Bi,
                    GEu, GBu, GEi, GBi, u, i, -1, d, zero, d, True, lr, ua, ia, pu, qi, qj, gp)
            continue
        if n_pool == 0:
            skipped += 1
            continue
        if loss == LOSS_BPR:
            state = _step(state)
            j = neg_pool[_bounded(state, n_pool)]
            tries = 1
            while _contains(seen_indices, lo, hi, j) and tries < max_sampled:
                state = _step(state)
                j = neg_pool[_bounded(state, n_pool)]
                tries += 1
            if _contains(seen_indices, lo, hi, j):
                skipped += 1
                continue
            bj = _represent(if_indptr, if_indices, if_data, Ei, Bi, j, qj)
            x = si - (_dot(pu, qj) + bj)
            if x > 0:
                good += 1
            dpos = dt(-1.0 / (1.0 + math.exp(np.float64(x))))
            _update(uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, Eu, Bu, Ei, Bi,
                    GEu, GBu, GEi, GBi, u, i, j, dpos, -dpos, zero, False, lr, ua, ia, pu, qi, qj, gp)
            continue
        stepped = False
        for drawn in range(1, max_sampled + 1):
            state = _step(state)
            j = neg_pool[_bounded(state, n_pool)]
            if _contains(seen_indices, lo, hi, j):
                continue
            bj = _represent(if_indptr, if_indices, if_data, Ei, Bi, j, qj)
            sj = _dot(pu, qj) + bj
            if sj > si - dt(1):
                w = dt(math.log(max(1.0, math.floor((n_pool - 1) / drawn))))
                _update(uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, Eu, Bu, Ei, Bi,
                        GEu, GBu, GEi, GBi, u, i, j, -w, w, zero, False, lr, ua, ia, pu, qi, qj, gp)
                stepped = True
                break
        if not stepped:
            good += 1
    return good, skipped


@nb.njit(cache=True, nogil=True, parallel=True)
def _epoch(loss, uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, row_of, col_of,
           values, seen_indptr, seen_indices, neg_pool, Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi,
           lr, ua, ia, max_sampled, seed, n_samples, n_threads, out):
    for t in nb.prange(n_threads):
        g, s = _chunk(loss, uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data, row_of,
                      col_of, values, seen_indptr, seen_indices, neg_pool, Eu, Bu, Ei, Bi,
                      GEu, GBu, GEi, GBi, lr, ua, ia, max_sampled, _seed_state(seed, t),
                      t * n_samples // n_threads, (t + 1) * n_samples // n_threads)
        out[t, 0] = g
        out[t, 1] = s


def hybrid_epoch(loss, uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data,
                 row_of, col_of, values, seen_indptr, seen_indices, neg_pool,
                 Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi, learning_rate, user_alpha, item_alpha,
                 max_sampled, seed, n_samples, n_threads, stats):
    """Numba twin of :func:`maaskit._kernels.reference.hybrid.hybrid_epoch`."""
    n_threads = max(1, int(n_threads))
    out = np.zeros((n_threads, 2), dtype=np.int64)
    if len(row_of) and n_samples > 0:
        dt = Eu.dtype.type
        old = nb.get_num_threads()
        nb.set_num_threads(max(1, min(n_threads, nb.config.NUMBA_NUM_THREADS)))
        try:
            _epoch(int(loss), uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data,
                   row_of, col_of, values, seen_indptr, seen_indices, neg_pool,
                   Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi, dt(learning_rate), dt(user_alpha),
                   dt(item_alpha), int(max_sampled), np.uint64(int(seed)), int(n_samples),
                   n_threads, out)
        finally:
            nb.set_num_threads(old)
    stats[0] = out[:, 0].sum()
    stats[1] = out[:, 1].sum()
