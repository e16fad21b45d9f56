# cython: language_level=3
"""Cython ``bpr`` kernel: Hogwild SGD over sample chunks, one xorshift64* stream per chunk.

Same contract as ``maaskit._kernels.reference.bpr.bpr_epoch``. Chunk ``t`` of the samples
runs on OpenMP thread ``t`` with the GIL released; factors are shared without locks
(Hogwild). With ``n_threads=1`` the draws equal the reference's exactly.

Index safety: User/item indices (the interaction CSR, and negatives drawn by the kernel's own
RNG in ``[0, n_items)``) are not checked here. They are reachable only through validated state:
the CSR is built from the id index, and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp
from libc.stdint cimport uint64_t

from sampling cimport _contains, _draw, _seed_state

import numpy as np

cdef enum:
    MAX_TRIES = 10

cdef extern from *:
    """
    #include <math.h>
    /* float32 fast path: compiled twice (AVX2+FMA and baseline), picked at load time. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define MK_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
    #else
    #define MK_CLONES
    #endif
    /* One SGD step on the triple (x, yi, yj); returns 1 when it was ranked correctly. */
    MK_CLONES static int mk_bpr_step_f(float* x, float* yi, float* yj, int k, float lr,
                                       float reg, int update_items) {
        float score = 0.0f;
        #pragma omp simd reduction(+:score)
        for (int f = 0; f <= k; f++) score += x[f] * (yi[f] - yj[f]);
        float z = (float)(1.0 / (1.0 + exp((double)score)));
        if (update_items) {
            if (yi != yj) {
                #pragma omp simd
                for (int f = 0; f < k; f++) {
                    float xu = x[f], a = yi[f], b = yj[f];
                    x[f] = xu + lr * (z * (a - b) - reg * xu);
                    yi[f] = a + lr * (z * xu - reg * a);
                    yj[f] = b + lr * (-z * xu - reg * b);
                }
            } else {
                for (int f = 0; f < k; f++) {
                    float xu = x[f];
                    x[f] += lr * (z * (yi[f] - yj[f]) - reg * xu);
                    yi[f] += lr * (z * xu - reg * yi[f]);
                    yj[f] += lr * (-z * xu - reg * yj[f]);
                }
            }
            yi[k] += lr * (z - reg * yi[k]);
            yj[k] += lr * (-z - reg * yj[k]);
        } else {
            #pragma omp simd
            for (int f = 0; f < k; f++) x[f] += lr * (z * (yi[f] - yj[f]) - reg * x[f]);
        }
        return score > 0;
    }
    """
    int mk_bpr_step_f(float* x, float* yi, float* yj, int k, float lr, float reg,
                      int update_items) noexcept nogil


cdef long long _chunk(const long long* indptr, const int* indices, const int* row_of,
                      long long nnz, floating* X, floating* Y, int k1, long long n_items,
                      floating lr, floating reg, uint64_t state, long long start, long long stop,
                      bint verify, bint update_items, long long* skipped) noexcept nogil:
    cdef long long s, pos, lo, hi, correct = 0
    cdef int u, i, j, f, tries, k = k1 - 1
    cdef bint hit
    cdef floating score, z, xu
    cdef floating* x
    cdef floating* yi
    cdef floating* yj
    for s in range(start, stop):
        pos = _draw(&state, nnz)
        u = row_of[pos]
        i = indices[pos]
        j = <int> _draw(&state, n_items)
        if verify:
            lo = indptr[u]
            hi = indptr[u + 1]
            tries = 1
            hit = _contains(indices, lo, hi, j)
            while hit and tries < MAX_TRIES:
                j = <int> _draw(&state, n_items)
                tries += 1
                hit = _contains(indices, lo, hi, j)
            if hit:
                skipped[0] += 1
                continue
        x = X + <long long> u * k1
        yi = Y + <long long> i * k1
        yj = Y + <long long> j * k1
        if floating is float:
            correct += mk_bpr_step_f(x, yi, yj, k, lr, reg, update_items)
            continue
        score = 0
        for f in range(k1):
            score = score + x[f] * (yi[f] - yj[f])
        z = <floating> (1.0 / (1.0 + exp(<double> score)))
        if score > 0:
            correct += 1
        if update_items:
            for f in range(k):
                xu = x[f]
                x[f] += lr * (z * (yi[f] - yj[f]) - reg * xu)
                yi[f] += lr * (z * xu - reg * yi[f])
                yj[f] += lr * (-z * xu - reg * yj[f])
            yi[k] += lr * (z - reg * yi[k])
            yj[k] += lr * (-z - reg * yj[k])
        else:
            for f in range(k):
                x[f] += lr * (z * (yi[f] - yj[f]) - reg * x[f])
    return correct


def bpr_epoch(const long long[::1] indptr, const int[::1] indices, const int[::1] row_of,
              floating[:, ::1] X, floating[:, ::1] Y, double learning_rate, double regularization,
              unsigned long long seed, bint verify_negative, bint update_items, int n_threads,
              long long[::1] stats):
    """Cython twin of ``maaskit._kernels.reference.bpr.bpr_epoch``."""
    cdef long long nnz = indices.shape[0], n_items = Y.shape[0]
    cdef int k1 = <int> X.shape[1], t, nt = max(1, n_threads)
    cdef floating lr = <floating> learning_rate, reg = <floating> regularization
    cdef long long[:, ::1] out = np.zeros((nt, 2), dtype=np.int64)
    cdef long long skipped
    stats[0] = 0
    stats[1] = 0
    if nnz == 0:
        return
    with nogil:
        for t in prange(nt, num_threads=nt, schedule="static"):
            skipped = 0
            out[t, 0] = _chunk(&indptr[0], &indices[0], &row_of[0], nnz, &X[0, 0], &Y[0, 0], k1,
                               n_items, lr, reg, _seed_state(seed, t), t * nnz // nt,
                               (t + 1) * nnz // nt, verify_negative, update_items, &skipped)
            out[t, 1] = skipped
    for t in range(nt):
        stats[0] += out[t, 0]
        stats[1] += out[t, 1]
