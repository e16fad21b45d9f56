"""Numba ``topk`` kernel: per-row bounded heap, rows in parallel (see the reference).

Index safety: ``seen_indptr``/``seen_indices`` come from data (the model's seen-items CSR) and
are not checked here: an index past ``n_cols`` would write out of bounds. They are reachable
only through validated state: ``fit``/``partial_fit`` build the CSR from the id index, and
loading checks it (``maaskit._schema.CSR``: indptr from 0, non-decreasing, ending at nnz;
indices in ``[0, n_items)``) before any call.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _worse(sa, ia, sb, ib):
    return sa < sb or (sa == sb and ia > ib)


@nb.njit(cache=True, nogil=True)
def _sift_down(hs, hi, n, pos):
    # Min-heap on the "worse" order: the root is the worst kept element.
    while True:
        left = 2 * pos + 1
        if left >= n:
            return
        child = left
        right = left + 1
        if right < n and _worse(hs[right], hi[right], hs[left], hi[left]):
            child = right
        if _worse(hs[child], hi[child], hs[pos], hi[pos]):
            hs[pos], hs[child] = hs[child], hs[pos]
            hi[pos], hi[child] = hi[child], hi[pos]
            pos = child
        else:
            return


@nb.njit(cache=True, nogil=True)
def _row_topk(row, k, hs, hi, out_i, out_s):
    n = 0
    ninf = -np.inf
    for j in range(row.shape[0]):
        s = row[j]
        if not (s > ninf):  # skips -inf and NaN
            continue
        if n < k:
            # Insert at the end and sift up.
            pos = n
            hs[pos] = s
            hi[pos] = j
            n += 1
            while pos > 0:
                parent = (pos - 1) // 2
                if _worse(hs[pos], hi[pos], hs[parent], hi[parent]):
                    hs[pos], hs[parent] = hs[parent], hs[pos]
                    hi[pos], hi[parent] = hi[parent], hi[pos]
                    pos = parent
                else:
                    break
        elif s > hs[0]:  # equal score never wins: it has a higher index
            hs[0] = s
            hi[0] = j
            _sift_down(hs, hi, n, 0)
    # Pop worst-first into the tail of the output.
    m = n
    while m > 0:
        out_s[m - 1] = hs[0]
        out_i[m - 1] = hi[0]
        m -= 1
        hs[0] = hs[m]
        hi[0] = hi[m]
        _sift_down(hs, hi, m, 0)
    for t in range(n, k):
        out_i[t] = -1
        out_s[t] = ninf


@nb.njit(nogil=True, inline="always")
def _one_row(scores, seen_indptr, seen_indices, k, out_idx, out_scores, r):
    row = scores[r]
    for p in range(seen_indptr[r], seen_indptr[r + 1]):
        row[seen_indices[p]] = -np.inf
    hs = np.empty(k, dtype=scores.dtype)
    hi = np.empty(k, dtype=np.int32)
    _row_topk(row, k, hs, hi, out_idx[r], out_scores[r])


@nb.njit(cache=True, nogil=True, parallel=True)
def _topk_rows(scores, seen_indptr, seen_indices, k, out_idx, out_scores):
    for r in nb.prange(scores.shape[0]):
        _one_row(scores, seen_indptr, seen_indices, k, out_idx, out_scores, r)


@nb.njit(cache=True, nogil=True)
def _topk_rows_serial(scores, seen_indptr, seen_indices, k, out_idx, out_scores):
    for r in range(scores.shape[0]):
        _one_row(scores, seen_indptr, seen_indices, k, out_idx, out_scores, r)


def topk_rows(scores, seen_indptr, seen_indices, k, out_idx, out_scores, n_threads=1):
    """Numba twin of :func:`maaskit._kernels.reference.topk.topk_rows`."""
    if int(n_threads) <= 1:
        # no parallel region at all: safe to call from many Python threads at once under
        # any Numba threading layer (workqueue is not), and no team start-up for one row
        _topk_rows_serial(scores, seen_indptr, seen_indices, int(k), out_idx, out_scores)
        return
    old = nb.get_num_threads()
    nb.set_num_threads(max(1, min(int(n_threads), nb.config.NUMBA_NUM_THREADS)))
    try:
        _topk_rows(scores, seen_indptr, seen_indices, int(k), out_idx, out_scores)
    finally:
        nb.set_num_threads(old)
