# cython: language_level=3
"""Cython ``conv2d`` kernel: im2col / col2im with OpenMP, GEMMs on BLAS, GIL released.

Same contract as ``maaskit._kernels.reference.conv2d``: ``cols`` is (C*KH*KW, N*OH*OW), so
the forward pass is the GEMM ``W (F x K) @ cols`` for the whole batch, followed by a
parallel scatter into NCHW with the bias added.

Every parallel step runs on the one OpenMP team: the GEMMs are split into column blocks
(``_n_blocks``) computed by that team with BLAS held to one thread. Letting a threaded BLAS
run between OpenMP regions put two thread teams on the cores, each spinning while the other
worked: on 2 cores the conv layers ran 3-4x slower with 2 threads than torch (and slower
than with 1). The blocks are fixed by the shapes, not the thread count, and the dW partial
sums are added in block order, so results do not depend on the number of threads.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

import numpy as np
from cython cimport floating
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport sgemm, dgemm

from maaskit._kernels._blas import one_blas_thread

# Column blocks per GEMM: at most _MAX_BLOCKS, each at least _MIN_BLOCK_COLS wide (narrower
# GEMMs lose BLAS efficiency). 8 blocks keep 2-8 threads busy with dynamic scheduling.
cdef enum:
    _MAX_BLOCKS = 8
    _MIN_BLOCK_COLS = 512


cdef inline Py_ssize_t _n_blocks(Py_ssize_t ncols) noexcept nogil:
    cdef Py_ssize_t nb = ncols // _MIN_BLOCK_COLS
    if nb < 1:
        return 1
    return nb if nb < _MAX_BLOCKS else _MAX_BLOCKS


cdef inline void gemm_rm(char ta, char tb, int m, int n, int k, floating* A, int lda,
                         floating* B, int ldb, floating* C, int ldc) noexcept nogil:
    """Row-major C = op(A) @ op(B) through column-major BLAS: C^T = op(B)^T op(A)^T."""
    cdef floating one = 1, zero = 0
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, B, &ldb, A, &lda, &zero, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, B, &ldb, A, &lda, &zero, C, &ldc)


cdef void _gemm_column_blocks(char ta, int m, int k, floating* A, int lda, floating* B,
                              floating* C, Py_ssize_t ncols) noexcept nogil:
    """C[:, cols] = op(A) (m x k) @ B[:, cols] (k x ncols), row-major, by column blocks on the
    OpenMP team; B and C have leading dimension ``ncols``."""
    cdef Py_ssize_t nblk = _n_blocks(ncols), step = (ncols + nblk - 1) // nblk, bi, a
    for bi in prange(nblk, schedule="dynamic"):
        a = bi * step
        if a < ncols:
            gemm_rm(ta, c'N', m, <int>min(step, ncols - a), k, A, lda, B + a, <int>ncols, C + a,
                    <int>ncols)


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
    with one_blas_thread():
        with nogil:
            _im2col(x, kh, kw, stride, padding, oh, ow, cols)
            _gemm_column_blocks(c'N', f, K, <floating*>&w[0, 0, 0, 0], K, &cols[0, 0], &res[0, 0], NP)
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
    cdef Py_ssize_t nblk = _n_blocks(NP), step = (NP + nblk - 1) // nblk, bi, bj, a, e
    cdef floating[:, :, ::1] part = np.zeros((nblk, f, K), dtype=dt)
    cdef floating* dwp = &dw[0, 0, 0, 0]
    with one_blas_thread():
        with nogil:
            for k in prange(f, schedule="static"):
                acc = 0
                for s in range(n):
                    for q in range(p):
                        d2[k, s * p + q] = dout[s, k, q // ow, q % ow]
                        acc = acc + dout[s, k, q // ow, q % ow]
                db[k] = <floating>acc
            # dW (F x K) = d2 (F x NP) @ cols^T (NP x K): one partial per column block, then
            # summed in block order
            for bi in prange(nblk, schedule="dynamic"):
                a = bi * step
                if a < NP:
                    gemm_rm(c'N', c'T', f, K, <int>min(step, NP - a), &d2[0, a], NP,
                            <floating*>&cols[0, a], NP, &part[bi, 0, 0], K)
            for e in prange(f * K, schedule="static"):
                dwp[e] = part[0, e // K, e % K]
                for bj in range(1, nblk):
                    dwp[e] += part[bj, e // K, e % K]
    if not need_dx:
        return
    dcols = np.empty((K, NP), dtype=dt)
    with one_blas_thread():
        with nogil:
            # dcols (K x NP) = W^T (K x F) @ d2 (F x NP)
            _gemm_column_blocks(c'T', K, f, <floating*>&w[0, 0, 0, 0], K, &d2[0, 0], &dcols[0, 0], NP)
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
