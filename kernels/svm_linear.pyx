# cython: language_level=3
"""Cython ``svm_linear`` kernel: dual coordinate descent for linear SVMs with shrinking.

Same contract as ``maaskit._kernels.reference.svm_linear``; one-vs-rest problems run in
parallel (OpenMP) over classes. Dense and CSR inputs share one solver body.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, fabs
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc


cdef inline uint64_t _xorshift(uint64_t* state) noexcept nogil:
    # xorshift64*: the same stream as the Numba twin, so permutations agree.
    cdef uint64_t x = state[0]
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    state[0] = x
    return x * <uint64_t> 2685821657736338717ULL


cdef inline double _row_dot(const floating* X, const floating* data, const int* indices,
                            const long long* indptr, bint sparse, Py_ssize_t d, Py_ssize_t i,
                            const double* w) noexcept nogil:
    cdef double s = 0.0
    cdef long long p
    cdef Py_ssize_t f
    cdef const floating* x
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * w[indices[p]]
    else:
        x = X + i * d
        for f in range(d):
            s += x[f] * w[f]
    return s


cdef inline void _row_axpy(const floating* X, const floating* data, const int* indices,
                           const long long* indptr, bint sparse, Py_ssize_t d, Py_ssize_t i,
                           double a, double* w) noexcept nogil:
    cdef long long p
    cdef Py_ssize_t f
    cdef const floating* x
    if sparse:
        for p in range(indptr[i], indptr[i + 1]):
            w[indices[p]] += a * data[p]
    else:
        x = X + i * d
        for f in range(d):
            w[f] += a * x[f]


cdef long long _solve_one(const floating* X, const floating* data, const int* indices,
                          const long long* indptr, bint sparse, Py_ssize_t n, Py_ssize_t d,
                          const double* y, const double* upper, double* alpha, double* w,
                          bint l2_loss, double bias, double tol, long long max_iter,
                          long long seed, bint shrinking) noexcept nogil:
    cdef double* diag = <double*> malloc(n * sizeof(double))
    cdef double* qd = <double*> malloc(n * sizeof(double))
    cdef double* ub = <double*> malloc(n * sizeof(double))
    cdef Py_ssize_t* index = <Py_ssize_t*> malloc(n * sizeof(Py_ssize_t))
    cdef Py_ssize_t i, j, k, t, s, active, f
    cdef long long p, it = 0
    cdef double sq, g, pg, a, na, delta, yi
    cdef double pgmax_old = INFINITY, pgmin_old = -INFINITY, pgmax_new, pgmin_new
    cdef uint64_t state = (<uint64_t> seed) * <uint64_t> 2654435761ULL + <uint64_t> 88172645463325252ULL
    for i in range(n):
        if l2_loss:
            diag[i] = 0.5 / upper[i]
            ub[i] = INFINITY
        else:
            diag[i] = 0.0
            ub[i] = upper[i]
        sq = 0.0
        if sparse:
            for p in range(indptr[i], indptr[i + 1]):
                sq += data[p] * data[p]
        else:
            for f in range(d):
                sq += X[i * d + f] * X[i * d + f]
        qd[i] = diag[i] + sq + bias * bias
        index[i] = i
    # w is rebuilt from alpha so that a warm start is consistent.
    for f in range(d + 1):
        w[f] = 0.0
    for i in range(n):
        if alpha[i] != 0.0:
            _row_axpy(X, data, indices, indptr, sparse, d, i, alpha[i] * y[i], w)
            w[d] += alpha[i] * y[i] * bias
    active = n
    while it < max_iter:
        pgmax_new = -INFINITY
        pgmin_new = INFINITY
        for j in range(active):
            k = j + <Py_ssize_t> (_xorshift(&state) % <uint64_t> (active - j))
            t = index[j]
            index[j] = index[k]
            index[k] = t
        s = 0
        while s < active:
            i = index[s]
            yi = y[i]
            g = yi * (_row_dot(X, data, indices, indptr, sparse, d, i, w) + bias * w[d]) - 1.0 \
                + diag[i] * alpha[i]
            pg = 0.0
            a = alpha[i]
            if a == 0.0:
                if shrinking and g > pgmax_old:
                    active -= 1
                    index[s] = index[active]
                    index[active] = i
                    continue
                elif g < 0.0:
                    pg = g
            elif a == ub[i]:
                if shrinking and g < pgmin_old:
                    active -= 1
                    index[s] = index[active]
                    index[active] = i
                    continue
                elif g > 0.0:
                    pg = g
            else:
                pg = g
            if pg > pgmax_new:
                pgmax_new = pg
            if pg < pgmin_new:
                pgmin_new = pg
            if fabs(pg) > 1e-12:
                na = a - g / qd[i]
                if na < 0.0:
                    na = 0.0
                if na > ub[i]:
                    na = ub[i]
                alpha[i] = na
                delta = (na - a) * yi
                _row_axpy(X, data, indices, indptr, sparse, d, i, delta, w)
                w[d] += delta * bias
            s += 1
        it += 1
        if pgmax_new - pgmin_new <= tol:
            if active == n:
                break
            active = n
            pgmax_old = INFINITY
            pgmin_old = -INFINITY
            continue
        pgmax_old = pgmax_new if pgmax_new > 0.0 else INFINITY
        pgmin_old = pgmin_new if pgmin_new < 0.0 else -INFINITY
    free(diag)
    free(qd)
    free(ub)
    free(index)
    return it


cdef void _run(const floating* X, const floating* data, const int* indices,
               const long long* indptr, bint sparse, Py_ssize_t n, Py_ssize_t d,
               const double[:, ::1] Y, const double[:, ::1] upper, double[:, ::1] alpha,
               double[:, ::1] W, bint l2_loss, double bias, double tol, long long max_iter,
               long long seed, bint shrinking, long long[::1] n_iter, int n_threads) noexcept:
    cdef Py_ssize_t c, k = Y.shape[0]
    cdef int nt = max(1, min(n_threads, <int> k))
    with nogil:
        if nt == 1:
            for c in range(k):
                n_iter[c] = _solve_one(X, data, indices, indptr, sparse, n, d, &Y[c, 0],
                                       &upper[c, 0], &alpha[c, 0], &W[c, 0], l2_loss, bias,
                                       tol, max_iter, seed + c, shrinking)
        else:
            for c in prange(k, num_threads=nt, schedule="dynamic"):
                n_iter[c] = _solve_one(X, data, indices, indptr, sparse, n, d, &Y[c, 0],
                                       &upper[c, 0], &alpha[c, 0], &W[c, 0], l2_loss, bias,
                                       tol, max_iter, seed + c, shrinking)


def dual_cd(const floating[:, ::1] X, const double[:, ::1] Y, const double[:, ::1] upper,
            double[:, ::1] alpha, double[:, ::1] W, bint l2_loss, double bias, double tol,
            long long max_iter, long long seed, bint shrinking=True, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.svm_linear.dual_cd`` (dense X)."""
    n_iter = np.zeros(Y.shape[0], dtype=np.int64)
    cdef long long[::1] it = n_iter
    cdef floating dummy = 0
    cdef int dummy_i = 0
    cdef long long dummy_p = 0
    if X.shape[0] == 0:
        return n_iter
    _run(&X[0, 0], &dummy, &dummy_i, &dummy_p, False, X.shape[0], X.shape[1], Y, upper, alpha,
         W, l2_loss, bias, tol, max_iter, seed, shrinking, it, n_threads)
    return n_iter


def dual_cd_csr(const floating[::1] data, const int[::1] indices, const long long[::1] indptr,
                Py_ssize_t n_features, const double[:, ::1] Y, const double[:, ::1] upper,
                double[:, ::1] alpha, double[:, ::1] W, bint l2_loss, double bias, double tol,
                long long max_iter, long long seed, bint shrinking=True, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.svm_linear.dual_cd_csr`` (CSR X)."""
    n_iter = np.zeros(Y.shape[0], dtype=np.int64)
    cdef long long[::1] it = n_iter
    cdef floating dummy = 0
    cdef int dummy_i = 0
    cdef const floating* dp = &dummy
    cdef const int* ip = &dummy_i
    if data.shape[0] > 0:
        dp = &data[0]
        ip = &indices[0]
    _run(&dummy, dp, ip, &indptr[0], True, indptr.shape[0] - 1, n_features, Y, upper, alpha,
         W, l2_loss, bias, tol, max_iter, seed, shrinking, it, n_threads)
    return n_iter
