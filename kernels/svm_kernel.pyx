# cython: language_level=3
"""Cython ``svm_kernel`` kernel: SMO with WSS2, shrinking and an LRU kernel row cache.

Same contract as ``maaskit._kernels.reference.svm_kernel``; a line-by-line twin of the
Numba version (libsvm's ``Solver``). One-vs-rest problems are split over OpenMP threads;
each thread keeps its own row cache across the problems it solves.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, exp, pow, tanh
from libc.stdlib cimport free, malloc

cdef double TAU = 1e-12


cdef struct Cache:
    float* rows          # (n_slots, n) kernel rows, or the full matrix when full != 0
    long long* slot_row  # row held by each slot, -1 when empty
    long long* row_slot  # slot holding each row, -1 when not cached
    long long* stamp     # last use of each slot
    long long clock
    Py_ssize_t n_slots
    Py_ssize_t n
    bint full


cdef inline double _apply(double dot, double sqi, double sqj, int kernel, double gamma,
                          double coef0, double degree) noexcept nogil:
    cdef double r
    if kernel == 0:
        return dot
    if kernel == 1:
        return pow(gamma * dot + coef0, degree)
    if kernel == 2:
        r = sqi + sqj - 2.0 * dot
        if r < 0.0:
            r = 0.0
        return exp(-gamma * r)
    return tanh(gamma * dot + coef0)


cdef const float* _get_row(Cache* cache, Py_ssize_t i, const floating* X, Py_ssize_t d,
                           const double* sqnorm, int kernel, double gamma, double coef0,
                           double degree) noexcept nogil:
    cdef Py_ssize_t s, t, best, j, f
    cdef long long old
    cdef float* out
    cdef const floating* xi
    cdef const floating* xj
    cdef double acc
    if cache.full:
        return cache.rows + i * cache.n
    cache.clock += 1
    s = cache.row_slot[i]
    if s >= 0:
        cache.stamp[s] = cache.clock
        return cache.rows + s * cache.n
    # Evict the least recently used slot (a linear scan: rows cost O(n d) to compute).
    best = 0
    for t in range(1, cache.n_slots):
        if cache.stamp[t] < cache.stamp[best]:
            best = t
    old = cache.slot_row[best]
    if old >= 0:
        cache.row_slot[old] = -1
    cache.slot_row[best] = i
    cache.row_slot[i] = best
    cache.stamp[best] = cache.clock
    out = cache.rows + best * cache.n
    xi = X + i * d
    for j in range(cache.n):
        xj = X + j * d
        acc = 0.0
        for f in range(d):
            acc += xi[f] * xj[f]
        out[j] = <float> _apply(acc, sqnorm[i], sqnorm[j], kernel, gamma, coef0, degree)
    return out


cdef inline bint _is_upper(double a, double c) noexcept nogil:
    return a >= c


cdef inline bint _is_lower(double a) noexcept nogil:
    return a <= 0.0


cdef void _reconstruct(Py_ssize_t n, Py_ssize_t* active, Py_ssize_t active_size,
                       const double* y, const double* C, const double* alpha, double* G,
                       const double* G_bar, Cache* cache, const floating* X, Py_ssize_t d,
                       const double* sqnorm, int kernel, double gamma, double coef0,
                       double degree) noexcept nogil:
    cdef Py_ssize_t s, t, i, j
    cdef const float* Kj
    cdef double aj
    if active_size == n:
        return
    for s in range(active_size, n):
        j = active[s]
        G[j] = G_bar[j] - 1.0
    for s in range(active_size):
        j = active[s]
        if alpha[j] > 0.0 and alpha[j] < C[j]:
            Kj = _get_row(cache, j, X, d, sqnorm, kernel, gamma, coef0, degree)
            aj = alpha[j] * y[j]
            for t in range(active_size, n):
                i = active[t]
                G[i] += aj * y[i] * Kj[i]


cdef long long _smo_one(Cache* cache, const floating* X, Py_ssize_t d, const double* sqnorm,
                        const double* y, const double* C, double* alpha, int kernel,
                        double gamma, double coef0, double degree, double tol,
                        long long max_iter, bint shrinking, double* result) noexcept nogil:
    cdef Py_ssize_t n = cache.n
    cdef double* QD = <double*> malloc(n * sizeof(double))
    cdef double* G = <double*> malloc(n * sizeof(double))
    cdef double* G_bar = <double*> malloc(n * sizeof(double))
    cdef Py_ssize_t* active = <Py_ssize_t*> malloc(n * sizeof(Py_ssize_t))
    cdef Py_ssize_t active_size = n, s, t, i = -1, j = -1, k, nfree
    cdef bint unshrink = False, found, shrink, ui, uj
    cdef long long counter = min(n, 1000) + 1, it = 0
    cdef int attempt
    cdef const float* Ki
    cdef const float* Kj
    cdef double ai, ci, gmax, gmax1, gmax2, obj_min, gd, qc, od, Ci, Cj, old_ai, old_aj
    cdef double delta, diff, sm, dai, daj, c, ub, lb, sfree, obj, yg
    for k in range(n):
        QD[k] = _apply(sqnorm[k], sqnorm[k], sqnorm[k], kernel, gamma, coef0, degree)
        G[k] = -1.0
        G_bar[k] = 0.0
        active[k] = k
    for s in range(n):
        if alpha[s] > 0.0:
            Ki = _get_row(cache, s, X, d, sqnorm, kernel, gamma, coef0, degree)
            ai = alpha[s] * y[s]
            for k in range(n):
                G[k] += ai * y[k] * Ki[k]
            if _is_upper(alpha[s], C[s]):
                ci = C[s] * y[s]
                for k in range(n):
                    G_bar[k] += ci * y[k] * Ki[k]
    while it < max_iter:
        counter -= 1
        if counter == 0:
            counter = min(n, 1000)
            if shrinking:
                gmax1 = -INFINITY
                gmax2 = -INFINITY
                for s in range(active_size):
                    t = active[s]
                    if y[t] > 0:
                        if not _is_upper(alpha[t], C[t]) and -G[t] > gmax1:
                            gmax1 = -G[t]
                        if not _is_lower(alpha[t]) and G[t] > gmax2:
                            gmax2 = G[t]
                    else:
                        if not _is_upper(alpha[t], C[t]) and -G[t] > gmax2:
                            gmax2 = -G[t]
                        if not _is_lower(alpha[t]) and G[t] > gmax1:
                            gmax1 = G[t]
                if not unshrink and gmax1 + gmax2 <= tol * 10.0:
                    unshrink = True
                    _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, cache, X, d,
                                 sqnorm, kernel, gamma, coef0, degree)
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
        found = False
        for attempt in range(2):
            gmax = -INFINITY
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
            gmax2 = -INFINITY
            if i >= 0:
                Ki = _get_row(cache, i, X, d, sqnorm, kernel, gamma, coef0, degree)
                obj_min = INFINITY
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
                _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, cache, X, d,
                             sqnorm, kernel, gamma, coef0, degree)
                if active_size == n:
                    break
                active_size = n
                counter = 1
        if not found:
            break
        it += 1
        Ki = _get_row(cache, i, X, d, sqnorm, kernel, gamma, coef0, degree)
        Kj = _get_row(cache, j, X, d, sqnorm, kernel, gamma, coef0, degree)
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
        _reconstruct(n, active, active_size, y, C, alpha, G, G_bar, cache, X, d, sqnorm,
                     kernel, gamma, coef0, degree)
    ub = INFINITY
    lb = -INFINITY
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
    free(QD)
    free(G)
    free(G_bar)
    free(active)
    return it


cdef void _chunk(int t, int nt, const floating* X, Py_ssize_t d, const double* sqnorm,
                 float* K, bint use_full, const double[:, ::1] Y, const double[:, ::1] C,
                 double[:, ::1] alpha, int kernel, double gamma, double coef0, double degree,
                 double tol, long long max_iter, bint shrinking, Py_ssize_t cache_rows,
                 double[::1] rho, double[::1] obj, long long[::1] n_iter) noexcept nogil:
    cdef Cache cache
    cdef Py_ssize_t c, s, n = Y.shape[1]
    cdef double result[2]
    cache.n = n
    cache.clock = 0
    cache.full = use_full
    cache.n_slots = 1 if use_full else cache_rows
    cache.slot_row = <long long*> malloc(cache.n_slots * sizeof(long long))
    cache.stamp = <long long*> malloc(cache.n_slots * sizeof(long long))
    cache.row_slot = <long long*> malloc(n * sizeof(long long))
    cache.rows = K if use_full else <float*> malloc(cache.n_slots * n * sizeof(float))
    for s in range(cache.n_slots):
        cache.slot_row[s] = -1
        cache.stamp[s] = 0
    for s in range(n):
        cache.row_slot[s] = -1
    c = t
    while c < Y.shape[0]:
        n_iter[c] = _smo_one(&cache, X, d, sqnorm, &Y[c, 0], &C[c, 0], &alpha[c, 0], kernel,
                             gamma, coef0, degree, tol, max_iter, shrinking, result)
        rho[c] = result[0]
        obj[c] = result[1]
        c += nt
    if not use_full:
        free(cache.rows)
    free(cache.slot_row)
    free(cache.stamp)
    free(cache.row_slot)


def smo(const floating[:, ::1] X, const double[::1] sqnorm, float[:, ::1] K, bint use_full,
        const double[:, ::1] Y, const double[:, ::1] upper, double[:, ::1] alpha,
        double[::1] rho, double[::1] obj, int kernel, double gamma, double coef0, double degree,
        double tol, long long max_iter, Py_ssize_t cache_rows, bint shrinking=True,
        int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.svm_kernel.smo``."""
    cdef Py_ssize_t k = Y.shape[0]
    cdef int t, nt = max(1, min(n_threads, <int> k))
    n_iter = np.zeros(k, dtype=np.int64)
    cdef long long[::1] it = n_iter
    if Y.shape[1] == 0:
        return n_iter
    cdef Py_ssize_t rows = max(2, cache_rows // nt)
    with nogil:
        if nt == 1:
            _chunk(0, 1, &X[0, 0], X.shape[1], &sqnorm[0], &K[0, 0], use_full, Y, upper, alpha,
                   kernel, gamma, coef0, degree, tol, max_iter, shrinking, rows, rho, obj, it)
        else:
            for t in prange(nt, num_threads=nt, schedule="static", chunksize=1):
                _chunk(t, nt, &X[0, 0], X.shape[1], &sqnorm[0], &K[0, 0], use_full, Y, upper,
                       alpha, kernel, gamma, coef0, degree, tol, max_iter, shrinking, rows,
                       rho, obj, it)
    return n_iter
