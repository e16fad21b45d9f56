# cython: language_level=3
"""Cython ``als`` kernel: per-row conjugate gradient (or Cholesky) for weighted ALS.

Same contract as ``maaskit._kernels.reference.als``. Rows are solved in parallel with
OpenMP (guided schedule: row lengths are skewed) and the GIL released. The small
length-``k`` loops are plain C with ``omp simd`` reductions, so the compiler vectorises
them without BLAS call overhead (implicit calls BLAS ``dot``/``axpy`` per item).

Index safety: The interaction CSR's indices come from data and are not checked here. They are
reachable only through validated state: the estimator builds the CSR from its id index (codes
in ``[0, n_users)``/``[0, n_items)``), and loaded factor matrices are checked to have
``n_users``/``n_items`` rows (``maaskit._schema``).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt
from libc.stdlib cimport malloc, free

cdef extern from *:
    """
    /* float32 fast path: compiled twice (AVX2+FMA and baseline) and picked at load time
       by the dynamic loader, so no -march=native is needed. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define MK_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
    #else
    #define MK_CLONES
    #endif
    static inline float mk_dot_f(const float* a, const float* b, int k) {
        float s = 0.0f;
        #pragma omp simd reduction(+:s)
        for (int f = 0; f < k; f++) s += a[f] * b[f];
        return s;
    }
    static inline double mk_dot_d(const double* a, const double* b, int k) {
        double s = 0.0;
        #pragma omp simd reduction(+:s)
        for (int f = 0; f < k; f++) s += a[f] * b[f];
        return s;
    }
    static inline void mk_axpy_f(int k, float a, const float* x, float* y) {
        #pragma omp simd
        for (int f = 0; f < k; f++) y[f] += a * x[f];
    }
    static inline void mk_axpy_d(int k, double a, const double* x, double* y) {
        #pragma omp simd
        for (int f = 0; f < k; f++) y[f] += a * x[f];
    }
    /* One row of conjugate gradient, float32 (the double path is the Cython _cg_row). */
    MK_CLONES static void mk_cg_row_f(float* x, const float* Y, const float* YtY, int k,
                                      const int* idx, const float* val, long long n, float cw,
                                      int cg_steps, float* r, float* p, float* Ap) {
        for (int a = 0; a < k; a++) r[a] = -mk_dot_f(YtY + (long long)a * k, x, k);
        for (long long t = 0; t < n; t++) {
            const float* y = Y + (long long)idx[t] * k;
            float v = val[t], cm1 = cw * v;
            float temp = (v > 0 ? cm1 + 1.0f : 0.0f) - cm1 * mk_dot_f(y, x, k);
            mk_axpy_f(k, temp, y, r);
        }
        for (int f = 0; f < k; f++) p[f] = r[f];
        float rsold = mk_dot_f(r, r, k);
        if (rsold < 1e-20f) return;
        for (int it = 0; it < cg_steps; it++) {
            for (int a = 0; a < k; a++) Ap[a] = mk_dot_f(YtY + (long long)a * k, p, k);
            for (long long t = 0; t < n; t++) {
                float cm1 = cw * val[t];
                if (cm1 != 0.0f) {
                    const float* y = Y + (long long)idx[t] * k;
                    mk_axpy_f(k, cm1 * mk_dot_f(y, p, k), y, Ap);
                }
            }
            float alpha = rsold / mk_dot_f(p, Ap, k);
            mk_axpy_f(k, alpha, p, x);
            mk_axpy_f(k, -alpha, Ap, r);
            float rsnew = mk_dot_f(r, r, k);
            if (rsnew < 1e-20f) break;
            float beta = rsnew / rsold;
            #pragma omp simd
            for (int f = 0; f < k; f++) p[f] = r[f] + beta * p[f];
            rsold = rsnew;
        }
    }
    """
    float mk_dot_f(const float* a, const float* b, int k) noexcept nogil
    double mk_dot_d(const double* a, const double* b, int k) noexcept nogil
    void mk_axpy_f(int k, float a, const float* x, float* y) noexcept nogil
    void mk_axpy_d(int k, double a, const double* x, double* y) noexcept nogil
    void mk_cg_row_f(float* x, const float* Y, const float* YtY, int k, const int* idx,
                     const float* val, long long n, float cw, int cg_steps, float* r,
                     float* p, float* Ap) noexcept nogil


cdef inline floating _dot(const floating* a, const floating* b, int k) noexcept nogil:
    if floating is float:
        return mk_dot_f(a, b, k)
    else:
        return mk_dot_d(a, b, k)


cdef inline void _axpy(int k, floating a, const floating* x, floating* y) noexcept nogil:
    if floating is float:
        mk_axpy_f(k, a, x, y)
    else:
        mk_axpy_d(k, a, x, y)


cdef void _cg_row(floating* x, const floating* Y, const floating* YtY, int k,
                  const int* idx, const float* val, long long n, floating cw, int cg_steps,
                  floating* r, floating* p, floating* Ap) noexcept nogil:
    cdef long long t
    cdef int a, f, it
    cdef floating v, cm1, temp, rsold, rsnew, alpha, beta
    cdef const floating* y
    for a in range(k):
        r[a] = -_dot(&YtY[a * k], x, k)
    for t in range(n):
        y = &Y[<long long> idx[t] * k]
        v = val[t]
        cm1 = cw * v
        temp = (cm1 + 1 if v > 0 else 0) - cm1 * _dot(y, x, k)
        _axpy(k, temp, y, r)
    for f in range(k):
        p[f] = r[f]
    rsold = _dot(r, r, k)
    if rsold < 1e-20:
        return
    for it in range(cg_steps):
        for a in range(k):
            Ap[a] = _dot(&YtY[a * k], p, k)
        for t in range(n):
            cm1 = cw * val[t]
            if cm1 != 0:
                y = &Y[<long long> idx[t] * k]
                _axpy(k, cm1 * _dot(y, p, k), y, Ap)
        alpha = rsold / _dot(p, Ap, k)
        _axpy(k, alpha, p, x)
        _axpy(k, -alpha, Ap, r)
        rsnew = _dot(r, r, k)
        if rsnew < 1e-20:
            break
        beta = rsnew / rsold
        for f in range(k):
            p[f] = r[f] + beta * p[f]
        rsold = rsnew


def least_squares_cg(const long long[::1] indptr, const int[::1] indices, const float[::1] data,
                     floating[:, ::1] X, const floating[:, ::1] Y, const floating[:, ::1] YtY,
                     double confidence_weight, int cg_steps, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.als.least_squares_cg``."""
    cdef Py_ssize_t n_rows = X.shape[0], u
    cdef int k = <int> X.shape[1], f
    cdef floating cw = <floating> confidence_weight
    cdef floating* buf
    if n_rows == 0:
        return
    with nogil, parallel(num_threads=max(1, n_threads)):
        buf = <floating*> malloc(3 * k * sizeof(floating))
        for u in prange(n_rows, schedule="guided"):
            if indptr[u] == indptr[u + 1]:
                for f in range(k):
                    X[u, f] = 0
                continue
            if floating is float:
                mk_cg_row_f(&X[u, 0], &Y[0, 0], &YtY[0, 0], k, &indices[indptr[u]], &data[indptr[u]],
                            indptr[u + 1] - indptr[u], cw, cg_steps, buf, buf + k, buf + 2 * k)
            else:
                _cg_row(&X[u, 0], &Y[0, 0], &YtY[0, 0], k, &indices[indptr[u]], &data[indptr[u]],
                        indptr[u + 1] - indptr[u], cw, cg_steps, buf, buf + k, buf + 2 * k)
        free(buf)


cdef void _chol_row(floating* x, const floating* Y, const floating* YtY, int k,
                    const int* idx, const float* val, long long n, double cw,
                    double* A, double* b) noexcept nogil:
    cdef long long t
    cdef int i, j, m
    cdef double v, cm1, c, ya, s, d
    cdef const floating* y
    for i in range(k):
        b[i] = 0
        for j in range(k):
            A[i * k + j] = YtY[i * k + j]
    for t in range(n):
        y = &Y[<long long> idx[t] * k]
        v = val[t]
        cm1 = cw * v
        c = cm1 + 1 if v > 0 else 0
        for i in range(k):
            b[i] += c * y[i]
            ya = cm1 * y[i]
            for j in range(i + 1):
                A[i * k + j] += ya * y[j]
    for j in range(k):
        s = A[j * k + j]
        for m in range(j):
            s -= A[j * k + m] * A[j * k + m]
        d = sqrt(s) if s > 0 else 1e-30
        A[j * k + j] = d
        for i in range(j + 1, k):
            s = A[i * k + j]
            for m in range(j):
                s -= A[i * k + m] * A[j * k + m]
            A[i * k + j] = s / d
    for i in range(k):
        s = b[i]
        for m in range(i):
            s -= A[i * k + m] * b[m]
        b[i] = s / A[i * k + i]
    for i in range(k - 1, -1, -1):
        s = b[i]
        for m in range(i + 1, k):
            s -= A[m * k + i] * b[m]
        b[i] = s / A[i * k + i]
    for i in range(k):
        x[i] = <floating> b[i]


def least_squares(const long long[::1] indptr, const int[::1] indices, const float[::1] data,
                  floating[:, ::1] X, const floating[:, ::1] Y, const floating[:, ::1] YtY,
                  double confidence_weight, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.als.least_squares``."""
    cdef Py_ssize_t n_rows = X.shape[0], u
    cdef int k = <int> X.shape[1], f
    cdef double* buf
    if n_rows == 0:
        return
    with nogil, parallel(num_threads=max(1, n_threads)):
        buf = <double*> malloc((k * k + k) * sizeof(double))
        for u in prange(n_rows, schedule="guided"):
            if indptr[u] == indptr[u + 1]:
                for f in range(k):
                    X[u, f] = 0
                continue
            _chol_row(&X[u, 0], &Y[0, 0], &YtY[0, 0], k, &indices[indptr[u]], &data[indptr[u]],
                      indptr[u + 1] - indptr[u], confidence_weight, buf, buf + k * k)
        free(buf)
