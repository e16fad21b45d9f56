# cython: language_level=3
"""Cython ``optim`` kernel: fused in-place SGD and Adam/AdamW updates, GIL released.

Same contract as ``maaskit._kernels.reference.optim``. Buffers of at least ``PARALLEL_MIN``
elements are split over OpenMP threads; smaller ones run serially (thread start-up would
cost more than the memory-bound loop).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, pow

cdef extern from *:
    """
    /* sqrt() must not set errno here, or gcc will not vectorise the Adam loop. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-math-errno")
    #endif
    """

PARALLEL_MIN = 1 << 18
cdef Py_ssize_t _PAR_MIN = 1 << 18


cdef inline void _sgd_range(floating* p, const floating* g, floating* vel, Py_ssize_t lo,
                            Py_ssize_t hi, floating lr, floating mom, floating wd,
                            bint use_mom, bint nesterov) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, vi
    if not use_mom:
        for i in range(lo, hi):
            p[i] = p[i] - lr * (g[i] + wd * p[i])
    elif nesterov:
        for i in range(lo, hi):
            gi = g[i] + wd * p[i]
            vi = mom * vel[i] + gi
            vel[i] = vi
            p[i] = p[i] - lr * (gi + mom * vi)
    else:
        for i in range(lo, hi):
            gi = g[i] + wd * p[i]
            vi = mom * vel[i] + gi
            vel[i] = vi
            p[i] = p[i] - lr * vi


cdef inline void _adam_range(floating* p, const floating* g, floating* m, floating* v,
                             Py_ssize_t lo, Py_ssize_t hi, floating b1, floating b2,
                             floating eps, floating wd, floating decay_mult, bint decoupled,
                             floating step_size, floating bc2_sqrt) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, gi, mi, vi
    cdef floating one = 1
    for i in range(lo, hi):
        if decoupled:
            pi = p[i] * decay_mult
            gi = g[i]
        else:
            pi = p[i]
            gi = g[i] + wd * pi
        mi = b1 * m[i] + (one - b1) * gi
        vi = b2 * v[i] + (one - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = pi - step_size * (mi / (sqrt(vi) / bc2_sqrt + eps))


cdef int _n_chunks(Py_ssize_t n) noexcept nogil:
    # Many more chunks than threads so a descheduled thread delays little; 1 below the threshold.
    if n < _PAR_MIN:
        return 1
    return 64


def sgd_update(floating[::1] param, const floating[::1] grad, floating[::1] velocity,
               double lr, double momentum, double weight_decay, bint nesterov):
    """Cython twin of ``maaskit._kernels.reference.optim.sgd_update``."""
    cdef Py_ssize_t n = param.shape[0]
    cdef int c, nc = _n_chunks(n)
    cdef bint use_mom = momentum != 0
    cdef floating* vel = &velocity[0] if velocity.shape[0] > 0 else NULL
    if n == 0:
        return
    with nogil:
        if nc == 1:
            _sgd_range(&param[0], &grad[0], vel, 0, n, <floating> lr, <floating> momentum,
                       <floating> weight_decay, use_mom, nesterov)
        else:
            for c in prange(nc, schedule="static"):
                _sgd_range(&param[0], &grad[0], vel, n * c // nc, n * (c + 1) // nc,
                           <floating> lr, <floating> momentum, <floating> weight_decay,
                           use_mom, nesterov)


def adam_update(floating[::1] param, const floating[::1] grad, floating[::1] m,
                floating[::1] v, double lr, double beta1, double beta2, double eps,
                double weight_decay, bint decoupled, long step):
    """Cython twin of ``maaskit._kernels.reference.optim.adam_update``."""
    cdef Py_ssize_t n = param.shape[0]
    cdef int c, nc = _n_chunks(n)
    cdef floating step_size = <floating> (lr / (1.0 - pow(beta1, <double> step)))
    cdef floating bc2_sqrt = <floating> sqrt(1.0 - pow(beta2, <double> step))
    cdef floating decay_mult = 1
    if decoupled:
        decay_mult = <floating> 1 - (<floating> lr) * (<floating> weight_decay)
    if n == 0:
        return
    with nogil:
        if nc == 1:
            _adam_range(&param[0], &grad[0], &m[0], &v[0], 0, n, <floating> beta1,
                        <floating> beta2, <floating> eps, <floating> weight_decay, decay_mult,
                        decoupled, step_size, bc2_sqrt)
        else:
            for c in prange(nc, schedule="static"):
                _adam_range(&param[0], &grad[0], &m[0], &v[0], n * c // nc,
                            n * (c + 1) // nc, <floating> beta1, <floating> beta2,
                            <floating> eps, <floating> weight_decay, decay_mult, decoupled,
                            step_size, bc2_sqrt)
