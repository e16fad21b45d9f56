# cython: language_level=3
"""Cython ``word2vec`` kernel: skip-gram and CBOW with negative sampling.

Same contract as ``maaskit._kernels.reference.word2vec`` (same 48-bit generator, so the same
draws). As in gensim's ``word2vec_inner.pyx``, the length-``dim`` loops are BLAS level-1
calls (``sdot``/``saxpy``, or ``ddot``/``daxpy`` for float64) taken from
``scipy.linalg.cython_blas``, and the whole batch runs with the GIL released so that the
estimator's worker threads train different sentence chunks at the same time (Hogwild).

Index safety: Word indices come from data and are not checked here. They are reachable only
through validated state: the estimator maps words through its vocabulary lookup (unknown words
are dropped), negatives are drawn from its own table over ``[0, n_words)``, and loaded
``vectors``/``syn1neg_`` are checked to have one row per vocabulary word (``maaskit._schema``).
"""

from cython cimport floating
from libc.math cimport exp, log1p
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sdot, ddot, saxpy, daxpy, sscal, dscal

cdef uint64_t MASK48 = (1ULL << 48) - 1
cdef int ONE = 1


cdef inline uint64_t _next(uint64_t r) noexcept nogil:
    return (r * 25214903917ULL + 11ULL) & MASK48


cdef inline int64_t _draw(uint64_t r, const int64_t* cum, int64_t n) noexcept nogil:
    # First index whose cumulative count exceeds the draw (searchsorted side="right").
    cdef int64_t x = <int64_t>((r >> 16) % <uint64_t>cum[n - 1])
    cdef int64_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline floating _dot(int n, floating* a, floating* b) noexcept nogil:
    if floating is float:
        return sdot(&n, a, &ONE, b, &ONE)
    else:
        return ddot(&n, a, &ONE, b, &ONE)


cdef inline void _axpy(int n, floating a, floating* x, floating* y) noexcept nogil:
    if floating is float:
        saxpy(&n, &a, x, &ONE, y, &ONE)
    else:
        daxpy(&n, &a, x, &ONE, y, &ONE)


cdef inline void _scal(int n, floating a, floating* x) noexcept nogil:
    if floating is float:
        sscal(&n, &a, x, &ONE)
    else:
        dscal(&n, &a, x, &ONE)


cdef inline double _neg_step(floating* l1, floating* row, int label, double alpha,
                             floating* neu1e, int dim, bint compute_loss) noexcept nogil:
    # One positive/negative example: returns its loss; accumulates the input-side error
    # (with the output row before its update), then updates the output row.
    cdef double f = _dot(dim, l1, row)
    cdef double sig, lo = 0.0
    if f > -30.0:
        sig = 1.0 / (1.0 + exp(-f))
    else:
        sig = 0.0
    if compute_loss:
        if label:
            lo = -log1p(exp(-f)) if f > -30.0 else f
        else:
            lo = -log1p(exp(f)) if -f > -30.0 else -f
        lo = -lo
    cdef floating g = <floating>((label - sig) * alpha)
    _axpy(dim, g, row, neu1e)
    _axpy(dim, g, l1, row)
    return lo


cdef (double, int64_t) _sg(const int32_t[::1] words, const int64_t[::1] sent_starts,
                           const double[::1] alphas, floating[:, ::1] syn0,
                           floating[:, ::1] syn1neg, const int64_t[::1] cum_table,
                           int window, int negative, uint64_t seed,
                           bint compute_loss) noexcept nogil:
    cdef int dim = syn0.shape[1]
    cdef int64_t n_cum = cum_table.shape[0]
    cdef uint64_t r = seed & MASK48
    cdef double loss = 0.0, alpha
    cdef int64_t n_ex = 0, s, i, j, j0, j1, lo, hi, b, target
    cdef int32_t word
    cdef int d
    cdef floating* l1
    cdef floating* neu1e = <floating*>malloc(dim * sizeof(floating))
    for s in range(sent_starts.shape[0] - 1):
        lo = sent_starts[s]
        hi = sent_starts[s + 1]
        alpha = alphas[s]
        for i in range(lo, hi):
            b = <int64_t>(r % <uint64_t>window)
            r = _next(r)
            word = words[i]
            j0 = i - window + b
            if j0 < lo:
                j0 = lo
            j1 = i + window + 1 - b
            if j1 > hi:
                j1 = hi
            for j in range(j0, j1):
                if j == i:
                    continue
                l1 = &syn0[words[j], 0]
                memset(neu1e, 0, dim * sizeof(floating))
                loss += _neg_step(l1, &syn1neg[word, 0], 1, alpha, neu1e, dim, compute_loss)
                for d in range(negative):
                    target = _draw(r, &cum_table[0], n_cum)
                    r = _next(r)
                    if target == word:
                        continue
                    loss += _neg_step(l1, &syn1neg[target, 0], 0, alpha, neu1e, dim,
                                      compute_loss)
                _axpy(dim, <floating>1.0, neu1e, l1)
                n_ex += 1
    free(neu1e)
    return loss, n_ex


cdef (double, int64_t) _cbow(const int32_t[::1] words, const int64_t[::1] sent_starts,
                             const double[::1] alphas, floating[:, ::1] syn0,
                             floating[:, ::1] syn1neg, const int64_t[::1] cum_table,
                             int window, int negative, uint64_t seed,
                             bint compute_loss) noexcept nogil:
    cdef int dim = syn0.shape[1]
    cdef int64_t n_cum = cum_table.shape[0]
    cdef uint64_t r = seed & MASK48
    cdef double loss = 0.0, alpha
    cdef int64_t n_ex = 0, s, i, j, j0, j1, lo, hi, b, target, count
    cdef int32_t word
    cdef int d
    cdef floating* neu1 = <floating*>malloc(dim * sizeof(floating))
    cdef floating* neu1e = <floating*>malloc(dim * sizeof(floating))
    for s in range(sent_starts.shape[0] - 1):
        lo = sent_starts[s]
        hi = sent_starts[s + 1]
        alpha = alphas[s]
        for i in range(lo, hi):
            b = <int64_t>(r % <uint64_t>window)
            r = _next(r)
            word = words[i]
            j0 = i - window + b
            if j0 < lo:
                j0 = lo
            j1 = i + window + 1 - b
            if j1 > hi:
                j1 = hi
            memset(neu1, 0, dim * sizeof(floating))
            memset(neu1e, 0, dim * sizeof(floating))
            count = 0
            for j in range(j0, j1):
                if j == i:
                    continue
                _axpy(dim, <floating>1.0, &syn0[words[j], 0], neu1)
                count += 1
            if count == 0:
                continue
            _scal(dim, <floating>(1.0 / count), neu1)
            loss += _neg_step(neu1, &syn1neg[word, 0], 1, alpha, neu1e, dim, compute_loss)
            for d in range(negative):
                target = _draw(r, &cum_table[0], n_cum)
                r = _next(r)
                if target == word:
                    continue
                loss += _neg_step(neu1, &syn1neg[target, 0], 0, alpha, neu1e, dim, compute_loss)
            for j in range(j0, j1):
                if j == i:
                    continue
                _axpy(dim, <floating>1.0, neu1e, &syn0[words[j], 0])
            n_ex += 1
    free(neu1)
    free(neu1e)
    return loss, n_ex


def train_sg(const int32_t[::1] words, const int64_t[::1] sent_starts, const double[::1] alphas,
             floating[:, ::1] syn0, floating[:, ::1] syn1neg, const int64_t[::1] cum_table,
             int window, int negative, uint64_t seed, bint compute_loss=True):
    """Train skip-gram with negative sampling in place; returns ``(loss, n_examples)``."""
    cdef (double, int64_t) res
    with nogil:
        res = _sg(words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative,
                  seed, compute_loss)
    return res[0], res[1]


def train_cbow(const int32_t[::1] words, const int64_t[::1] sent_starts, const double[::1] alphas,
               floating[:, ::1] syn0, floating[:, ::1] syn1neg, const int64_t[::1] cum_table,
               int window, int negative, uint64_t seed, bint compute_loss=True):
    """Train CBOW (context mean) with negative sampling in place; returns ``(loss, n_examples)``."""
    cdef (double, int64_t) res
    with nogil:
        res = _cbow(words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative,
                    seed, compute_loss)
    return res[0], res[1]
