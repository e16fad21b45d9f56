# cython: language_level=3
"""Cython ``attention`` kernel: fused multi-head self-attention forward and backward.

Same contract as ``maaskit._kernels.reference.attention``. One call covers all batch rows and
heads: an OpenMP ``prange`` over ``B * H`` with the GIL released, so a serving-size call has
no per-head Python cost. Per head, every T x T x D product is a register-blocked GEMM (below,
plain C with GCC vector extensions) and the masked softmax is a vectorised pass over each row
in place; float32 is compiled twice (AVX2+FMA and baseline) and picked at load time, so no
``-march=native`` is needed. Transposed operands (``P^T dO``, ``dS^T Q``) are read through
strides instead of being copied, and the scratch (``K^T``, the key mask, ``dS``) is allocated
once per thread, not per head. Masked keys get exactly zero weight, and a query with no
visible key gets zero weights and a zero output.

Why this layout (float32, one core, T=128, D=64, per head, forward + backward): ~0.27 ms,
against ~0.43 ms for the previous one (its exp loop stayed scalar behind a branch on the key
mask, and it copied T x T transposes) and ~0.37 ms for torch's SDPA. There is no scalar path
for small heads: at 1x1x16x32 the call takes ~0.01 ms (torch ~0.13 ms), and the GEMM's edge
loops cover T and D that are not multiples of 4 or 8. float64 keeps libm's exp (scalar).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc

cdef extern from *:
    """
    #include <math.h>
    #include <string.h>
    #include <stdlib.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define MKA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
    #else
    #define MKA_CLONES
    #endif

    /* C (M x N, row stride ldc) = A (M x K) . B (K x N, row stride ldb). A's element (i, kk) is
       A[i * sai + kk * sak], so A^T B needs no transpose (sai = 1, sak = lda). tri = 1: A is
       lower triangular (A[i, kk] = 0 for kk > i), tri = 2: upper (A[i, kk] = 0 for kk < i); the
       K loop of each row block then skips the zero part (causal attention). */
    #if defined(__GNUC__)
    typedef float mka_vf __attribute__((vector_size(32), aligned(4)));
    typedef double mka_vd __attribute__((vector_size(32), aligned(8)));
    #define MKA_BLOCK(REAL, VEC, W)                                                         \\
            for (; j + 2 * W <= N; j += 2 * W) {                                            \\
                VEC c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};                             \\
                VEC c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};                             \\
                for (int kk = k0; kk < k1; kk++) {                                          \\
                    const REAL* b = B + (long long)kk * ldb + j;                            \\
                    const VEC b0 = *(const VEC*)b, b1 = *(const VEC*)(b + W);               \\
                    const REAL* a = A + kk * sak;                                           \\
                    const REAL x0 = a[0], x1 = a[sai], x2 = a[2 * sai], x3 = a[3 * sai];    \\
                    c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1;         \\
                    c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1;         \\
                }                                                                           \\
                REAL* o0 = C + (long long)i * ldc + j;                                      \\
                *(VEC*)o0 = c00; *(VEC*)(o0 + W) = c01;                                     \\
                *(VEC*)(o0 + ldc) = c10; *(VEC*)(o0 + ldc + W) = c11;                       \\
                *(VEC*)(o0 + 2 * ldc) = c20; *(VEC*)(o0 + 2 * ldc + W) = c21;               \\
                *(VEC*)(o0 + 3 * ldc) = c30; *(VEC*)(o0 + 3 * ldc + W) = c31;               \\
            }                                                                               \\
            for (; j + W <= N; j += W) {                                                    \\
                VEC c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};                                 \\
                for (int kk = k0; kk < k1; kk++) {                                          \\
                    const VEC b0 = *(const VEC*)(B + (long long)kk * ldb + j);              \\
                    const REAL* a = A + kk * sak;                                           \\
                    c0 += a[0] * b0; c1 += a[sai] * b0; c2 += a[2 * sai] * b0;              \\
                    c3 += a[3 * sai] * b0;                                                  \\
                }                                                                           \\
                REAL* o0 = C + (long long)i * ldc + j;                                      \\
                *(VEC*)o0 = c0; *(VEC*)(o0 + ldc) = c1;                                     \\
                *(VEC*)(o0 + 2 * ldc) = c2; *(VEC*)(o0 + 3 * ldc) = c3;                     \\
            }
    #else
    #define MKA_BLOCK(REAL, VEC, W)
    #endif

    #define MKA_GEMM(NAME, REAL, VEC, W)                                                    \\
    MKA_CLONES static void NAME(int M, int N, int K, const REAL* A0, long long sai,         \\
                                long long sak, const REAL* B, int ldb, REAL* C, int ldc,    \\
                                int tri) {                                                  \\
        int i = 0;                                                                          \\
        for (; i + 4 <= M; i += 4) {                                                        \\
            const int k0 = tri == 2 ? i : 0;                                                \\
            const int k1 = tri == 1 ? (i + 4 < K ? i + 4 : K) : K;                          \\
            const REAL* A = A0 + i * sai;                                                   \\
            int j = 0;                                                                      \\
            MKA_BLOCK(REAL, VEC, W)                                                         \\
            for (; j < N; j++) {                                                            \\
                REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                        \\
                for (int kk = k0; kk < k1; kk++) {                                          \\
                    const REAL b = B[(long long)kk * ldb + j];                              \\
                    const REAL* a = A + kk * sak;                                           \\
                    s0 += a[0] * b; s1 += a[sai] * b; s2 += a[2 * sai] * b;                 \\
                    s3 += a[3 * sai] * b;                                                   \\
                }                                                                           \\
                REAL* o0 = C + (long long)i * ldc + j;                                      \\
                o0[0] = s0; o0[ldc] = s1; o0[2 * ldc] = s2; o0[3 * ldc] = s3;               \\
            }                                                                               \\
        }                                                                                   \\
        for (; i < M; i++) {                                                                \\
            const int k0 = tri == 2 ? i : 0;                                                \\
            const int k1 = tri == 1 ? (i + 1 < K ? i + 1 : K) : K;                          \\
            REAL* ci = C + (long long)i * ldc;                                              \\
            for (int j = 0; j < N; j++) ci[j] = 0;                                          \\
            for (int kk = k0; kk < k1; kk++) {                                              \\
                const REAL x = A0[i * sai + kk * sak];                                      \\
                const REAL* b = B + (long long)kk * ldb;                                    \\
                _Pragma("omp simd")                                                         \\
                for (int j = 0; j < N; j++) ci[j] += x * b[j];                              \\
            }                                                                               \\
        }                                                                                   \\
    }

    /* exp for float32 softmax weights (Cephes expf: Cody-Waite range reduction, degree-5
       polynomial, 2^n by exponent bits; ~1 ulp). Unlike libm's expf it vectorises, and the
       softmax evaluates T*T of them per head: it is plain arithmetic (n = round(x / ln 2) by the
       1.5 * 2^23 trick, 2^n by memcpy) because floorf or a union keep GCC's target_clones
       build scalar. x is clamped to [-87.3, 0]: valid inputs are <= 0 (max-subtracted), but a
       masked key's score may exceed the row max, and its weight, zeroed afterwards by a 0/1
       multiply with the key mask, must stay finite (inf * 0 is NaN). */
    static inline float mka_expf(float x) {
        x = x < -87.3f ? -87.3f : (x > 0.0f ? 0.0f : x);
        const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
        const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
        float y = 1.9875691500E-4f;
        y = y * r + 1.3981999507E-3f;
        y = y * r + 8.3334519073E-3f;
        y = y * r + 4.1665795894E-2f;
        y = y * r + 1.6666665459E-1f;
        y = y * r + 5.0000001201E-1f;
        y = y * r * r + r + 1.0f;
        const int bits = ((int)n + 127) << 23;
        float two_n;
        memcpy(&two_n, &bits, sizeof two_n);
        return y * two_n;
    }

    #define MKA_TRANSPOSE(NAME, REAL)                                                       \\
    static inline void NAME(int R, int C, const REAL* a, REAL s, REAL* at) {                \\
        for (int r = 0; r < R; r++)                                                         \\
            for (int c = 0; c < C; c++) at[(long long)c * R + r] = s * a[(long long)r * C + c]; \\
    }

    /* Masked, max-subtracted softmax of each row of p (T x T) in place; mk: (T,) 0/1 key mask
       as REAL. Rows with no visible key become all zero. This is the scalar form (float64). */
    #define MKA_SOFTMAX(NAME, REAL, EXP)                                                    \\
    MKA_CLONES static void NAME(REAL* p, const REAL* mk, int causal, int T) {               \\
        for (int i = 0; i < T; i++) {                                                       \\
            REAL* pi = p + (long long)i * T;                                                \\
            const int jmax = causal ? i + 1 : T;                                            \\
            REAL m = -INFINITY;                                                             \\
            for (int j = 0; j < jmax; j++) if (mk[j] != 0 && pi[j] > m) m = pi[j];          \\
            if (m == -INFINITY) { for (int j = 0; j < T; j++) pi[j] = 0; continue; }        \\
            REAL tot = 0;                                                                   \\
            for (int j = 0; j < jmax; j++) {                                                \\
                const REAL w = mk[j] != 0 ? EXP(pi[j] - m) : (REAL)0;                       \\
                pi[j] = w;                                                                  \\
                tot += w;                                                                   \\
            }                                                                               \\
            for (int j = jmax; j < T; j++) pi[j] = 0;                                       \\
            const REAL inv = (REAL)1 / tot;                                                 \\
            for (int j = 0; j < jmax; j++) pi[j] *= inv;                                    \\
        }                                                                                   \\
    }

    #if defined(__GNUC__)
    typedef int mka_vi __attribute__((vector_size(32), aligned(4)));

    /* mka_expf on 8 lanes (same clamp); selects are bit operations (C has no vector ?:). */
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wpsabi"  /* always inlined: no vector crosses a call */
    static inline __attribute__((always_inline)) mka_vf mka_expf8(mka_vf x) {
        const mka_vf lo = {-87.3f, -87.3f, -87.3f, -87.3f, -87.3f, -87.3f, -87.3f, -87.3f};
        const mka_vi small = x < lo;
        x = (mka_vf)(((mka_vi)x & ~small) | ((mka_vi)lo & small));
        x = (mka_vf)((mka_vi)x & (x <= 0));  /* x > 0 -> +0 */
        const mka_vf n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
        const mka_vf r = x - n * 0.693359375f + n * 2.12194440e-4f;
        mka_vf y = r * 1.9875691500E-4f + 1.3981999507E-3f;
        y = y * r + 8.3334519073E-3f;
        y = y * r + 4.1665795894E-2f;
        y = y * r + 1.6666665459E-1f;
        y = y * r + 5.0000001201E-1f;
        y = y * r * r + r + 1.0f;
        const mka_vi bits = (__builtin_convertvector(n, mka_vi) + 127) << 23;
        return y * (mka_vf)bits;
    }

    /* float32 softmax: the same as MKA_SOFTMAX, written on 8-lane vectors because GCC leaves
       the scalar form's exp loop unvectorised in the target_clones build (it was ~5x slower
       than the Q K^T GEMM before). Masked lanes are selected out of the max and multiplied
       by 0 after exp (a finite value times 0: the weight is exactly 0). */
    MKA_CLONES static void mka_smx_f(float* p, const float* mk, int causal, int T) {
        const mka_vf ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                             -INFINITY, -INFINITY, -INFINITY, -INFINITY};
        for (int i = 0; i < T; i++) {
            float* pi = p + (long long)i * T;
            const int jmax = causal ? i + 1 : T;
            mka_vf mv = ninf;
            int j = 0;
            for (; j + 8 <= jmax; j += 8) {
                const mka_vf s = *(const mka_vf*)(pi + j);
                const mka_vi ok = (*(const mka_vf*)(mk + j) != 0) & (s > mv);
                mv = (mka_vf)(((mka_vi)s & ok) | ((mka_vi)mv & ~ok));
            }
            float m = -INFINITY;
            for (int l = 0; l < 8; l++) m = mv[l] > m ? mv[l] : m;
            for (; j < jmax; j++) if (mk[j] != 0 && pi[j] > m) m = pi[j];
            if (m == -INFINITY) { memset(pi, 0, sizeof(float) * (size_t)T); continue; }
            mka_vf tv = {0};
            j = 0;
            for (; j + 8 <= jmax; j += 8) {
                const mka_vf w = mka_expf8(*(const mka_vf*)(pi + j) - m) * *(const mka_vf*)(mk + j);
                *(mka_vf*)(pi + j) = w;
                tv += w;
            }
            float tot = 0;
            for (int l = 0; l < 8; l++) tot += tv[l];
            for (; j < jmax; j++) {
                const float w = mka_expf(pi[j] - m) * mk[j];
                pi[j] = w;
                tot += w;
            }
            for (j = jmax; j < T; j++) pi[j] = 0;
            const float inv = 1.0f / tot;
            for (j = 0; j + 8 <= jmax; j += 8) *(mka_vf*)(pi + j) *= inv;
            for (; j < jmax; j++) pi[j] *= inv;
        }
    }
    #pragma GCC diagnostic pop
    #else
    MKA_SOFTMAX(mka_smx_f, float, mka_expf)
    #endif

    /* One head, forward. q,k,v,o: (T, D); p: (T, T); kv: (T,) key validity; work: T * D + T.
       S = Q (scale K)^T (GEMM), masked max-subtracted softmax per row in place, O = P V. */
    #define MKA_FWD(NAME, REAL, SMX, GEMM, TRANS)                                           \\
    MKA_CLONES static void NAME(const REAL* q, const REAL* k, const REAL* v,                \\
                     const unsigned char* kv, int causal, REAL scale,                       \\
                     int T, int D, REAL* o, REAL* p, REAL* work) {                          \\
        REAL* mk = work + (size_t)T * D;                                                    \\
        for (int j = 0; j < T; j++) mk[j] = kv[j] != 0;                                     \\
        TRANS(T, D, k, scale, work);                                                        \\
        GEMM(T, T, D, q, D, 1, work, T, p, T, 0);                                           \\
        SMX(p, mk, causal, T);                                                              \\
        GEMM(T, D, T, p, T, 1, v, D, o, D, causal);                                         \\
    }

    /* One head, backward. Overwrites dq, dk, dv (T, D); ds: T * T and work: T * D scratch.
       dP = dO V^T, dS = P * (dP - rowsum(dO * O)) * scale, dQ = dS K, dK = dS^T Q, dV = P^T dO. */
    #define MKA_BWD(NAME, REAL, GEMM, TRANS)                                                \\
    MKA_CLONES static void NAME(const REAL* dout, const REAL* q, const REAL* k,             \\
                     const REAL* v, const REAL* o, const REAL* p, REAL scale,               \\
                     int T, int D, REAL* dq, REAL* dk, REAL* dv, REAL* ds, REAL* work) {    \\
        TRANS(T, D, v, (REAL)1, work);                                                      \\
        GEMM(T, T, D, dout, D, 1, work, T, ds, T, 0);                                       \\
        for (int i = 0; i < T; i++) {                                                       \\
            const REAL* doi = dout + (long long)i * D;                                      \\
            const REAL* oi = o + (long long)i * D;                                          \\
            const REAL* pi = p + (long long)i * T;                                          \\
            REAL* dsi = ds + (long long)i * T;                                              \\
            REAL delta = 0;                                                                 \\
            _Pragma("omp simd reduction(+:delta)")                                          \\
            for (int d = 0; d < D; d++) delta += doi[d] * oi[d];                            \\
            _Pragma("omp simd")                                                             \\
            for (int j = 0; j < T; j++) dsi[j] = pi[j] * (dsi[j] - delta) * scale;          \\
        }                                                                                   \\
        GEMM(T, D, T, ds, T, 1, k, D, dq, D, 0);                                            \\
        GEMM(T, D, T, ds, 1, T, q, D, dk, D, 0);                                            \\
        GEMM(T, D, T, p, 1, T, dout, D, dv, D, 0);                                          \\
    }

    MKA_GEMM(mka_gemm_f, float, mka_vf, 8)
    MKA_GEMM(mka_gemm_d, double, mka_vd, 4)
    MKA_TRANSPOSE(mka_tr_f, float)
    MKA_TRANSPOSE(mka_tr_d, double)
    MKA_SOFTMAX(mka_smx_d, double, exp)
    MKA_FWD(mka_fwd_f, float, mka_smx_f, mka_gemm_f, mka_tr_f)
    MKA_FWD(mka_fwd_d, double, mka_smx_d, mka_gemm_d, mka_tr_d)
    MKA_BWD(mka_bwd_f, float, mka_gemm_f, mka_tr_f)
    MKA_BWD(mka_bwd_d, double, mka_gemm_d, mka_tr_d)
    """
    void mka_fwd_f(const float* q, const float* k, const float* v, const unsigned char* kv,
                   int causal, float scale, int T, int D, float* o, float* p,
                   float* work) noexcept nogil
    void mka_fwd_d(const double* q, const double* k, const double* v, const unsigned char* kv,
                   int causal, double scale, int T, int D, double* o, double* p,
                   double* work) noexcept nogil
    void mka_bwd_f(const float* dout, const float* q, const float* k, const float* v,
                   const float* o, const float* p, float scale, int T, int D,
                   float* dq, float* dk, float* dv, float* ds, float* work) noexcept nogil
    void mka_bwd_d(const double* dout, const double* q, const double* k, const double* v,
                   const double* o, const double* p, double scale, int T, int D,
                   double* dq, double* dk, double* dv, double* ds, double* work) noexcept nogil


# Below this many multiply-adds a call runs on one thread: starting and joining a parallel
# region costs more than it saves (and much more on a loaded machine).
cdef enum:
    PARALLEL_MIN_WORK = 1048576


def attention_forward(const floating[:, :, :, ::1] q, const floating[:, :, :, ::1] k,
                      const floating[:, :, :, ::1] v, const unsigned char[:, ::1] key_valid,
                      bint causal, double scale, floating[:, :, :, ::1] out,
                      floating[:, :, :, ::1] probs):
    """Cython twin of ``maaskit._kernels.reference.attention.attention_forward``."""
    cdef int B = q.shape[0], H = q.shape[1], T = q.shape[2], D = q.shape[3]
    cdef int bh, b, h
    cdef bint par = B * H > 1 and <double>B * H * T * T * D >= PARALLEL_MIN_WORK
    cdef floating* work
    if B * H == 0 or T == 0:
        return
    work = NULL
    with nogil, parallel(use_threads_if=par):
        # per thread: K^T scaled (T * D) and the key mask as floats (T)
        work = <floating*> malloc(sizeof(floating) * (<size_t> T * D + T))
        for bh in prange(B * H, schedule="static"):
            b = bh // H
            h = bh % H
            if floating is float:
                mka_fwd_f(&q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0], &key_valid[b, 0],
                          causal, <float>scale, T, D, &out[b, h, 0, 0], &probs[b, h, 0, 0],
                          work)
            else:
                mka_fwd_d(&q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0], &key_valid[b, 0],
                          causal, scale, T, D, &out[b, h, 0, 0], &probs[b, h, 0, 0], work)
        free(work)


def attention_backward(const floating[:, :, :, ::1] dout, const floating[:, :, :, ::1] q,
                       const floating[:, :, :, ::1] k, const floating[:, :, :, ::1] v,
                       const floating[:, :, :, ::1] out, const floating[:, :, :, ::1] probs,
                       double scale, floating[:, :, :, ::1] dq, floating[:, :, :, ::1] dk,
                       floating[:, :, :, ::1] dv):
    """Cython twin of ``maaskit._kernels.reference.attention.attention_backward``."""
    cdef int B = q.shape[0], H = q.shape[1], T = q.shape[2], D = q.shape[3]
    cdef int bh, b, h
    cdef bint par = B * H > 1 and <double>B * H * T * T * D >= PARALLEL_MIN_WORK
    cdef floating* work
    if B * H == 0 or T == 0:
        return
    work = NULL
    with nogil, parallel(use_threads_if=par):
        # per thread: V^T (T * D), then dP / dS (T * T)
        work = <floating*> malloc(sizeof(floating) * (<size_t> T * D + <size_t> T * T))
        for bh in prange(B * H, schedule="static"):
            b = bh // H
            h = bh % H
            if floating is float:
                mka_bwd_f(&dout[b, h, 0, 0], &q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0],
                          &out[b, h, 0, 0], &probs[b, h, 0, 0], <float>scale, T, D,
                          &dq[b, h, 0, 0], &dk[b, h, 0, 0], &dv[b, h, 0, 0],
                          work + <size_t> T * D, work)
            else:
                mka_bwd_d(&dout[b, h, 0, 0], &q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0],
                          &out[b, h, 0, 0], &probs[b, h, 0, 0], scale, T, D,
                          &dq[b, h, 0, 0], &dk[b, h, 0, 0], &dv[b, h, 0, 0],
                          work + <size_t> T * D, work)
        free(work)
