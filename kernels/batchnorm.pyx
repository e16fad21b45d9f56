# cython: language_level=3
"""Cython ``batchnorm`` kernel: batch normalisation per channel, forward and backward.

Same contract as ``maaskit._kernels.reference.batchnorm``. Channels are independent: large
inputs run them under an OpenMP ``prange`` (GIL released), each thread writing only its own
channels; small inputs stay on one thread. Sums are accumulated in float64.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

cdef enum:
    PARALLEL_MIN_SIZE = 131072


def batchnorm_forward(const floating[:, :, ::1] x, const floating[::1] gamma,
                      const floating[::1] beta, double eps, double momentum,
                      floating[:, :, ::1] out, floating[::1] mean, floating[::1] rstd,
                      floating[::1] running_mean, floating[::1] running_var):
    """Cython twin of ``maaskit._kernels.reference.batchnorm.batchnorm_forward``."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], n, c, j
    cdef Py_ssize_t M = N * S
    cdef double s, v, mu, r, d, a, b, unbiased
    cdef bint par = N * C * S >= PARALLEL_MIN_SIZE and C > 1
    if M == 0:
        return
    for c in prange(C, nogil=True, schedule="static", use_threads_if=par):
        s = 0.0
        for n in range(N):
            for j in range(S):
                s = s + x[n, c, j]
        mu = s / M
        v = 0.0
        for n in range(N):
            for j in range(S):
                d = x[n, c, j] - mu
                v = v + d * d
        v = v / M
        r = 1.0 / sqrt(v + eps)
        mean[c] = <floating>mu
        rstd[c] = <floating>r
        a = gamma[c] * r
        b = beta[c]
        for n in range(N):
            for j in range(S):
                out[n, c, j] = <floating>((x[n, c, j] - mu) * a + b)
        if M > 1:
            unbiased = v * M / (M - 1)
        else:
            unbiased = v
        running_mean[c] = <floating>((1.0 - momentum) * running_mean[c] + momentum * mu)
        running_var[c] = <floating>((1.0 - momentum) * running_var[c] + momentum * unbiased)


def batchnorm_inference(const floating[:, :, ::1] x, const floating[::1] gamma,
                        const floating[::1] beta, const floating[::1] running_mean,
                        const floating[::1] running_var, double eps, floating[:, :, ::1] out):
    """Cython twin of ``maaskit._kernels.reference.batchnorm.batchnorm_inference``."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], n, c, j
    cdef double a, mu, b
    with nogil:
        for n in range(N):
            for c in range(C):
                a = gamma[c] / sqrt(running_var[c] + eps)
                mu = running_mean[c]
                b = beta[c]
                for j in range(S):
                    out[n, c, j] = <floating>((x[n, c, j] - mu) * a + b)


def batchnorm_backward(const floating[:, :, ::1] dout, const floating[:, :, ::1] x,
                       const floating[::1] gamma, const floating[::1] mean,
                       const floating[::1] rstd, floating[:, :, ::1] dx, floating[::1] dgamma,
                       floating[::1] dbeta):
    """Cython twin of ``maaskit._kernels.reference.batchnorm.batchnorm_backward``."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], n, c, j
    cdef Py_ssize_t M = N * S
    cdef double mu, r, db, dg, g, k, xh
    cdef bint par = N * C * S >= PARALLEL_MIN_SIZE and C > 1
    if M == 0:
        return
    for c in prange(C, nogil=True, schedule="static", use_threads_if=par):
        mu = mean[c]
        r = rstd[c]
        db = 0.0
        dg = 0.0
        for n in range(N):
            for j in range(S):
                g = dout[n, c, j]
                db = db + g
                dg = dg + g * (x[n, c, j] - mu) * r
        k = gamma[c] * r / M
        for n in range(N):
            for j in range(S):
                xh = (x[n, c, j] - mu) * r
                dx[n, c, j] = <floating>(k * (M * dout[n, c, j] - db - xh * dg))
        dgamma[c] = <floating>dg
        dbeta[c] = <floating>db
