# cython: language_level=3
"""Cython ``dense`` kernel: affine layer on BLAS (scipy's cython_blas), activations, fused losses.

Same contract as ``maaskit._kernels.reference.dense``. Everything runs without the GIL;
element-wise passes use OpenMP above ``PAR_MIN`` elements only (small MLP batches are
faster on one thread than with a parallel launch).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

import numpy as np
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, tanh, erf, log
from scipy.linalg.cython_blas cimport sgemm, dgemm

DEF PAR_MIN = 131072
cdef double INV_SQRT2 = 0.7071067811865476
cdef double INV_SQRT2PI = 0.3989422804014327


cdef inline void gemm_rm(char ta, char tb, int m, int n, int k, floating* A, int lda,
                         floating* B, int ldb, floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major C = op(A) @ op(B) (+ beta C) through column-major BLAS: C^T = op(B)^T op(A)^T."""
    cdef floating one = 1
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, B, &ldb, A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, B, &ldb, A, &lda, &beta, C, &ldc)


def dense_forward(const floating[:, ::1] X, const floating[:, ::1] W, const floating[::1] b,
                  floating[:, ::1] out):
    cdef int n = X.shape[0], d = X.shape[1], m = W.shape[1], i, j
    if n == 0:
        return
    with nogil:
        gemm_rm(c'N', c'N', n, m, d, <floating*>&X[0, 0], d, <floating*>&W[0, 0], m, 0, &out[0, 0], m)
        for i in range(n):
            for j in range(m):
                out[i, j] += b[j]


def dense_backward(const floating[:, ::1] X, const floating[:, ::1] W, const floating[:, ::1] dout,
                   floating[:, ::1] dX, floating[:, ::1] dW, floating[::1] db, bint need_dx):
    cdef int n = X.shape[0], d = X.shape[1], m = W.shape[1], i, j
    with nogil:
        for j in range(m):
            db[j] = 0
        if n == 0:
            for i in range(d):
                for j in range(m):
                    dW[i, j] = 0
        else:
            # dW (d x m) = X^T (d x n) @ dout (n x m)
            gemm_rm(c'T', c'N', d, m, n, <floating*>&X[0, 0], d, <floating*>&dout[0, 0], m, 0, &dW[0, 0], m)
            for i in range(n):
                for j in range(m):
                    db[j] += dout[i, j]
            if need_dx:
                # dX (n x d) = dout (n x m) @ W^T (m x d)
                gemm_rm(c'N', c'T', n, d, m, <floating*>&dout[0, 0], m, <floating*>&W[0, 0], m, 0, &dX[0, 0], d)


cdef inline floating _act(floating z, int act) noexcept nogil:
    if act == 1:
        return z if z > 0 else 0
    elif act == 2:
        return tanh(z)
    elif act == 3:
        return 1 / (1 + exp(-z))
    elif act == 4:
        return 0.5 * z * (1 + erf(z * INV_SQRT2))
    return z


cdef inline floating _dact(floating z, floating a, floating da, int act) noexcept nogil:
    cdef double cdf
    if act == 1:
        return da if a > 0 else 0
    elif act == 2:
        return da * (1 - a * a)
    elif act == 3:
        return da * a * (1 - a)
    elif act == 4:
        cdf = 0.5 * (1 + erf(z * INV_SQRT2))
        return da * (cdf + z * exp(-0.5 * z * z) * INV_SQRT2PI)
    return da


cdef void _fwd(const floating[::1] z, int act, floating[::1] o) noexcept nogil:
    cdef Py_ssize_t i, n = z.shape[0]
    if n >= PAR_MIN:
        for i in prange(n, schedule="static"):
            o[i] = _act(z[i], act)
    else:
        for i in range(n):
            o[i] = _act(z[i], act)


cdef void _bwd(const floating[::1] z, const floating[::1] a, const floating[::1] da, int act,
               floating[::1] dz) noexcept nogil:
    cdef Py_ssize_t i, n = z.shape[0]
    if n >= PAR_MIN:
        for i in prange(n, schedule="static"):
            dz[i] = _dact(z[i], a[i], da[i], act)
    else:
        for i in range(n):
            dz[i] = _dact(z[i], a[i], da[i], act)


def _fwd_flat(const floating[::1] z, int act, floating[::1] o):
    with nogil:
        _fwd(z, act, o)


def _bwd_flat(const floating[::1] z, const floating[::1] a, const floating[::1] da, int act,
              floating[::1] dz):
    with nogil:
        _bwd(z, a, da, act, dz)


def activation_forward(Z, int act, out):
    _fwd_flat(Z.reshape(-1), act, out.reshape(-1))


def activation_backward(Z, A, dA, int act, dZ):
    _bwd_flat(Z.reshape(-1), A.reshape(-1), dA.reshape(-1), act, dZ.reshape(-1))


def softmax_cross_entropy(const floating[:, ::1] logits, const long long[::1] y,
                          floating[:, ::1] probs, floating[:, ::1] grad):
    cdef int n = logits.shape[0], k = logits.shape[1], i, j
    cdef long long yi
    cdef double mx, s, e, inv, inv_n = 1.0 / n, loss = 0
    with nogil:
        for i in range(n):
            mx = logits[i, 0]
            for j in range(1, k):
                if logits[i, j] > mx:
                    mx = logits[i, j]
            s = 0
            for j in range(k):
                e = exp(logits[i, j] - mx)
                probs[i, j] = <floating>e
                s += e
            inv = 1.0 / s
            for j in range(k):
                probs[i, j] = <floating>(probs[i, j] * inv)
                grad[i, j] = <floating>(probs[i, j] * inv_n)
            yi = y[i]
            grad[i, yi] -= <floating>inv_n
            loss += log(s) - (logits[i, yi] - mx)
    return loss * inv_n


def mse_loss(const floating[:, ::1] pred, const floating[:, ::1] target, floating[:, ::1] grad):
    cdef int n = pred.shape[0], k = pred.shape[1], i, j
    cdef double d, inv_n = 1.0 / n, loss = 0
    with nogil:
        for i in range(n):
            for j in range(k):
                d = pred[i, j] - target[i, j]
                grad[i, j] = <floating>(d * inv_n)
                loss += d * d
    return loss * 0.5 * inv_n
