# cython: language_level=3
"""Cython ``xent`` kernel: softmax cross-entropy of logit rows, gradient written in place.

Same contract as ``maaskit._kernels.reference.xent``. Rows run in an OpenMP ``prange`` with
the GIL released when the call is large. float32 uses the Cephes ``expf`` polynomial (~1 ulp,
plain arithmetic that GCC vectorises; the function is compiled for AVX2+FMA and baseline and
picked at load time), float64 libm's ``exp``. Sums are accumulated in double.

Index safety: ``y`` comes from data and is not checked here; the caller guarantees
``0 <= y[i] < k``.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log

cdef extern from *:
    """
    #include <math.h>
    #include <string.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define MKX_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
    #else
    #define MKX_CLONES
    #endif

    static inline float mkx_expf(float x) {
        /* Cephes expf for x <= 0, clamped to [-87.3, 0] (x is max-subtracted). */
        x = x < -87.3f ? -87.3f : (x > 0.0f ? 0.0f : x);
        float n = floorf(x * 1.44269504088896341f + 0.5f);
        float r = x - n * 0.693359375f + n * 2.12194440e-4f;
        float y = 1.9875691500e-4f;
        y = y * r + 1.3981999507e-3f;
        y = y * r + 8.3334519073e-3f;
        y = y * r + 4.1665795894e-2f;
        y = y * r + 1.6666665459e-1f;
        y = y * r + 5.0000001201e-1f;
        y = y * r * r + r + 1.0f;
        int bits = ((int)n + 127) << 23;
        float p;
        memcpy(&p, &bits, sizeof p);
        return y * p;
    }

    /* One row: z <- scale * (softmax(z) - onehot(yi)); returns the row's cross-entropy. */
    MKX_CLONES static double mkx_row_f(float* z, long long k, long long yi, float scale) {
        float mx = z[0];
        for (long long j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        float zy = z[yi] - mx;
        float s = 0.0f;
        for (long long j = 0; j < k; j++) { float e = mkx_expf(z[j] - mx); z[j] = e; s += e; }
        float inv = scale / s;
        for (long long j = 0; j < k; j++) z[j] *= inv;
        z[yi] -= scale;
        return log((double)s) - (double)zy;
    }

    static double mkx_row_d(double* z, long long k, long long yi, double scale) {
        double mx = z[0];
        for (long long j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        double zy = z[yi] - mx;
        double s = 0.0;
        for (long long j = 0; j < k; j++) { double e = exp(z[j] - mx); z[j] = e; s += e; }
        double inv = scale / s;
        for (long long j = 0; j < k; j++) z[j] *= inv;
        z[yi] -= scale;
        return log(s) - zy;
    }
    """
    double mkx_row_f(float* z, long long k, long long yi, float scale) nogil
    double mkx_row_d(double* z, long long k, long long yi, double scale) nogil

cdef enum:
    PARALLEL_MIN_SIZE = 65536


def softmax_xent(floating[:, ::1] logits, const long long[::1] y, double scale):
    """Cython twin of ``maaskit._kernels.reference.xent.softmax_xent``."""
    cdef Py_ssize_t n = logits.shape[0], k = logits.shape[1], i
    cdef double total = 0.0
    cdef bint par = n * k >= PARALLEL_MIN_SIZE
    if n == 0:
        return 0.0
    for i in prange(n, nogil=True, schedule="static", use_threads_if=par):
        if floating is float:
            total += mkx_row_f(&logits[i, 0], k, y[i], <float>scale)
        else:
            total += mkx_row_d(&logits[i, 0], k, y[i], scale)
    return total
