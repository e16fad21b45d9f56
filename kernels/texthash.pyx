# cython: language_level=3
"""Cython ``texthash`` kernel: document features as stable FNV-1a 64-bit hashes (see the reference).

Index safety: ``tok_start``/``tok_end``/``doc_tok`` are built by the caller from Python strings
(``SentimentClassifier._encode``), never taken from a loaded model.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t, int64_t, int8_t

cnp.import_array()

cdef uint64_t _OFFSET = 0xCBF29CE484222325ULL
cdef uint64_t _PRIME = 0x100000001B3ULL


cdef inline uint64_t _fnv(const uint32_t[::1] codes, Py_ssize_t lo, Py_ssize_t hi, uint64_t h) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(lo, hi):
        h = (h ^ <uint64_t>codes[j]) * _PRIME
    return h


def hash_strings(codes, offsets):
    """FNV-1a 64 of each string ``codes[offsets[i]:offsets[i + 1]]``."""
    cdef const uint32_t[::1] c = np.ascontiguousarray(codes, dtype=np.uint32)
    cdef const int64_t[::1] off = np.ascontiguousarray(offsets, dtype=np.int64)
    cdef Py_ssize_t n = off.shape[0] - 1, i
    out_a = np.empty(max(n, 0), dtype=np.uint64)
    cdef uint64_t[::1] out = out_a
    with nogil:
        for i in range(n):
            out[i] = _fnv(c, off[i], off[i + 1], _OFFSET)
    return out_a


def doc_features(codes, tok_start, tok_end, doc_tok, int word_ngrams, int minn, int maxn):
    """Features of every document: ``(indptr, hashes, starts, ends, kinds)``."""
    cdef const uint32_t[::1] c = np.ascontiguousarray(codes, dtype=np.uint32)
    cdef const int64_t[::1] ts = np.ascontiguousarray(tok_start, dtype=np.int64)
    cdef const int64_t[::1] te = np.ascontiguousarray(tok_end, dtype=np.int64)
    cdef const int64_t[::1] dt = np.ascontiguousarray(doc_tok, dtype=np.int64)
    cdef Py_ssize_t n_docs = dt.shape[0] - 1, d, t, t0, t1, i, n, L, s, lo, e, hi, f, cnt
    indptr_a = np.zeros(n_docs + 1, dtype=np.int64)
    cdef int64_t[::1] indptr = indptr_a
    with nogil:
        for d in range(n_docs):
            t0 = dt[d]
            t1 = dt[d + 1]
            cnt = t1 - t0
            for n in range(2, word_ngrams + 1):
                if t1 - t0 - n + 1 > 0:
                    cnt += t1 - t0 - n + 1
            if maxn > 0:
                for t in range(t0, t1):
                    L = te[t] - ts[t]
                    if L >= 2:
                        for n in range(minn, maxn + 1):
                            if L + 3 - n > 0:
                                cnt += L + 3 - n
            indptr[d + 1] = indptr[d] + cnt
    cdef Py_ssize_t nf = indptr[n_docs]
    hashes_a = np.empty(nf, dtype=np.uint64)
    starts_a = np.empty(nf, dtype=np.int64)
    ends_a = np.empty(nf, dtype=np.int64)
    kinds_a = np.empty(nf, dtype=np.int8)
    cdef uint64_t[::1] hashes = hashes_a
    cdef int64_t[::1] starts = starts_a
    cdef int64_t[::1] ends = ends_a
    cdef int8_t[::1] kinds = kinds_a
    cdef uint64_t mark = (_OFFSET ^ 2) * _PRIME  # "\x02"
    cdef uint64_t mark_bow = (mark ^ 60) * _PRIME  # "\x02<"
    cdef uint64_t h
    cdef int8_t k
    with nogil:
        for d in range(n_docs):
            t0 = dt[d]
            t1 = dt[d + 1]
            f = indptr[d]
            for t in range(t0, t1):
                starts[f] = ts[t]
                ends[f] = te[t]
                kinds[f] = 0
                hashes[f] = _fnv(c, ts[t], te[t], _OFFSET)
                f += 1
            for n in range(2, word_ngrams + 1):
                for i in range(t0, t1 - n + 1):
                    starts[f] = ts[i]
                    ends[f] = te[i + n - 1]
                    kinds[f] = 0
                    hashes[f] = _fnv(c, ts[i], te[i + n - 1], _OFFSET)
                    f += 1
            if maxn > 0:
                for t in range(t0, t1):
                    s = ts[t]
                    L = te[t] - s
                    if L < 2:
                        continue
                    for n in range(minn, maxn + 1):
                        for i in range(L + 3 - n):
                            hi = i + n
                            k = 1
                            if i == 0:
                                h = mark_bow
                                lo = s
                                k = k | 2
                            else:
                                h = mark
                                lo = s + i - 1
                            e = s + (hi if hi < L + 1 else L + 1) - 1
                            h = _fnv(c, lo, e, h)
                            if hi == L + 2:
                                h = (h ^ 62) * _PRIME  # ">"
                                k = k | 4
                            starts[f] = lo
                            ends[f] = e
                            kinds[f] = k
                            hashes[f] = h
                            f += 1
    return indptr_a, hashes_a, starts_a, ends_a, kinds_a


def dedup(hashes):
    """Number distinct hashes in order of first occurrence: ``(first, inv)`` (open addressing)."""
    cdef const uint64_t[::1] hs = np.ascontiguousarray(hashes, dtype=np.uint64)
    cdef Py_ssize_t n = hs.shape[0], size = 16, i, pos, j, m = 0
    while size < 2 * n:
        size *= 2
    cdef uint64_t mask = <uint64_t>(size - 1), h
    slots_a = np.full(size, -1, dtype=np.int64)
    first_a = np.empty(n, dtype=np.int64)
    inv_a = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] slots = slots_a
    cdef int64_t[::1] first = first_a
    cdef int64_t[::1] inv = inv_a
    with nogil:
        for i in range(n):
            h = hs[i]
            pos = <Py_ssize_t>((h ^ (h >> 29)) & mask)
            while True:
                j = slots[pos]
                if j < 0:
                    slots[pos] = m
                    first[m] = i
                    inv[i] = m
                    m += 1
                    break
                if hs[first[j]] == h:
                    inv[i] = j
                    break
                pos = (pos + 1) & (size - 1)
    return first_a[:m].copy(), inv_a
