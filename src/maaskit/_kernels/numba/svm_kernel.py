"""Numba ``svm_kernel`` kernel: SMO with WSS2, shrinking and a kernel row cache.

Same contract as :mod:`maaskit._kernels.reference.svm_kernel`. This twin follows libsvm's
``Solver`` (Fan, Chen & Lin 2005): second-order working-set selection, shrinking with
gradient reconstruction from ``G_bar``, and an LRU cache of kernel rows that persists
across the one-vs-rest problems a thread solves (rows of ``K`` do not depend on labels).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numba as nb
import numpy as np

TAU = 1e-12


@nb.njit(cache=True, nogil=True, inline="always")
def _apply(dot, sqi, sqj, kernel, gamma, coef0, degree):
    if kernel == 0:
        return dot
    if kernel == 1:
        return (gamma * dot + coef0) ** degree
    if kernel == 2:
        return np.exp(-gamma * max(sqi + sqj - 2.0 * dot, 0.0))
    return np.tanh(gamma * dot + coef0)


@nb.njit(cache=True, nogil=True)
def _compute_row(X, sqnorm, i, kernel, gamma, coef0, degree, out):
    n, d = X.shape
    for j in range(n):
        s = 0.0
        for f in range(d):
            s += X[i, f] * X[j, f]
        out[j] = _apply(s, sqnorm[i], sqnorm[j], kernel, gamma, coef0, degree)


@nb.njit(cache=True, nogil=True)
def _get_row(i, X, sqnorm, K, use_full, cache, slot_row, row_slot, stamp, clock, kernel,
             gamma, coef0, degree):
    if use_full:
        return K[i]
    clock[0] += 1
    s = row_slot[i]
    if s >= 0:
        stamp[s] = clock[0]
        return cache[s]
    # Evict the least recently used slot (a linear scan: rows cost O(n d) to compute).
    best = 0
    for t in range(1, cache.shape[0]):
        if stamp[t] < stamp[best]:
            best = t
    old = slot_row[best]
    if old >= 0:
        row_slot[old] = -1
    slot_row[best] = i
    row_slot[i] = best
    stamp[best] = clock[0]
    _compute_row(X, sqnorm, i, kernel, gamma, coef0, degree, cache[best])
    return cache[best]


@nb.njit(cache=True, nogil=True, inline="always")
def _is_upper(a, c):
    return a >= c


@nb.njit(cache=True, nogil=True, inline="always")
def _is_lower(a):
    return a <= 0.0


@nb.njit(cache=True, nogil=True)
def _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, X, sqnorm, K, use_full,
                 cache, slot_row, row_slot, stamp, clock, kernel, gamma, coef0, degree):
    if active_size == n:
        return
    for s in range(active_size, n):
        j = active[s]
        G[j] = G_bar[j] - 1.0
    for s in range(active_size):
        j = active[s]
        if alpha[j] > 0.0 and alpha[j] < C[j]:
            Kj = _get_row(j, X, sqnorm, K, use_full, cache, slot_row, row_slot, stamp, clock,
                          kernel, gamma, coef0, degree)
            aj = alpha[j] * y[j]
            for t in range(active_size, n):
                i = active[t]
                G[i] += aj * y[i] * Kj[i]


@nb.njit(cache=True, nogil=True)
def _smo_one(X, sqnorm, K, use_full, y, C, alpha, kernel, gamma, coef0, degree, tol,
             max_iter, shrinking, cache, slot_row, row_slot, stamp, clock, result):
    n = y.shape[0]
    QD = np.empty(n)
    for i in range(n):
        QD[i] = _apply(sqnorm[i], sqnorm[i], sqnorm[i], kernel, gamma, coef0, degree)
    G = np.full(n, -1.0)
    G_bar = np.zeros(n)
    for i in range(n):
        if alpha[i] > 0.0:
            Ki = _get_row(i, X, sqnorm, K, use_full, cache, slot_row, row_slot, stamp, clock,
                          kernel, gamma, coef0, degree)
            ai = alpha[i] * y[i]
            for k in range(n):
                G[k] += ai * y[k] * Ki[k]
            if _is_upper(alpha[i], C[i]):
                ci = C[i] * y[i]
                for k in range(n):
                    G_bar[k] += ci * y[k] * Ki[k]
    active = np.arange(n)
    active_size = n
    unshrink = False
    counter = min(n, 1000) + 1
    it = 0
    while it < max_iter:
        counter -= 1
        if counter == 0:
            counter = min(n, 1000)
            if shrinking:
                # libsvm do_shrinking
                gmax1 = -np.inf
                gmax2 = -np.inf
                for s in range(active_size):
                    t = active[s]
                    if y[t] > 0:
                        if not _is_upper(alpha[t], C[t]):
                            gmax1 = max(gmax1, -G[t])
                        if not _is_lower(alpha[t]):
                            gmax2 = max(gmax2, G[t])
                    else:
                        if not _is_upper(alpha[t], C[t]):
                            gmax2 = max(gmax2, -G[t])
                        if not _is_lower(alpha[t]):
                            gmax1 = max(gmax1, G[t])
                if not unshrink and gmax1 + gmax2 <= tol * 10.0:
                    unshrink = True
                    _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, X, sqnorm, K,
                                 use_full, cache, slot_row, row_slot, stamp, clock, kernel,
                                 gamma, coef0, degree)
                    active_size = n
                s = 0
                while s < active_size:
                    t = active[s]
                    shrink = False
                    if _is_upper(alpha[t], C[t]):
                        shrink = (-G[t] > gmax1) if y[t] > 0 else (-G[t] > gmax2)
                    elif _is_lower(alpha[t]):
                        shrink = (G[t] > gmax2) if y[t] > 0 else (G[t] > gmax1)
                    if shrink:
                        active_size -= 1
                        active[s] = active[active_size]
                        active[active_size] = t
                    else:
                        s += 1
        # Working-set selection, twice if the shrunk problem looks optimal.
        found = False
        for attempt in range(2):
            gmax = -np.inf
            i = -1
            for s in range(active_size):
                t = active[s]
                if y[t] > 0:
                    if alpha[t] < C[t] and -G[t] >= gmax:
                        gmax = -G[t]
                        i = t
                else:
                    if alpha[t] > 0.0 and G[t] >= gmax:
                        gmax = G[t]
                        i = t
            j = -1
            gmax2 = -np.inf
            if i >= 0:
                Ki = _get_row(i, X, sqnorm, K, use_full, cache, slot_row, row_slot, stamp,
                              clock, kernel, gamma, coef0, degree)
                obj_min = np.inf
                for s in range(active_size):
                    t = active[s]
                    if y[t] > 0:
                        if alpha[t] > 0.0:
                            if G[t] >= gmax2:
                                gmax2 = G[t]
                            gd = gmax + G[t]
                            if gd > 0.0:
                                qc = QD[i] + QD[t] - 2.0 * Ki[t]
                                od = -(gd * gd) / (qc if qc > 0.0 else TAU)
                                if od <= obj_min:
                                    j = t
                                    obj_min = od
                    else:
                        if alpha[t] < C[t]:
                            if -G[t] >= gmax2:
                                gmax2 = -G[t]
                            gd = gmax - G[t]
                            if gd > 0.0:
                                qc = QD[i] + QD[t] - 2.0 * Ki[t]
                                od = -(gd * gd) / (qc if qc > 0.0 else TAU)
                                if od <= obj_min:
                                    j = t
                                    obj_min = od
            if gmax + gmax2 >= tol and j >= 0:
                found = True
                break
            if attempt == 0:
                _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, X, sqnorm, K,
                             use_full, cache, slot_row, row_slot, stamp, clock, kernel, gamma,
                             coef0, degree)
                if active_size == n:
                    break
                active_size = n
                counter = 1
        if not found:
            break
        it += 1
        Ki = _get_row(i, X, sqnorm, K, use_full, cache, slot_row, row_slot, stamp, clock,
                      kernel, gamma, coef0, degree)
        Kj = _get_row(j, X, sqnorm, K, use_full, cache, slot_row, row_slot, stamp, clock,
                      kernel, gamma, coef0, degree)
        Ci = C[i]
        Cj = C[j]
        old_ai = alpha[i]
        old_aj = alpha[j]
        qc = QD[i] + QD[j] - 2.0 * Ki[j]
        if qc <= 0.0:
            qc = TAU
        if y[i] != y[j]:
            delta = (-G[i] - G[j]) / qc
            diff = alpha[i] - alpha[j]
            alpha[i] += delta
            alpha[j] += delta
            if diff > 0:
                if alpha[j] < 0:
                    alpha[j] = 0.0
                    alpha[i] = diff
            else:
                if alpha[i] < 0:
                    alpha[i] = 0.0
                    alpha[j] = -diff
            if diff > Ci - Cj:
                if alpha[i] > Ci:
                    alpha[i] = Ci
                    alpha[j] = Ci - diff
            else:
                if alpha[j] > Cj:
                    alpha[j] = Cj
                    alpha[i] = Cj + diff
        else:
            delta = (G[i] - G[j]) / qc
            sm = alpha[i] + alpha[j]
            alpha[i] -= delta
            alpha[j] += delta
            if sm > Ci:
                if alpha[i] > Ci:
                    alpha[i] = Ci
                    alpha[j] = sm - Ci
            else:
                if alpha[j] < 0:
                    alpha[j] = 0.0
                    alpha[i] = sm
            if sm > Cj:
                if alpha[j] > Cj:
                    alpha[j] = Cj
                    alpha[i] = sm - Cj
            else:
                if alpha[i] < 0:
                    alpha[i] = 0.0
                    alpha[j] = sm
        dai = (alpha[i] - old_ai) * y[i]
        daj = (alpha[j] - old_aj) * y[j]
        for s in range(active_size):
            t = active[s]
            G[t] += y[t] * (Ki[t] * dai + Kj[t] * daj)
        ui = _is_upper(old_ai, Ci)
        uj = _is_upper(old_aj, Cj)
        if ui != _is_upper(alpha[i], Ci):
            c = Ci * y[i] if not ui else -Ci * y[i]
            for t in range(n):
                G_bar[t] += c * y[t] * Ki[t]
        if uj != _is_upper(alpha[j], Cj):
            c = Cj * y[j] if not uj else -Cj * y[j]
            for t in range(n):
                G_bar[t] += c * y[t] * Kj[t]
    if active_size < n:
        _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, X, sqnorm, K, use_full,
                     cache, slot_row, row_slot, stamp, clock, kernel, gamma, coef0, degree)
    # rho as libsvm's calculate_rho; objective 1/2 a^T Q a - sum a = sum a_i (G_i - 1) / 2.
    ub = np.inf
    lb = -np.inf
    nfree = 0
    sfree = 0.0
    obj = 0.0
    for t in range(n):
        yg = y[t] * G[t]
        obj += alpha[t] * (G[t] - 1.0)
        if _is_upper(alpha[t], C[t]):
            if y[t] < 0:
                ub = min(ub, yg)
            else:
                lb = max(lb, yg)
        elif _is_lower(alpha[t]):
            if y[t] > 0:
                ub = min(ub, yg)
            else:
                lb = max(lb, yg)
        else:
            nfree += 1
            sfree += yg
    result[0] = sfree / nfree if nfree > 0 else 0.5 * (ub + lb)
    result[1] = 0.5 * obj
    return it


@nb.njit(cache=True, nogil=True)
def _chunk(t, nt, X, sqnorm, K, use_full, Y, C, alpha, kernel, gamma, coef0, degree, tol,
           max_iter, shrinking, cache_rows, rho, obj, n_iter):
    n = Y.shape[1]
    rows = 1 if use_full else cache_rows
    cache = np.empty((rows, 1 if use_full else n), dtype=np.float32)
    slot_row = np.full(rows, -1)
    row_slot = np.full(n, -1)
    stamp = np.zeros(rows, dtype=np.int64)
    clock = np.zeros(1, dtype=np.int64)
    result = np.zeros(2)
    for c in range(t, Y.shape[0], nt):
        n_iter[c] = _smo_one(X, sqnorm, K, use_full, Y[c], C[c], alpha[c], kernel, gamma,
                             coef0, degree, tol, max_iter, shrinking, cache, slot_row, row_slot,
                             stamp, clock, result)
        rho[c] = result[0]
        obj[c] = result[1]


@nb.njit(cache=True, nogil=True, parallel=True)
def _parallel(nt, X, sqnorm, K, use_full, Y, C, alpha, kernel, gamma, coef0, degree, tol,
              max_iter, shrinking, cache_rows, rho, obj, n_iter):
    for t in nb.prange(nt):
        _chunk(t, nt, X, sqnorm, K, use_full, Y, C, alpha, kernel, gamma, coef0, degree, tol,
               max_iter, shrinking, cache_rows, rho, obj, n_iter)


def smo(X, sqnorm, K, use_full, Y, upper, alpha, rho, obj, kernel, gamma, coef0, degree, tol,
        max_iter, cache_rows, shrinking=True, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.svm_kernel.smo`."""
    k = Y.shape[0]
    n_iter = np.zeros(k, dtype=np.int64)
    nt = max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS, k))
    args = (X, sqnorm, K, bool(use_full), Y, upper, alpha, int(kernel), float(gamma),
            float(coef0), float(degree), float(tol), int(max_iter), bool(shrinking),
            max(2, int(cache_rows) // nt), rho, obj, n_iter)
    if nt == 1:
        _chunk(0, 1, *args)
        return n_iter
    old = nb.get_num_threads()
    nb.set_num_threads(nt)
    try:
        _parallel(nt, *args)
    finally:
        nb.set_num_threads(old)
    return n_iter
