# cython: language_level=3
"""Cython ``topk`` kernel: per-row bounded heap, rows in parallel with OpenMP.

Same contract as ``maaskit._kernels.reference.topk.topk_rows``.

Index safety: ``seen_indptr``/``seen_indices`` come from data (the model's seen-items CSR) and
are not checked here: an index past ``n_cols`` would write out of bounds. They are reachable
only through validated state: ``fit``/``partial_fit`` build the CSR from the id index, and
loading checks it (``maaskit._schema.CSR``: indptr from 0, non-decreasing, ending at nnz;
indices in ``[0, n_items)``) before any call.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdlib cimport malloc, free

import numpy as np


cdef inline bint _worse(floating sa, int ia, floating sb, int ib) noexcept nogil:
    return sa < sb or (sa == sb and ia > ib)


cdef inline void _sift_down(floating* hs, int* hi, int n, int pos) noexcept nogil:
    cdef int left, right, child, ti
    cdef floating ts
    while True:
        left = 2 * pos + 1
        if left >= n:
            return
        child = left
        right = left + 1
        if right < n and _worse(hs[right], hi[right], hs[left], hi[left]):
            child = right
        if _worse(hs[child], hi[child], hs[pos], hi[pos]):
            ts = hs[pos]; hs[pos] = hs[child]; hs[child] = ts
            ti = hi[pos]; hi[pos] = hi[child]; hi[child] = ti
            pos = child
        else:
            return


cdef void _row_topk(floating* row, int m, int k, floating* hs, int* hi,
                    int* out_i, floating* out_s) noexcept nogil:
    cdef int n = 0, j, pos, parent, ti, t
    cdef floating s, ts
    for j in range(m):
        s = row[j]
        if not (s > -INFINITY):
            continue
        if n < k:
            pos = n
            hs[pos] = s
            hi[pos] = j
            n += 1
            while pos > 0:
                parent = (pos - 1) // 2
                if _worse(hs[pos], hi[pos], hs[parent], hi[parent]):
                    ts = hs[pos]; hs[pos] = hs[parent]; hs[parent] = ts
                    ti = hi[pos]; hi[pos] = hi[parent]; hi[parent] = ti
                    pos = parent
                else:
                    break
        elif s > hs[0]:
            hs[0] = s
            hi[0] = j
            _sift_down(hs, hi, n, 0)
    t = n
    while t > 0:
        out_s[t - 1] = hs[0]
        out_i[t - 1] = hi[0]
        t -= 1
        hs[0] = hs[t]
        hi[0] = hi[t]
        _sift_down(hs, hi, t, 0)
    for t in range(n, k):
        out_i[t] = -1
        out_s[t] = -INFINITY


def topk_rows(floating[:, ::1] scores, const long long[::1] seen_indptr,
              const int[::1] seen_indices, int k, int[:, ::1] out_idx,
              floating[:, ::1] out_scores, int n_threads=1):
    """Cython twin of ``maaskit._kernels.reference.topk.topk_rows``."""
    cdef Py_ssize_t n_rows = scores.shape[0]
    cdef int m = <int> scores.shape[1]
    cdef Py_ssize_t r
    cdef long long p
    cdef floating* hs
    cdef int* hi
    if n_rows == 0 or k <= 0:
        return
    with nogil:
        for r in prange(n_rows, num_threads=max(1, n_threads), schedule="static"):
            hs = <floating*> malloc(k * sizeof(floating))
            hi = <int*> malloc(k * sizeof(int))
            for p in range(seen_indptr[r], seen_indptr[r + 1]):
                scores[r, seen_indices[p]] = -INFINITY
            _row_topk(&scores[r, 0], m, k, hs, hi, &out_idx[r, 0], &out_scores[r, 0])
            free(hs)
            free(hi)
