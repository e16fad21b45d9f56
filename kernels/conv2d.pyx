# cython: language_level=3
"""Cython ``conv2d`` kernel: im2col / col2im with OpenMP, GEMMs on BLAS, GIL released.

Same contract as ``maaskit._kernels.reference.conv2d``: ``cols`` is (C*KH*KW, N*OH*OW), so
the forward pass is one GEMM ``W (F x K) @ cols`` for the whole batch (large enough for BLAS
to run at full speed), followed by a parallel scatter into NCHW with the bias added.
"""

import numpy as np
from cython cimport floating
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef inline void gemm_rm(char ta, char tb, int m, int n, int k, floating* A, int lda,
                         floating* B, int ldb, floating* C, int ldc) noexcept nogil:
    """Row-major C = op(A) @ op(B) through column-major BLAS: C^T = op(B)^T op(A)^T."""
    cdef floating one = 1, zero = 0
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, B, &ldb, A, &lda, &zero, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, B, &ldb, A, &lda, &zero, C, &ldc)


cdef void _im2col(const floating[:, :, :, ::1] x, int kh, int kw, int stride, int padding,
                  int oh, int ow, floating[:, ::1] cols) noexcept nogil:
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t p = oh * ow, r, ci, i, j, s, y, xo, iy, ix, o
    for r in prange(c * kh * kw, schedule="static"):
        ci = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for s in range(n):
            for y in range(oh):
                iy = y * stride + i - padding
                o = s * p + y * ow
                if iy < 0 or iy >= h:
                    for xo in range(ow):
                        cols[r, o + xo] = 0
                else:
                    for xo in range(ow):
                        ix = xo * stride + j - padding
                        if ix >= 0 and ix < w:
                            cols[r, o + xo] = x[s, ci, iy, ix]
                        else:
                            cols[r, o + xo] = 0


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                   const floating[::1] b, int stride, int padding, floating[:, ::1] cols,
                   floating[:, :, :, ::1] out):
    cdef int f = w.shape[0], c = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int n = x.shape[0], oh = out.shape[2], ow = out.shape[3]
    cdef int K = c * kh * kw, NP = n * oh * ow, p = oh * ow
    cdef Py_ssize_t t, s, k, q
    if n == 0:
        return
    cdef floating[:, ::1] res = np.empty((f, NP), dtype=np.float32 if floating is float else np.float64)
    with nogil:
        _im2col(x, kh, kw, stride, padding, oh, ow, cols)
        gemm_rm(c'N', c'N', f, NP, K, <floating*>&w[0, 0, 0, 0], K, &cols[0, 0], NP, &res[0, 0], NP)
        for t in prange(n * f, schedule="static"):
            s = t // f
            k = t % f
            for q in range(p):
                out[s, k, q // ow, q % ow] = res[k, s * p + q] + b[k]


def conv2d_backward(const floating[:, ::1] cols, const floating[:, :, :, ::1] w,
                    const floating[:, :, :, ::1] dout, int stride, int padding,
                    floating[:, :, :, ::1] dx, floating[:, :, :, ::1] dw, floating[::1] db,
                    bint need_dx):
    cdef int f = w.shape[0], c = w.shape[1], kh = w.shape[2], kw = w.shape[3]
    cdef int n = dout.shape[0], oh = dout.shape[2], ow = dout.shape[3]
    cdef int K = c * kh * kw, p = oh * ow, NP = n * p
    cdef int h = dx.shape[2], wd = dx.shape[3]
    cdef Py_ssize_t k, s, q, t, ci, i, j, y, xo, iy, ix, r, o
    cdef double acc
    dt = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] d2 = np.empty((f, max(NP, 1)), dtype=dt)
    cdef floating[:, ::1] dcols
    with nogil:
        for k in prange(f, schedule="static"):
            acc = 0
            for s in range(n):
                for q in range(p):
                    d2[k, s * p + q] = dout[s, k, q // ow, q % ow]
                    acc = acc + dout[s, k, q // ow, q % ow]
            db[k] = <floating>acc
        # dW (F x K) = d2 (F x NP) @ cols^T (NP x K)
        gemm_rm(c'N', c'T', f, K, NP, &d2[0, 0], NP, <floating*>&cols[0, 0], NP, &dw[0, 0, 0, 0], K)
    if not need_dx:
        return
    dcols = np.empty((K, NP), dtype=dt)
    with nogil:
        # dcols (K x NP) = W^T (K x F) @ d2 (F x NP)
        gemm_rm(c'T', c'N', K, NP, f, <floating*>&w[0, 0, 0, 0], K, &d2[0, 0], NP, &dcols[0, 0], NP)
        for t in prange(c * n, schedule="static"):
            ci = t // n
            s = t % n
            for iy in range(h):
                for ix in range(wd):
                    dx[s, ci, iy, ix] = 0
            for i in range(kh):
                for j in range(kw):
                    r = (ci * kh + i) * kw + j
                    for y in range(oh):
                        iy = y * stride + i - padding
                        if iy < 0 or iy >= h:
                            continue
                        o = s * p + y * ow
                        for xo in range(ow):
                            ix = xo * stride + j - padding
                            if ix >= 0 and ix < wd:
                                dx[s, ci, iy, ix] += dcols[r, o + xo]
