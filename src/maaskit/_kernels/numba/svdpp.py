"""Numba ``svdpp`` kernel: one SVD++ epoch, user by user, Hogwild over user chunks (see the reference).

Index safety: User/item indices and the implicit-feedback CSR come from data and are not
checked here. They are reachable only through validated state: ids go through the id index, and
a loaded seen-items CSR is checked (``maaskit._schema.CSR``) with ``implicit_factors_`` having
``n_items`` rows.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, fastmath=True)
def _chunk(indptr, indices, ratings, user_order, lo_u, hi_u, mu, bu, bi, P, Q, Y, us, its,
           lr, lrb, reg, regb, regy):
    k = P.shape[1]
    z = np.empty(k, dtype=P.dtype)
    g = np.empty(k, dtype=P.dtype)
    sse = 0.0
    for t in range(lo_u, hi_u):
        u = user_order[t]
        lo = indptr[u]
        hi = indptr[u + 1]
        if hi == lo:
            continue
        norm = P.dtype.type(1.0 / np.sqrt(hi - lo))
        for f in range(k):
            z[f] = 0.0
            g[f] = 0.0
        for p in range(lo, hi):
            yj = Y[indices[p]]
            for f in range(k):
                z[f] += yj[f]
        for f in range(k):
            z[f] *= norm
        su = us[u]
        a = lr * su
        pu = P[u]
        for p in range(lo, hi):
            i = indices[p]
            qi = Q[i]
            pred = mu + bu[u] + bi[i]
            for f in range(k):
                pred += qi[f] * (pu[f] + z[f])
            e = ratings[p] - pred
            sse += e * e
            si = its[i]
            bu[u] += lrb * su * (e - regb * bu[u])
            bi[i] += lrb * si * (e - regb * bi[i])
            b = lr * si
            for f in range(k):
                pf = pu[f]
                qf = qi[f]
                pu[f] = pf + a * (e * qf - reg * pf)
                qi[f] = qf + b * (e * (pf + z[f]) - reg * qf)
                g[f] += e * qf
        for f in range(k):
            g[f] *= norm
        for p in range(lo, hi):
            j = indices[p]
            c = lr * its[j]
            yj = Y[j]
            for f in range(k):
                yj[f] += c * (g[f] - regy * yj[f])
    return sse


@nb.njit(cache=True, nogil=True, parallel=True)
def _hogwild(indptr, indices, ratings, user_order, mu, bu, bi, P, Q, Y, us, its, lr, lrb, reg,
             regb, regy, n_threads):
    n = user_order.shape[0]
    out = np.zeros(n_threads)
    for t in nb.prange(n_threads):
        out[t] = _chunk(indptr, indices, ratings, user_order, n * t // n_threads,
                        n * (t + 1) // n_threads, mu, bu, bi, P, Q, Y, us, its, lr, lrb, reg,
                        regb, regy)
    return out.sum()


def svdpp_epoch(indptr, indices, ratings, user_order, mu, user_bias, item_bias, P, Q, Y,
                user_scale, item_scale, lr, lr_bias, reg, reg_bias, reg_y, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.svdpp.svdpp_epoch`."""
    dt = P.dtype.type
    args = (indptr, indices, ratings, user_order, dt(mu), user_bias, item_bias, P, Q, Y,
            user_scale, item_scale, dt(lr), dt(lr_bias), dt(reg), dt(reg_bias), dt(reg_y))
    n_threads = max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS, len(user_order)))
    if n_threads == 1:
        return float(_chunk(*args[:4], 0, len(user_order), *args[4:]))
    old = nb.get_num_threads()
    nb.set_num_threads(n_threads)
    try:
        return float(_hogwild(*args, n_threads))
    finally:
        nb.set_num_threads(old)
