# cython: language_level=3
"""Cython ``attention`` kernel: fused multi-head self-attention forward and backward.

Same contract as ``maaskit._kernels.reference.attention``. One call covers all batch rows and
heads: an OpenMP ``prange`` over ``B * H`` with the GIL released, so a serving-size call has
no per-head Python cost. The per-head work is plain C (below) with ``omp simd`` reductions on
the head-dim loops; float32 is compiled twice (AVX2+FMA and baseline) and picked at load time,
so no ``-march=native`` is needed. Masked keys are skipped rather than set to ``-inf``, and a
query with no visible key gets zero weights and a zero output.
"""

from cython cimport floating
from cython.parallel cimport prange

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

    /* C (M x N, row stride ldc) = A (M x K) . B (K x N), all row-major. A 4 x (2 vectors)
       register block of C is accumulated over K, so each B load feeds four FMAs and each A
       value is broadcast once per block: the head-sized products (64..512 rows, 32..64
       columns) run near the FMA peak without a BLAS call per head. GCC/Clang vector
       extensions keep the 8 accumulators in registers (plain arrays were spilled). */
    #if defined(__GNUC__)
    typedef float mka_vf __attribute__((vector_size(32), aligned(4)));
    typedef double mka_vd __attribute__((vector_size(32), aligned(8)));
    #define MKA_BLOCK(REAL, VEC, W)                                                         \\
            for (; j + 2 * W <= N; j += 2 * W) {                                            \\
                VEC c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};                             \\
                VEC c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};                             \\
                for (int kk = 0; kk < K; kk++) {                                            \\
                    const REAL* b = B + (long long)kk * ldb + j;                            \\
                    const VEC b0 = *(const VEC*)b, b1 = *(const VEC*)(b + W);               \\
                    const REAL x0 = a0[kk], x1 = a1[kk], x2 = a2[kk], x3 = a3[kk];          \\
                    c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1;         \\
                    c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1;         \\
                }                                                                           \\
                REAL* o0 = C + (long long)i * ldc + j;                                      \\
                *(VEC*)o0 = c00; *(VEC*)(o0 + W) = c01;                                     \\
                *(VEC*)(o0 + ldc) = c10; *(VEC*)(o0 + ldc + W) = c11;                       \\
                *(VEC*)(o0 + 2 * ldc) = c20; *(VEC*)(o0 + 2 * ldc + W) = c21;               \\
                *(VEC*)(o0 + 3 * ldc) = c30; *(VEC*)(o0 + 3 * ldc + W) = c31;               \\
            }
    #else
    #define MKA_BLOCK(REAL, VEC, W)
    #endif

    #define MKA_GEMM(NAME, REAL, VEC, W)                                                    \\
    MKA_CLONES static void NAME(int M, int N, int K, const REAL* A, int lda,                \\
                                const REAL* B, int ldb, REAL* C, int ldc) {                 \\
        int i = 0;                                                                          \\
        for (; i + 4 <= M; i += 4) {                                                        \\
            const REAL* a0 = A + (long long)i * lda;                                        \\
            const REAL* a1 = a0 + lda;                                                      \\
            const REAL* a2 = a1 + lda;                                                      \\
            const REAL* a3 = a2 + lda;                                                      \\
            int j = 0;                                                                      \\
            MKA_BLOCK(REAL, VEC, W)                                                         \\
            for (; j < N; j++) {                                                            \\
                REAL s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                        \\
                for (int kk = 0; kk < K; kk++) {                                            \\
                    const REAL b = B[(long long)kk * ldb + j];                              \\
                    s0 += a0[kk] * b; s1 += a1[kk] * b; s2 += a2[kk] * b; s3 += a3[kk] * b; \\
                }                                                                           \\
                REAL* o0 = C + (long long)i * ldc + j;                                      \\
                o0[0] = s0; o0[ldc] = s1; o0[2 * ldc] = s2; o0[3 * ldc] = s3;               \\
            }                                                                               \\
        }                                                                                   \\
        for (; i < M; i++) {                                                                \\
            REAL* ci = C + (long long)i * ldc;                                              \\
            for (int j = 0; j < N; j++) ci[j] = 0;                                          \\
            for (int kk = 0; kk < K; kk++) {                                                \\
                const REAL x = A[(long long)i * lda + kk];                                  \\
                const REAL* b = B + (long long)kk * ldb;                                    \\
                _Pragma("omp simd")                                                         \\
                for (int j = 0; j < N; j++) ci[j] += x * b[j];                              \\
            }                                                                               \\
        }                                                                                   \\
    }

    /* exp for float32 softmax weights (Cephes expf: Cody-Waite range reduction, degree-5
       polynomial, 2^n by exponent bits; ~1 ulp). Unlike libm's expf it vectorises, and the
       softmax evaluates T*T of them per head. Inputs are <= 0 (max-subtracted); below
       -87.3 the result is clamped near FLT_MIN instead of underflowing. */
    static inline float mka_expf(float x) {
        x = x < -87.3f ? -87.3f : x;
        float n = floorf(x * 1.44269504088896341f + 0.5f);
        float r = x - n * 0.693359375f + n * 2.12194440e-4f;
        float y = 1.9875691500E-4f;
        y = y * r + 1.3981999507E-3f;
        y = y * r + 8.3334519073E-3f;
        y = y * r + 4.1665795894E-2f;
        y = y * r + 1.6666665459E-1f;
        y = y * r + 5.0000001201E-1f;
        y = y * r * r + r + 1.0f;
        union { int i; float f; } u;
        u.i = ((int)n + 127) << 23;
        return y * u.f;
    }

    #define MKA_TRANSPOSE(NAME, REAL)                                                       \\
    static inline void NAME(int R, int C, const REAL* a, REAL* at) {                        \\
        for (int r = 0; r < R; r++)                                                         \\
            for (int c = 0; c < C; c++) at[(long long)c * R + r] = a[(long long)r * C + c]; \\
    }

    /* One head, forward. q,k,v,o: (T, D); p: (T, T); kv: (T,) key validity.
       S = Q K^T (GEMM), masked max-subtracted softmax per row in place, O = P V (GEMM). */
    #define MKA_FWD(NAME, REAL, EXP, GEMM, TRANS)                                           \\
    MKA_CLONES static void NAME(const REAL* q, const REAL* k, const REAL* v,                           \\
                     const unsigned char* kv, int causal, REAL scale,                       \\
                     int T, int D, REAL* o, REAL* p) {                                      \\
        REAL* kt = (REAL*)malloc(sizeof(REAL) * (size_t)T * D);                             \\
        TRANS(T, D, k, kt);                                                                 \\
        GEMM(T, T, D, q, D, kt, T, p, T);                                                   \\
        free(kt);                                                                           \\
        for (int i = 0; i < T; i++) {                                                       \\
            REAL* pi = p + (long long)i * T;                                                \\
            int jmax = causal ? i + 1 : T;                                                  \\
            REAL m = -INFINITY;                                                             \\
            for (int j = 0; j < jmax; j++) {                                                \\
                if (kv[j]) { REAL s = pi[j] * scale; pi[j] = s; if (s > m) m = s; }         \\
            }                                                                               \\
            if (m == -INFINITY) { for (int j = 0; j < T; j++) pi[j] = 0; continue; }        \\
            REAL tot = 0;                                                                   \\
            _Pragma("omp simd reduction(+:tot)")                                            \\
            for (int j = 0; j < jmax; j++) {                                                \\
                REAL e = kv[j] ? EXP(pi[j] - m) : (REAL)0;                                  \\
                pi[j] = e;                                                                  \\
                tot += e;                                                                   \\
            }                                                                               \\
            for (int j = jmax; j < T; j++) pi[j] = 0;                                       \\
            REAL inv = (REAL)1 / tot;                                                       \\
            _Pragma("omp simd")                                                             \\
            for (int j = 0; j < jmax; j++) pi[j] *= inv;                                    \\
        }                                                                                   \\
        GEMM(T, D, T, p, T, v, D, o, D);                                                    \\
    }

    /* One head, backward. Overwrites dq, dk, dv (T, D):
       dP = dO V^T, dS = P * (dP - rowsum(dO * O)) * scale, dQ = dS K, dK = dS^T Q, dV = P^T dO. */
    #define MKA_BWD(NAME, REAL, GEMM, TRANS)                                                \\
    MKA_CLONES static void NAME(const REAL* dout, const REAL* q, const REAL* k,                        \\
                     const REAL* v, const REAL* o, const REAL* p, REAL scale,               \\
                     int T, int D, REAL* dq, REAL* dk, REAL* dv) {                          \\
        size_t td = (size_t)T * D, tt = (size_t)T * T;                                      \\
        REAL* vt = (REAL*)malloc(sizeof(REAL) * (td + 2 * tt));                             \\
        REAL* ds = vt + td;                                                                 \\
        REAL* tr = ds + tt;                                                                 \\
        TRANS(T, D, v, vt);                                                                 \\
        GEMM(T, T, D, dout, D, vt, T, ds, T);                                               \\
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
        GEMM(T, D, T, ds, T, k, D, dq, D);                                                  \\
        TRANS(T, T, ds, tr);                                                                \\
        GEMM(T, D, T, tr, T, q, D, dk, D);                                                  \\
        TRANS(T, T, p, tr);                                                                 \\
        GEMM(T, D, T, tr, T, dout, D, dv, D);                                               \\
        free(vt);                                                                           \\
    }

    MKA_GEMM(mka_gemm_f, float, mka_vf, 8)
    MKA_GEMM(mka_gemm_d, double, mka_vd, 4)
    MKA_TRANSPOSE(mka_tr_f, float)
    MKA_TRANSPOSE(mka_tr_d, double)
    MKA_FWD(mka_fwd_f, float, mka_expf, mka_gemm_f, mka_tr_f)
    MKA_FWD(mka_fwd_d, double, exp, mka_gemm_d, mka_tr_d)
    MKA_BWD(mka_bwd_f, float, mka_gemm_f, mka_tr_f)
    MKA_BWD(mka_bwd_d, double, mka_gemm_d, mka_tr_d)
    """
    void mka_fwd_f(const float* q, const float* k, const float* v, const unsigned char* kv,
                   int causal, float scale, int T, int D, float* o, float* p) noexcept nogil
    void mka_fwd_d(const double* q, const double* k, const double* v, const unsigned char* kv,
                   int causal, double scale, int T, int D, double* o, double* p) noexcept nogil
    void mka_bwd_f(const float* dout, const float* q, const float* k, const float* v,
                   const float* o, const float* p, float scale, int T, int D,
                   float* dq, float* dk, float* dv) noexcept nogil
    void mka_bwd_d(const double* dout, const double* q, const double* k, const double* v,
                   const double* o, const double* p, double scale, int T, int D,
                   double* dq, double* dk, double* dv) noexcept nogil


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
    if B * H == 0 or T == 0:
        return
    for bh in prange(B * H, nogil=True, schedule="static", use_threads_if=par):
        b = bh // H
        h = bh % H
        if floating is float:
            mka_fwd_f(&q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0], &key_valid[b, 0],
                      causal, <float>scale, T, D, &out[b, h, 0, 0], &probs[b, h, 0, 0])
        else:
            mka_fwd_d(&q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0], &key_valid[b, 0],
                      causal, scale, T, D, &out[b, h, 0, 0], &probs[b, h, 0, 0])


def attention_backward(const floating[:, :, :, ::1] dout, const floating[:, :, :, ::1] q,
                       const floating[:, :, :, ::1] k, const floating[:, :, :, ::1] v,
                       const floating[:, :, :, ::1] out, const floating[:, :, :, ::1] probs,
                       double scale, floating[:, :, :, ::1] dq, floating[:, :, :, ::1] dk,
                       floating[:, :, :, ::1] dv):
    """Cython twin of ``maaskit._kernels.reference.attention.attention_backward``."""
    cdef int B = q.shape[0], H = q.shape[1], T = q.shape[2], D = q.shape[3]
    cdef int bh, b, h
    cdef bint par = B * H > 1 and <double>B * H * T * T * D >= PARALLEL_MIN_WORK
    if B * H == 0 or T == 0:
        return
    for bh in prange(B * H, nogil=True, schedule="static", use_threads_if=par):
        b = bh // H
        h = bh % H
        if floating is float:
            mka_bwd_f(&dout[b, h, 0, 0], &q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0],
                      &out[b, h, 0, 0], &probs[b, h, 0, 0], <float>scale, T, D,
                      &dq[b, h, 0, 0], &dk[b, h, 0, 0], &dv[b, h, 0, 0])
        else:
            mka_bwd_d(&dout[b, h, 0, 0], &q[b, h, 0, 0], &k[b, h, 0, 0], &v[b, h, 0, 0],
                      &out[b, h, 0, 0], &probs[b, h, 0, 0], scale, T, D,
                      &dq[b, h, 0, 0], &dk[b, h, 0, 0], &dv[b, h, 0, 0])
