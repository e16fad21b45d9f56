"""NumPy reference of the ``svdpp`` kernel: one SGD epoch of SVD++ (Koren 2008), user by user.

The model is ``r_hat(u, i) = mu + b_u + b_i + q_i . (p_u + z_u)`` with the implicit term
``z_u = |N(u)|^-1/2 * sum_{j in N(u)} y_j`` over the items ``N(u)`` the user rated. The
efficient update visits users in the given order; per user it computes ``z_u`` once, runs
SGD over the user's ratings (in CSR order) for ``b_u, b_i, p_u, q_i`` while accumulating
``g = sum_i e_ui q_i``, and then applies the ``y`` step once::

    y_j += lr * s_j * (|N(u)|^-1/2 * g - reg_y * y_j)     for j in N(u)

so an epoch costs O(nnz * k) instead of O(nnz * |N(u)| * k). ``user_scale``/``item_scale``
(1 = learn, 0 = frozen) let ``partial_fit`` freeze old items (``q`` and ``y``). With
``n_threads > 1`` the compiled twins split ``user_order`` into contiguous chunks processed
concurrently without locks (Hogwild); with one thread all backends agree.

Index safety: User/item indices and the implicit-feedback CSR come from data and are not
checked here. They are reachable only through validated state: ids go through the id index, and
a loaded seen-items CSR is checked (``maaskit._schema.CSR``) with ``implicit_factors_`` having
``n_items`` rows.
"""

from __future__ import annotations

import numpy as np


def svdpp_epoch(indptr, indices, ratings, user_order, mu, user_bias, item_bias, P, Q, Y,
                user_scale, item_scale, lr, lr_bias, reg, reg_bias, reg_y, n_threads=1):
    """Run one SVD++ epoch in place and return the sum of squared training errors.

    Parameters
    ----------
    indptr : ndarray of shape (n_users + 1,), int64
        CSR row pointers of the ratings (rows are users).
    indices : ndarray of shape (nnz,), int32
        Item of each rating.
    ratings : ndarray of shape (nnz,), float32 or float64
    user_order : ndarray of shape (n_visit,), int32
        Users to visit, in order (users with no rating are skipped).
    mu : float
        Global mean.
    user_bias, item_bias : ndarray of shape (n_users,) / (n_items,)
    P, Q, Y : ndarray of shape (n_users, k) / (n_items, k) / (n_items, k)
        Updated in place.
    user_scale, item_scale : ndarray of shape (n_users,) / (n_items,)
        Per-row learning-rate multipliers (0 freezes a row).
    lr, lr_bias, reg, reg_bias, reg_y : float
        Step sizes and L2 strengths.
    n_threads : int, default=1
        Ignored here.

    Returns
    -------
    sse : float
    """
    dt = P.dtype.type
    lr, lr_bias, reg, reg_bias, reg_y, mu = (dt(x) for x in (lr, lr_bias, reg, reg_bias, reg_y, mu))
    sse = 0.0
    for u in user_order:
        lo, hi = indptr[u], indptr[u + 1]
        if hi == lo:
            continue
        N = indices[lo:hi]
        norm = dt(1.0 / np.sqrt(hi - lo))
        z = norm * Y[N].sum(axis=0, dtype=dt)
        g = np.zeros(P.shape[1], dtype=dt)
        su = user_scale[u]
        for p in range(lo, hi):
            i = indices[p]
            pu, qi = P[u].copy(), Q[i].copy()
            e = ratings[p] - (mu + user_bias[u] + item_bias[i] + qi @ (pu + z))
            sse += float(e) * float(e)
            si = item_scale[i]
            user_bias[u] += lr_bias * su * (e - reg_bias * user_bias[u])
            item_bias[i] += lr_bias * si * (e - reg_bias * item_bias[i])
            P[u] = pu + (lr * su) * (e * qi - reg * pu)
            Q[i] = qi + (lr * si) * (e * (pu + z) - reg * qi)
            g += e * qi
        Y[N] += (lr * item_scale[N])[:, None] * (norm * g[None, :] - reg_y * Y[N])
    return sse
