"""Hybrid (LightFM-style) matrix factorisation by SGD: the NumPy oracle for the ``hybrid`` kernel.

A user is a weighted sum of the embeddings of its features (a row of the user feature CSR),
an item likewise; every feature also has a bias. With ``p_u = sum_f w_uf E_u[f]``,
``b_u = sum_f w_uf B_u[f]`` and ``q_i``, ``b_i`` the same over the item features, the score
is ``s(u, i) = p_u . q_i + b_i`` (plus ``b_u`` for the squared loss, where it matters).

One epoch draws ``n_samples`` interactions uniformly (with replacement) from the training
COO arrays and takes one SGD step per draw on the per-example loss:

- ``LOSS_WARP`` (0): up to ``max_sampled`` negatives ``j`` are drawn from ``neg_pool``
  (a draw the user has interacted with is skipped but counts); the first with
  ``s(u, j) > s(u, i) - 1`` gives ``weight * (1 - s(u, i) + s(u, j))`` with
  ``weight = log(max(1, floor((len(neg_pool) - 1) / n_drawn)))`` (Weston et al. 2011, as
  LightFM does). No violation within ``max_sampled`` draws: no step.
- ``LOSS_BPR`` (1): one negative (redrawn up to ``max_sampled`` times while it is a
  positive of the user, else the example is skipped) and ``-log sigmoid(s(u, i) - s(u, j))``.
- ``LOSS_SQUARED`` (2): ``0.5 * (s(u, i) + b_u - r)^2`` with ``r`` the (centred) value.

plus ``alpha / 2 * |theta|^2`` for every feature parameter ``theta`` of the rows involved
(``user_alpha`` on user features, ``item_alpha`` on item features). Each parameter takes an
Adagrad step: ``G += g^2; theta -= learning_rate * g / sqrt(G)`` (``G`` starts at 1, as in
LightFM). Parameters of item ``i``'s features are updated first, then ``j``'s, then the
user's, all from the representations computed before the step.

Draws: samples are cut into ``n_threads`` contiguous chunks; chunk ``t`` uses its own
xorshift64* stream seeded by splitmix64 from ``seed`` and ``t`` (the same generator as the
``bpr`` kernel). An interaction is drawn first, then negatives. The compiled kernels run the
chunks in parallel (Hogwild); with ``n_threads=1`` every backend takes the same steps.

Index safety: feature, user and item indices are not checked here. They are reachable only
through validated state: the feature CSRs are built by the estimator (and loaded ones are
checked by ``maaskit._schema`` to index into the embedding tables), the interactions and
``neg_pool`` come from the id indices.
"""

from __future__ import annotations

import math

import numpy as np

from .bpr import _seed_state, _XorShift

LOSS_WARP, LOSS_BPR, LOSS_SQUARED = 0, 1, 2


def _contains(indices: np.ndarray, lo: int, hi: int, j: int) -> bool:
    # Binary search in a sorted CSR row (same as the compiled kernels).
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v == j:
            return True
        if v < j:
            lo = mid + 1
        else:
            hi = mid
    return False


def _represent(indptr, indices, data, E, B, row):
    lo, hi = indptr[row], indptr[row + 1]
    f, w = indices[lo:hi], data[lo:hi]
    rep = np.zeros(E.shape[1], dtype=E.dtype)
    bias = E.dtype.type(0)
    for a in range(hi - lo):
        rep += w[a] * E[f[a]]
        bias += w[a] * B[f[a]]
    return rep, bias


def _adagrad_row(indptr, indices, data, E, B, GE, GB, row, g_rep, g_bias, lr, alpha, update_bias):
    dt = E.dtype.type
    for a in range(indptr[row], indptr[row + 1]):
        f, w = indices[a], data[a]
        g = w * g_rep + alpha * E[f]
        GE[f] += g * g
        E[f] -= lr * g / np.sqrt(GE[f])
        if update_bias:
            gb = dt(w * g_bias + alpha * B[f])
            GB[f] += gb * gb
            B[f] -= lr * gb / dt(np.sqrt(GB[f]))


def _step(user_f, item_f, params, u, i, j, dpos, dneg, dbu, lr, user_alpha, item_alpha, pu, qi, qj):
    Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi = params
    dt = Eu.dtype.type
    _adagrad_row(*item_f, Ei, Bi, GEi, GBi, i, dpos * pu, dpos, lr, item_alpha, True)
    g_p = dpos * qi
    if j >= 0:
        _adagrad_row(*item_f, Ei, Bi, GEi, GBi, j, dneg * pu, dneg, lr, item_alpha, True)
        g_p = g_p + dneg * qj
    _adagrad_row(*user_f, Eu, Bu, GEu, GBu, u, g_p.astype(Eu.dtype), dt(0 if dbu is None else dbu),
                 lr, user_alpha, dbu is not None)


def hybrid_epoch(loss, uf_indptr, uf_indices, uf_data, if_indptr, if_indices, if_data,
                 row_of, col_of, values, seen_indptr, seen_indices, neg_pool,
                 Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi, learning_rate, user_alpha, item_alpha,
                 max_sampled, seed, n_samples, n_threads, stats):
    """Run one epoch of hybrid SGD in place.

    Parameters
    ----------
    loss : int
        ``LOSS_WARP``, ``LOSS_BPR`` or ``LOSS_SQUARED``.
    uf_indptr, uf_indices, uf_data : ndarray
        User feature CSR (int64, int32, dtype of the parameters), one row per user.
    if_indptr, if_indices, if_data : ndarray
        Item feature CSR, one row per item.
    row_of, col_of : ndarray of shape (nnz,), int32
        User and item of every training interaction.
    values : ndarray of shape (nnz,), dtype of the parameters
        Centred ratings (squared loss only; ignored otherwise).
    seen_indptr, seen_indices : ndarray
        Users x items CSR (int64, int32, sorted rows) of the positives, for negative checks.
    neg_pool : ndarray of shape (n_pool,), int32
        Items negatives are drawn from.
    Eu, Bu, Ei, Bi : ndarray
        User feature embeddings (n_user_features, k) and biases, item likewise; float32 or
        float64, updated in place.
    GEu, GBu, GEi, GBi : ndarray
        Adagrad accumulators of the same shapes, updated in place.
    learning_rate, user_alpha, item_alpha : float
    max_sampled : int
        Negative draws per example (WARP), redraws (BPR).
    seed : int
        Seed of the draws (uint64).
    n_samples : int
        Examples drawn in the epoch.
    n_threads : int
        Number of chunks (threads in the compiled kernels).
    stats : ndarray of shape (2,), int64
        Out: examples needing no step (WARP) or ranked correctly (BPR); examples skipped.
    """
    dt = Eu.dtype.type
    lr, ua, ia = dt(learning_rate), dt(user_alpha), dt(item_alpha)
    nnz, n_pool = len(row_of), len(neg_pool)
    user_f = (uf_indptr, uf_indices, uf_data)
    item_f = (if_indptr, if_indices, if_data)
    params = (Eu, Bu, Ei, Bi, GEu, GBu, GEi, GBi)
    stats[0] = stats[1] = 0
    if nnz == 0 or n_samples <= 0:
        return
    n_threads = max(1, int(n_threads))
    for t in range(n_threads):
        rng = _XorShift(_seed_state(int(seed), t))
        for _ in range(t * n_samples // n_threads, (t + 1) * n_samples // n_threads):
            pos = rng.draw(nnz)
            u, i = int(row_of[pos]), int(col_of[pos])
            pu, bu = _represent(*user_f, Eu, Bu, u)
            qi, bi = _represent(*item_f, Ei, Bi, i)
            si = dt(pu @ qi) + bi
            lo, hi = seen_indptr[u], seen_indptr[u + 1]
            if loss == LOSS_SQUARED:
                d = dt(si + bu - values[pos])
                _step(user_f, item_f, params, u, i, -1, d, dt(0), d, lr, ua, ia, pu, qi, None)
                continue
            if n_pool == 0:
                stats[1] += 1
                continue
            if loss == LOSS_BPR:
                j = int(neg_pool[rng.draw(n_pool)])
                tries = 1
                while _contains(seen_indices, lo, hi, j) and tries < max_sampled:
                    j = int(neg_pool[rng.draw(n_pool)])
                    tries += 1
                if _contains(seen_indices, lo, hi, j):
                    stats[1] += 1
                    continue
                qj, bj = _represent(*item_f, Ei, Bi, j)
                x = si - (dt(pu @ qj) + bj)
                if x > 0:
                    stats[0] += 1
                dpos = dt(-1.0 / (1.0 + math.exp(float(x))))
                _step(user_f, item_f, params, u, i, j, dpos, -dpos, None, lr, ua, ia, pu, qi, qj)
                continue
            # WARP
            stepped = False
            for drawn in range(1, max_sampled + 1):
                j = int(neg_pool[rng.draw(n_pool)])
                if _contains(seen_indices, lo, hi, j):
                    continue
                qj, bj = _represent(*item_f, Ei, Bi, j)
                sj = dt(pu @ qj) + bj
                if sj > si - dt(1):
                    w = dt(math.log(max(1.0, math.floor((n_pool - 1) / drawn))))
                    _step(user_f, item_f, params, u, i, j, -w, w, None, lr, ua, ia, pu, qi, qj)
                    stepped = True
                    break
            if not stepped:
                stats[0] += 1


# ---------------------------------------------------------------- per-example loss and gradient
def example_loss(loss, user_row, item_row, neg_row, Eu, Bu, Ei, Bi, value=0.0, weight=1.0,
                 user_alpha=0.0, item_alpha=0.0):
    """Per-example loss whose gradient the SGD step follows (float64, for gradient checks).

    Parameters
    ----------
    loss : int
        ``LOSS_WARP`` (with ``weight`` fixed and the margin assumed violated), ``LOSS_BPR``
        or ``LOSS_SQUARED``.
    user_row, item_row, neg_row : tuple of (indices, weights)
        Feature rows of the user, the positive item and the negative (``None`` for squared).
    Eu, Bu, Ei, Bi : ndarray
        Feature embeddings and biases.
    value : float, default=0.0
        Centred rating (squared loss).
    weight : float, default=1.0
        WARP rank weight.
    user_alpha, item_alpha : float, default=0.0
        L2 strengths.

    Returns
    -------
    loss : float
    """
    def rep(row, E, B):
        f, w = row
        return w @ E[f], w @ B[f]

    def l2(row, E, B):
        f = row[0]
        return 0.5 * (np.sum(E[f] ** 2) + np.sum(B[f] ** 2))

    pu, bu = rep(user_row, Eu, Bu)
    qi, bi = rep(item_row, Ei, Bi)
    si = pu @ qi + bi
    reg = user_alpha * l2(user_row, Eu, Bu if loss == LOSS_SQUARED else 0 * Bu) \
        + item_alpha * l2(item_row, Ei, Bi)
    if loss == LOSS_SQUARED:
        return float(0.5 * (si + bu - value) ** 2 + reg)
    qj, bj = rep(neg_row, Ei, Bi)
    sj = pu @ qj + bj
    reg += item_alpha * l2(neg_row, Ei, Bi)
    if loss == LOSS_BPR:
        return float(np.logaddexp(0.0, -(si - sj)) + reg)
    return float(weight * (1.0 - si + sj) + reg)


def example_gradient(loss, user_row, item_row, neg_row, Eu, Bu, Ei, Bi, value=0.0, weight=1.0,
                     user_alpha=0.0, item_alpha=0.0):
    """Gradient of :func:`example_loss` as the kernels compute it (rows with distinct features).

    Parameters
    ----------
    loss, user_row, item_row, neg_row, Eu, Bu, Ei, Bi, value, weight, user_alpha, item_alpha
        As in :func:`example_loss`.

    Returns
    -------
    gEu, gBu, gEi, gBi : ndarray
        Gradients with the shapes of the parameters.
    """
    gEu, gBu, gEi, gBi = (np.zeros_like(a, dtype=np.float64) for a in (Eu, Bu, Ei, Bi))
    fu, wu = user_row
    fi, wi = item_row
    pu, bu = wu @ Eu[fu], wu @ Bu[fu]
    qi, bi = wi @ Ei[fi], wi @ Bi[fi]
    si = pu @ qi + bi
    if loss == LOSS_SQUARED:
        dpos = si + bu - value
        dneg, qj, dbu = 0.0, np.zeros_like(qi), dpos
    else:
        fj, wj = neg_row
        qj, bj = wj @ Ei[fj], wj @ Bi[fj]
        if loss == LOSS_BPR:
            dpos = -1.0 / (1.0 + np.exp(si - (pu @ qj + bj)))
        else:
            dpos = -weight
        dneg, dbu = -dpos, None
        gEi[fj] += np.outer(wj, dneg * pu) + item_alpha * Ei[fj]
        gBi[fj] += wj * dneg + item_alpha * Bi[fj]
    gEi[fi] += np.outer(wi, dpos * pu) + item_alpha * Ei[fi]
    gBi[fi] += wi * dpos + item_alpha * Bi[fi]
    gEu[fu] += np.outer(wu, dpos * qi + dneg * qj) + user_alpha * Eu[fu]
    if dbu is not None:
        gBu[fu] += wu * dbu + user_alpha * Bu[fu]
    return gEu, gBu, gEi, gBi
