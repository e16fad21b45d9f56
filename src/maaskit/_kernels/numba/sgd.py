"""Numba ``sgd`` kernel: one epoch of biased-MF SGD, Hogwild over rating chunks (see the reference).

Index safety: User/item index arrays come from data and are not checked here. They are
reachable only through validated state: the estimator maps ids through its id index (unknown
ids never reach the kernel), and loaded factor and bias arrays are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, fastmath=True)
def _chunk(users, items, ratings, lo, hi, mu, bu, bi, P, Q, us, its, lr, lrb, reg, regb):
    k = P.shape[1]
    sse = 0.0
    for j in range(lo, hi):
        u = users[j]
        i = items[j]
        pu = P[u]
        qi = Q[i]
        pred = mu + bu[u] + bi[i]
        for f in range(k):
            pred += pu[f] * qi[f]
        e = ratings[j] - pred
        sse += e * e
        su = us[u]
        si = its[i]
        bu[u] += lrb * su * (e - regb * bu[u])
        bi[i] += lrb * si * (e - regb * bi[i])
        a = lr * su
        b = lr * si
        for f in range(k):
            pf = pu[f]
            qf = qi[f]
            pu[f] = pf + a * (e * qf - reg * pf)
            qi[f] = qf + b * (e * pf - reg * qf)
    return sse


@nb.njit(cache=True, nogil=True, parallel=True)
def _hogwild(users, items, ratings, mu, bu, bi, P, Q, us, its, lr, lrb, reg, regb, n_threads):
    n = users.shape[0]
    out = np.zeros(n_threads)
    for t in nb.prange(n_threads):
        out[t] = _chunk(users, items, ratings, n * t // n_threads, n * (t + 1) // n_threads,
                        mu, bu, bi, P, Q, us, its, lr, lrb, reg, regb)
    return out.sum()


def sgd_epoch(users, items, ratings, mu, user_bias, item_bias, P, Q, user_scale, item_scale,
              lr, lr_bias, reg, reg_bias, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.sgd.sgd_epoch`."""
    dt = P.dtype.type
    args = (users, items, ratings, dt(mu), user_bias, item_bias, P, Q, user_scale, item_scale,
            dt(lr), dt(lr_bias), dt(reg), dt(reg_bias))
    n_threads = max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS, len(users) // 1000 or 1))
    if n_threads == 1:
        return float(_chunk(users, items, ratings, 0, len(users), *args[3:]))
    old = nb.get_num_threads()
    nb.set_num_threads(n_threads)
    try:
        return float(_hogwild(*args, n_threads))
    finally:
        nb.set_num_threads(old)
