# cython: language_level=3
"""Cython ``hybrid`` kernel: Hogwild SGD (WARP, BPR, squared) over user and item feature rows.

Same contract as ``maaskit._kernels.reference.hybrid.hybrid_epoch``. Chunk ``t`` of the
samples runs on OpenMP thread ``t`` with the GIL released; parameters and Adagrad
accumulators are shared without locks (Hogwild). With ``n_threads=1`` the draws and steps
equal the reference's.

Index safety: feature, user and item indices are not checked here. They are reachable only
through validated state: the feature CSRs are built by the estimator (and loaded ones are
checked by ``maaskit._schema`` to index into the embedding tables), the interactions and
``neg_pool`` come from the id indices.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log, floor, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, free

from sampling cimport _contains, _draw, _seed_state

import numpy as np

cdef extern from *:
    """
    #include <math.h>
    /* float32 Adagrad step over one embedding row, the hot loop: compiled twice (AVX2+FMA
       and baseline) and without errno from sqrtf, which otherwise blocks vectorisation. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define MK_HYB_ATTR __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("no-math-errno")))
    #else
    #define MK_HYB_ATTR
    #endif
    MK_HYB_ATTR static void mk_hyb_adagrad_f(float* e, float* ge, const float* vec, int k,
                                             float w, float coef, float alpha, float lr) {
        for (int f = 0; f < k; f++) {
            float g = w * (coef * vec[f]) + alpha * e[f];
            ge[f] += g * g;
            e[f] -= lr * g / sqrtf(ge[f]);
        }
    }
    MK_HYB_ATTR static void mk_hyb_axpy_f(float* out, const float* e, int k, float w) {
        for (int f = 0; f < k; f++) out[f] += w * e[f];
    }
    """
    void mk_hyb_adagrad_f(float* e, float* ge, const float* vec, int k, float w, float coef,
                          float alpha, float lr) noexcept nogil
    void mk_hyb_axpy_f(float* out, const float* e, int k, float w) noexcept nogil

cdef enum:
    LOSS_WARP = 0
    LOSS_BPR = 1
    LOSS_SQUARED = 2


cdef inline floating _represent(const long long* indptr, const int* indices, const floating* data,
                                const floating* E, const floating* B, int k, int row,
                                floating* out) noexcept nogil:
    cdef long long a
    cdef int f
    cdef floating w, bias = 0
    cdef const floating* e
    for f in range(k):
        out[f] = 0
    for a in range(indptr[row], indptr[row + 1]):
        w = data[a]
        e = E + <long long> indices[a] * k
        if floating is float:
            mk_hyb_axpy_f(out, e, k, w)
        else:
            for f in range(k):
                out[f] += w * e[f]
        bias += w * B[indices[a]]
    return bias


cdef inline void _adagrad_row(const long long* indptr, const int* indices, const floating* data,
                              floating* E, floating* B, floating* GE, floating* GB, int k, int row,
                              floating coef, const floating* vec, floating g_bias, floating lr,
                              floating alpha, bint update_bias) noexcept nogil:
    cdef long long a, feat
    cdef int f
    cdef floating w, g
    cdef floating* e
    cdef floating* ge
    for a in range(indptr[row], indptr[row + 1]):
        feat = indices[a]
        w = data[a]
        e = E + feat * k
        ge = GE + feat * k
        if floating is float:
            mk_hyb_adagrad_f(e, ge, vec, k, w, coef, alpha, lr)
        else:
            for f in range(k):
                g = w * (coef * vec[f]) + alpha * e[f]
                ge[f] += g * g
                e[f] -= lr * g / sqrt(ge[f])
        if update_bias:
            g = w * g_bias + alpha * B[feat]
            GB[feat] += g * g
            B[feat] -= lr * g / <floating> sqrt(GB[feat])


cdef inline floating _dot(const floating* a, const floating* b, int k) noexcept nogil:
    cdef floating s = 0
    cdef int f
    for f in range(k):
        s += a[f] * b[f]
    return s


cdef void _chunk(int loss, const long long* uip, const int* uix, const floating* udt,
                 const long long* iip, const int* iix, const floating* idt,
                 const int* row_of, const int* col_of, const floating* values, long long nnz,
                 const long long* sip, const int* six, const int* pool, long long n_pool,
                 floating* Eu, floating* Bu, floating* Ei, floating* Bi,
                 floating* GEu, floating* GBu, floating* GEi, floating* GBi, int k,
                 floating lr, floating ua, floating ia, int max_sampled, uint64_t state,
                 long long start, long long stop, long long* out) noexcept nogil:
    cdef floating* buf = <floating*> malloc(4 * (k + 1) * sizeof(floating))
    cdef floating* pu = buf
    cdef floating* qi = buf + (k + 1)
    cdef floating* qj = buf + 2 * (k + 1)
    cdef floating* gp = buf + 3 * (k + 1)
    cdef long long s, pos, lo, hi, good = 0, skipped = 0
    cdef int u, i, j, f, tries, drawn
    cdef floating bu, bi, bj, si, sj, d, dpos, x, w
    cdef bint stepped
    if buf == NULL:
        out[0] = 0
        out[1] = stop - start
        return
    for s in range(start, stop):
        pos = _draw(&state, nnz)
        u = row_of[pos]
        i = col_of[pos]
        bu = _represent(uip, uix, udt, Eu, Bu, k, u, pu)
        bi = _represent(iip, iix, idt, Ei, Bi, k, i, qi)
        si = _dot(pu, qi, k) + bi
        lo = sip[u]
        hi = sip[u + 1]
        if loss == LOSS_SQUARED:
            d = si + bu - values[pos]
            _adagrad_row(iip, iix, idt, Ei, Bi, GEi, GBi, k, i, d, pu, d, lr, ia, True)
            for f in range(k):
                gp[f] = d * qi[f]
            _adagrad_row(uip, uix, udt, Eu, Bu, GEu, GBu, k, u, 1, gp, d, lr, ua, True)
            continue
        if n_pool == 0:
            skipped += 1
            continue
        j = -1
        dpos = 0
        if loss == LOSS_BPR:
            j = pool[_draw(&state, n_pool)]
            tries = 1
            while _contains(six, lo, hi, j) and tries < max_sampled:
                j = pool[_draw(&state, n_pool)]
                tries += 1
            if _contains(six, lo, hi, j):
                skipped += 1
                continue
            bj = _represent(iip, iix, idt, Ei, Bi, k, j, qj)
            x = si - (_dot(pu, qj, k) + bj)
            if x > 0:
                good += 1
            dpos = <floating> (-1.0 / (1.0 + exp(<double> x)))
        else:
            stepped = False
            for drawn in range(1, max_sampled + 1):
                j = pool[_draw(&state, n_pool)]
                if _contains(six, lo, hi, j):
                    continue
                bj = _represent(iip, iix, idt, Ei, Bi, k, j, qj)
                sj = _dot(pu, qj, k) + bj
                if sj > si - 1:
                    w = <floating> log(max(1.0, floor(<double> (n_pool - 1) / drawn)))
                    dpos = -w
                    stepped = True
                    break
            if not stepped:
                good += 1
                continue
        _adagrad_row(iip, iix, idt, Ei, Bi, GEi, GBi, k, i, dpos, pu, dpos, lr, ia, True)
        _adagrad_row(iip, iix, idt, Ei, Bi, GEi, GBi, k, j, -dpos, pu, -dpos, lr, ia, True)
        for f in range(k):
            gp[f] = dpos * qi[f]
            gp[f] = gp[f] + (-dpos) * qj[f]
        _adagrad_row(uip, uix, udt, Eu, Bu, GEu, GBu, k, u, 1, gp, 0, lr, ua, False)
    free(buf)
    out[0] = good
    out[1] = skipped


def hybrid_epoch(int loss, const long long[::1] uf_indptr, const int[::1] uf_indices,
                 const floating[::1] uf_data, const long long[::1] if_indptr,
                 const int[::1] if_indices, const floating[::1] if_data,
                 const int[::1] row_of, const int[::1] col_of, const floating[::1] values,
                 const long long[::1] seen_indptr, const int[::1] seen_indices,
                 const int[::1] neg_pool, floating[:, ::1] Eu, floating[::1] Bu,
                 floating[:, ::1] Ei, floating[::1] Bi, floating[:, ::1] GEu, floating[::1] GBu,
                 floating[:, ::1] GEi, floating[::1] GBi, double learning_rate, double user_alpha,
                 double item_alpha, int max_sampled, unsigned long long seed, long long n_samples,
                 int n_threads, long long[::1] stats):
    """Cython twin of ``maaskit._kernels.reference.hybrid.hybrid_epoch``."""
    cdef long long nnz = row_of.shape[0], n_pool = neg_pool.shape[0]
    cdef int k = <int> Eu.shape[1], t, nt = max(1, n_threads)
    cdef floating lr = <floating> learning_rate, ua = <floating> user_alpha, ia = <floating> item_alpha
    cdef long long[:, ::1] out = np.zeros((nt, 2), dtype=np.int64)
    cdef const int* pool_p = &neg_pool[0] if n_pool > 0 else NULL
    cdef const int* six = &seen_indices[0] if seen_indices.shape[0] > 0 else NULL
    stats[0] = 0
    stats[1] = 0
    if nnz == 0 or n_samples <= 0:
        return
    with nogil:
        for t in prange(nt, num_threads=nt, schedule="static"):
            _chunk(loss, &uf_indptr[0], &uf_indices[0], &uf_data[0], &if_indptr[0], &if_indices[0],
                   &if_data[0], &row_of[0], &col_of[0], &values[0], nnz, &seen_indptr[0], six,
                   pool_p, n_pool, &Eu[0, 0], &Bu[0], &Ei[0, 0], &Bi[0], &GEu[0, 0], &GBu[0],
                   &GEi[0, 0], &GBi[0], k, lr, ua, ia, max_sampled, _seed_state(seed, t),
                   t * n_samples // nt, (t + 1) * n_samples // nt, &out[t, 0])
    for t in range(nt):
        stats[0] += out[t, 0]
        stats[1] += out[t, 1]
