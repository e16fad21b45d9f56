"""NumPy reference of the ``sgd`` kernel: one epoch of biased matrix factorisation by SGD.

The model is ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i`` (Funk / Surprise SVD). For every
rating, in the order given, with ``e = r - r_hat``::

    b_u += lr_bias * su * (e - reg_bias * b_u)
    b_i += lr_bias * si * (e - reg_bias * b_i)
    p_u += lr * su * (e * q_i - reg * p_u)        (with the old q_i)
    q_i += lr * si * (e * p_u - reg * q_i)        (with the old p_u)

``su = user_scale[u]`` and ``si = item_scale[i]`` (1 = learn, 0 = frozen) let ``partial_fit``
freeze old items. With ``n_threads > 1`` the compiled twins split the ratings into
``n_threads`` contiguous chunks processed concurrently without locks (Hogwild); with one
thread all three backends do the same arithmetic in the same order.

Index safety: User/item index arrays come from data and are not checked here. They are
reachable only through validated state: the estimator maps ids through its id index (unknown
ids never reach the kernel), and loaded factor and bias arrays are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from __future__ import annotations


def sgd_epoch(users, items, ratings, mu, user_bias, item_bias, P, Q, user_scale, item_scale,
              lr, lr_bias, reg, reg_bias, n_threads=1):
    """Run one SGD epoch in place and return the sum of squared training errors.

    Parameters
    ----------
    users, items : ndarray of shape (nnz,), int32
        Rating coordinates, in the order to visit them (shuffled by the caller).
    ratings : ndarray of shape (nnz,), float32 or float64
    mu : float
        Global mean.
    user_bias, item_bias : ndarray of shape (n_users,) / (n_items,)
        Updated in place.
    P, Q : ndarray of shape (n_users, k) / (n_items, k), C-contiguous
        Updated in place.
    user_scale, item_scale : ndarray of shape (n_users,) / (n_items,)
        Per-row learning-rate multipliers (0 freezes a row).
    lr, lr_bias, reg, reg_bias : float
        Step sizes and L2 strengths for factors and biases.
    n_threads : int, default=1
        Ignored here (the reference is sequential).

    Returns
    -------
    sse : float
        Sum of squared errors seen during the epoch (before each update).
    """
    dt = P.dtype.type
    lr, lr_bias, reg, reg_bias, mu = dt(lr), dt(lr_bias), dt(reg), dt(reg_bias), dt(mu)
    sse = 0.0
    for j in range(len(ratings)):
        u, i = users[j], items[j]
        pu, qi = P[u].copy(), Q[i].copy()
        e = ratings[j] - (mu + user_bias[u] + item_bias[i] + pu @ qi)
        sse += float(e) * float(e)
        su, si = user_scale[u], item_scale[i]
        user_bias[u] += lr_bias * su * (e - reg_bias * user_bias[u])
        item_bias[i] += lr_bias * si * (e - reg_bias * item_bias[i])
        P[u] = pu + (lr * su) * (e * qi - reg * pu)
        Q[i] = qi + (lr * si) * (e * pu - reg * qi)
    return sse
