# cython: language_level=3
"""Cython ``layernorm`` kernel: fused layer normalisation forward and backward.

Same contract as ``maaskit._kernels.reference.layernorm``. Rows are independent: large
inputs run them under an OpenMP ``prange`` (GIL released); a Transformer mini-batch
(~1e4 values) stays on one thread, where a parallel region would cost more than the work.
The backward pass reduces the parameter gradients per row chunk into float64 partial sums,
so threads never write the same memory.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport calloc, free

cdef enum:
    PARALLEL_MIN_SIZE = 131072


def layernorm_forward(const floating[:, ::1] x, const floating[::1] gamma,
                      const floating[::1] beta, double eps, floating[:, ::1] out,
                      floating[::1] mean, floating[::1] rstd):
    """Cython twin of ``maaskit._kernels.reference.layernorm.layernorm_forward``."""
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], i, d
    cdef double s, v, mu, r, c
    cdef bint par = N * D >= PARALLEL_MIN_SIZE
    if N == 0 or D == 0:
        return
    for i in prange(N, nogil=True, schedule="static", use_threads_if=par):
        s = 0.0
        for d in range(D):
            s = s + x[i, d]
        mu = s / D
        v = 0.0
        for d in range(D):
            c = x[i, d] - mu
            v = v + c * c
        r = 1.0 / sqrt(v / D + eps)
        mean[i] = <floating>mu
        rstd[i] = <floating>r
        for d in range(D):
            out[i, d] = <floating>((x[i, d] - mu) * r * gamma[d] + beta[d])


def layernorm_backward(const floating[:, ::1] dout, const floating[:, ::1] x,
                       const floating[::1] gamma, const floating[::1] mean,
                       const floating[::1] rstd, floating[:, ::1] dx, floating[::1] dgamma,
                       floating[::1] dbeta):
    """Cython twin of ``maaskit._kernels.reference.layernorm.layernorm_backward``."""
    cdef Py_ssize_t N = x.shape[0], D = x.shape[1], i, d, c, lo, hi
    cdef Py_ssize_t n_chunks = 1
    cdef double mu, r, sg, sgx, xh, g, a, b
    cdef double* part
    if D == 0:
        return
    if N * D >= PARALLEL_MIN_SIZE:
        n_chunks = 8
    part = <double*>calloc(2 * n_chunks * D, sizeof(double))
    try:
        for c in prange(n_chunks, nogil=True, schedule="static", use_threads_if=n_chunks > 1):
            lo = N * c // n_chunks
            hi = N * (c + 1) // n_chunks
            for i in range(lo, hi):
                mu = mean[i]
                r = rstd[i]
                sg = 0.0
                sgx = 0.0
                for d in range(D):
                    xh = (x[i, d] - mu) * r
                    g = dout[i, d] * gamma[d]
                    sg = sg + g
                    sgx = sgx + g * xh
                    part[(2 * c) * D + d] += dout[i, d] * xh
                    part[(2 * c + 1) * D + d] += dout[i, d]
                sg = sg / D
                sgx = sgx / D
                for d in range(D):
                    xh = (x[i, d] - mu) * r
                    dx[i, d] = <floating>(r * (dout[i, d] * gamma[d] - sg - xh * sgx))
        for d in range(D):
            a = 0.0
            b = 0.0
            for c in range(n_chunks):
                a += part[(2 * c) * D + d]
                b += part[(2 * c + 1) * D + d]
            dgamma[d] = <floating>a
            dbeta[d] = <floating>b
    finally:
        free(part)
