# cython: language_level=3
"""Cython ``sgd`` kernel: one epoch of biased-MF SGD, Hogwild over rating chunks with OpenMP.

Same contract as ``maaskit._kernels.reference.sgd.sgd_epoch``.

Index safety: User/item index arrays come from data and are not checked here. They are
reachable only through validated state: the estimator maps ids through its id index (unknown
ids never reach the kernel), and loaded factor and bias arrays are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from cython cimport floating
from cython.parallel cimport prange


cdef inline floating _dot(const floating* x, const floating* y, int k) noexcept nogil:
    # Four independent partial sums so the compiler can vectorise without -ffast-math.
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef int f = 0
    while f + 4 <= k:
        s0 = s0 + x[f] * y[f]
        s1 = s1 + x[f + 1] * y[f + 1]
        s2 = s2 + x[f + 2] * y[f + 2]
        s3 = s3 + x[f + 3] * y[f + 3]
        f += 4
    while f < k:
        s0 = s0 + x[f] * y[f]
        f += 1
    return (s0 + s1) + (s2 + s3)


cdef double _chunk(const int* users, const int* items, const floating* ratings,
                   Py_ssize_t lo, Py_ssize_t hi, floating mu, floating* bu, floating* bi,
                   floating* P, floating* Q, const floating* us, const floating* its, int k,
                   floating lr, floating lrb, floating reg, floating regb) noexcept nogil:
    cdef Py_ssize_t j
    cdef int u, i, f
    cdef floating pred, e, su, si, a, b, pf, qf
    cdef floating* pu
    cdef floating* qi
    cdef double sse = 0.0
    for j in range(lo, hi):
        u = users[j]
        i = items[j]
        pu = P + <Py_ssize_t> u * k
        qi = Q + <Py_ssize_t> i * k
        pred = mu + bu[u] + bi[i] + _dot(pu, qi, k)
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


def sgd_epoch(const int[::1] users, const int[::1] items, const floating[::1] ratings, double mu,
              floating[::1] user_bias, floating[::1] item_bias, floating[:, ::1] P,
              floating[:, ::1] Q, const floating[::1] user_scale, const floating[::1] item_scale,
              double lr, double lr_bias, double reg, double reg_bias, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.sgd.sgd_epoch``."""
    cdef Py_ssize_t n = users.shape[0]
    cdef int k = <int> P.shape[1]
    cdef int t, nt = max(1, n_threads)
    cdef double sse = 0.0
    if n == 0:
        return 0.0
    if n < 1000 * nt:
        nt = 1
    with nogil:
        if nt == 1:
            sse = _chunk(&users[0], &items[0], &ratings[0], 0, n, <floating> mu, &user_bias[0],
                         &item_bias[0], &P[0, 0], &Q[0, 0], &user_scale[0], &item_scale[0], k,
                         <floating> lr, <floating> lr_bias, <floating> reg, <floating> reg_bias)
        else:
            for t in prange(nt, num_threads=nt, schedule="static", chunksize=1):
                sse += _chunk(&users[0], &items[0], &ratings[0], n * t // nt, n * (t + 1) // nt,
                              <floating> mu, &user_bias[0], &item_bias[0], &P[0, 0], &Q[0, 0],
                              &user_scale[0], &item_scale[0], k, <floating> lr,
                              <floating> lr_bias, <floating> reg, <floating> reg_bias)
    return sse
