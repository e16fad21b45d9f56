# cython: language_level=3
"""Cython ``svdpp`` kernel: one SVD++ epoch user by user, Hogwild over user chunks with OpenMP.

Same contract as ``maaskit._kernels.reference.svdpp.svdpp_epoch``.

Index safety: User/item indices and the implicit-feedback CSR come from data and are not
checked here. They are reachable only through validated state: ids go through the id index, and
a loaded seen-items CSR is checked (``maaskit._schema.CSR``) with ``implicit_factors_`` having
``n_items`` rows.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport malloc, free


cdef double _chunk(const long long* indptr, const int* indices, const floating* ratings,
                   const int* user_order, Py_ssize_t lo_u, Py_ssize_t hi_u, floating mu,
                   floating* bu, floating* bi, floating* P, floating* Q, floating* Y,
                   const floating* us, const floating* its, int k, floating lr, floating lrb,
                   floating reg, floating regb, floating regy) noexcept nogil:
    cdef floating* z = <floating*> malloc(2 * k * sizeof(floating))
    cdef floating* g = z + k
    cdef Py_ssize_t t
    cdef long long p, lo, hi
    cdef int u, i, j, f
    cdef floating norm, su, si, a, b, c, pred, e, pf, qf, s0, s1
    cdef floating* pu
    cdef floating* qi
    cdef floating* yj
    cdef double sse = 0.0
    for t in range(lo_u, hi_u):
        u = user_order[t]
        lo = indptr[u]
        hi = indptr[u + 1]
        if hi == lo:
            continue
        norm = <floating> (1.0 / sqrt(<double> (hi - lo)))
        for f in range(k):
            z[f] = 0
            g[f] = 0
        for p in range(lo, hi):
            yj = Y + <Py_ssize_t> indices[p] * k
            for f in range(k):
                z[f] += yj[f]
        for f in range(k):
            z[f] *= norm
        su = us[u]
        a = lr * su
        pu = P + <Py_ssize_t> u * k
        for p in range(lo, hi):
            i = indices[p]
            qi = Q + <Py_ssize_t> i * k
            s0 = 0
            s1 = 0
            f = 0
            while f + 2 <= k:
                s0 = s0 + qi[f] * (pu[f] + z[f])
                s1 = s1 + qi[f + 1] * (pu[f + 1] + z[f + 1])
                f += 2
            if f < k:
                s0 = s0 + qi[f] * (pu[f] + z[f])
            pred = mu + bu[u] + bi[i] + (s0 + s1)
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
            yj = Y + <Py_ssize_t> j * k
            for f in range(k):
                yj[f] += c * (g[f] - regy * yj[f])
    free(z)
    return sse


def svdpp_epoch(const long long[::1] indptr, const int[::1] indices, const floating[::1] ratings,
                const int[::1] user_order, double mu, floating[::1] user_bias,
                floating[::1] item_bias, floating[:, ::1] P, floating[:, ::1] Q,
                floating[:, ::1] Y, const floating[::1] user_scale,
                const floating[::1] item_scale, double lr, double lr_bias, double reg,
                double reg_bias, double reg_y, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.svdpp.svdpp_epoch``."""
    cdef Py_ssize_t n = user_order.shape[0]
    cdef int k = <int> P.shape[1]
    cdef int t, nt = max(1, min(n_threads, <int> n))
    cdef double sse = 0.0
    if n == 0 or indices.shape[0] == 0:
        return 0.0
    with nogil:
        if nt == 1:
            sse = _chunk(&indptr[0], &indices[0], &ratings[0], &user_order[0], 0, n,
                         <floating> mu, &user_bias[0], &item_bias[0], &P[0, 0], &Q[0, 0],
                         &Y[0, 0], &user_scale[0], &item_scale[0], k, <floating> lr,
                         <floating> lr_bias, <floating> reg, <floating> reg_bias, <floating> reg_y)
        else:
            for t in prange(nt, num_threads=nt, schedule="static", chunksize=1):
                sse += _chunk(&indptr[0], &indices[0], &ratings[0], &user_order[0],
                              n * t // nt, n * (t + 1) // nt, <floating> mu, &user_bias[0],
                              &item_bias[0], &P[0, 0], &Q[0, 0], &Y[0, 0], &user_scale[0],
                              &item_scale[0], k, <floating> lr, <floating> lr_bias,
                              <floating> reg, <floating> reg_bias, <floating> reg_y)
    return sse
