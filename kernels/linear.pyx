# cython: language_level=3
"""Cython ``linear`` kernel: per-sample loss and its derivative with respect to raw scores.

Same contract and loss codes as ``maaskit._kernels.reference.linear.loss_grad``; the GIL is
released for the loop. Arithmetic is in double, results are stored in the arrays' dtype.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from cython cimport floating
from libc.math cimport exp, log, log1p, fabs


cdef inline double _elem(int loss, double z, double y, double eps, double* d) noexcept nogil:
    cdef double r, m, e, h
    if loss == 0:
        r = z - y
        d[0] = r
        return 0.5 * r * r
    if loss == 1:
        r = z - y
        if fabs(r) <= eps:
            d[0] = r
            return 0.5 * r * r
        d[0] = eps if r > 0 else -eps
        return eps * fabs(r) - 0.5 * eps * eps
    if loss == 2:
        r = z - y
        if fabs(r) > eps:
            d[0] = 1.0 if r > 0 else -1.0
            return fabs(r) - eps
        d[0] = 0.0
        return 0.0
    m = y * z
    if loss == 3:
        if m > 0:
            e = exp(-m)
            d[0] = -y * e / (1.0 + e)
            return log1p(e)
        e = exp(m)
        d[0] = -y / (1.0 + e)
        return -m + log1p(e)
    if loss == 4:
        if m < 1.0:
            d[0] = -y
            return 1.0 - m
        d[0] = 0.0
        return 0.0
    h = 1.0 - m if m < 1.0 else 0.0
    if loss == 5 or m >= -1.0:
        d[0] = -2.0 * y * h
        return h * h
    d[0] = -4.0 * y
    return -4.0 * m


def loss_grad(int loss, const floating[:, ::1] Z, const floating[:, ::1] Y,
              const floating[::1] sample_weight, floating[:, ::1] dZ, double epsilon):
    """Cython twin of ``maaskit._kernels.reference.linear.loss_grad``."""
    cdef Py_ssize_t n = Z.shape[0], k = Z.shape[1], i, j
    cdef double total = 0.0, w, zmax, s, yz, e, l, d
    with nogil:
        for i in range(n):
            w = sample_weight[i]
            if loss == 7:
                zmax = Z[i, 0]
                for j in range(1, k):
                    if Z[i, j] > zmax:
                        zmax = Z[i, j]
                s = 0.0
                yz = 0.0
                for j in range(k):
                    e = exp(Z[i, j] - zmax)
                    s += e
                    yz += Y[i, j] * Z[i, j]
                for j in range(k):
                    dZ[i, j] = <floating> (w * (exp(Z[i, j] - zmax) / s - Y[i, j]))
                total += w * (zmax + log(s) - yz)
            else:
                for j in range(k):
                    l = _elem(loss, Z[i, j], Y[i, j], epsilon, &d)
                    dZ[i, j] = <floating> (w * d)
                    total += w * l
    return total
