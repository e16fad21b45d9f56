"""Numba ``texthash`` kernel: document features as stable FNV-1a 64-bit hashes (see the reference).

Two passes over the tokens: one counts each document's features (for ``indptr``), the second
hashes them (serially: on 2 cores a parallel loop measured 3x slower than the Cython twin). Hashes are computed from the code points in place,
without building the feature strings.

Index safety: ``tok_start``/``tok_end``/``doc_tok`` are built by the caller from Python strings
(``SentimentClassifier._encode``), never taken from a loaded model.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_OFFSET = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)


@nb.njit(cache=True, nogil=True)
def _fnv(codes, lo, hi, h):
    for j in range(lo, hi):
        h = (h ^ np.uint64(codes[j])) * _PRIME
    return h


@nb.njit(cache=True, nogil=True)
def hash_strings(codes, offsets):
    """FNV-1a 64 of each string ``codes[offsets[i]:offsets[i + 1]]``."""
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = _fnv(codes, offsets[i], offsets[i + 1], _OFFSET)
    return out


@nb.njit(cache=True, nogil=True)
def _count(tok_start, tok_end, t0, t1, word_ngrams, minn, maxn):
    T = t1 - t0
    c = T
    for n in range(2, word_ngrams + 1):
        if T - n + 1 > 0:
            c += T - n + 1
    if maxn > 0:
        for t in range(t0, t1):
            L = tok_end[t] - tok_start[t]
            if L >= 2:
                for n in range(minn, maxn + 1):
                    if L + 3 - n > 0:
                        c += L + 3 - n
    return c


@nb.njit(cache=True, nogil=True)
def doc_features(codes, tok_start, tok_end, doc_tok, word_ngrams, minn, maxn):
    """Features of every document: ``(indptr, hashes, starts, ends, kinds)``."""
    n_docs = len(doc_tok) - 1
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    for d in range(n_docs):
        indptr[d + 1] = indptr[d] + _count(tok_start, tok_end, doc_tok[d], doc_tok[d + 1],
                                           word_ngrams, minn, maxn)
    nf = indptr[n_docs]
    hashes = np.empty(nf, dtype=np.uint64)
    starts = np.empty(nf, dtype=np.int64)
    ends = np.empty(nf, dtype=np.int64)
    kinds = np.empty(nf, dtype=np.int8)
    mark = _fnv(np.array([2], dtype=np.uint32), 0, 1, _OFFSET)  # "\x02"
    mark_bow = (mark ^ np.uint64(60)) * _PRIME  # "\x02<"
    for d in range(n_docs):
        t0 = doc_tok[d]
        t1 = doc_tok[d + 1]
        f = indptr[d]
        for t in range(t0, t1):
            starts[f] = tok_start[t]
            ends[f] = tok_end[t]
            kinds[f] = 0
            hashes[f] = _fnv(codes, tok_start[t], tok_end[t], _OFFSET)
            f += 1
        for n in range(2, word_ngrams + 1):
            for i in range(t0, t1 - n + 1):
                starts[f] = tok_start[i]
                ends[f] = tok_end[i + n - 1]
                kinds[f] = 0
                hashes[f] = _fnv(codes, tok_start[i], tok_end[i + n - 1], _OFFSET)
                f += 1
        if maxn > 0:
            for t in range(t0, t1):
                s = tok_start[t]
                L = tok_end[t] - s
                if L < 2:
                    continue
                for n in range(minn, maxn + 1):
                    for i in range(L + 3 - n):
                        hi = i + n
                        k = 1
                        if i == 0:
                            h = mark_bow
                            lo = s
                            k |= 2
                        else:
                            h = mark
                            lo = s + i - 1
                        e = s + min(hi, L + 1) - 1
                        h = _fnv(codes, lo, e, h)
                        if hi == L + 2:
                            h = (h ^ np.uint64(62)) * _PRIME  # ">"
                            k |= 4
                        starts[f] = lo
                        ends[f] = e
                        kinds[f] = k
                        hashes[f] = h
                        f += 1
    return indptr, hashes, starts, ends, kinds


@nb.njit(cache=True, nogil=True)
def dedup(hashes):
    """Number distinct hashes in order of first occurrence: ``(first, inv)`` (open addressing)."""
    n = len(hashes)
    size = 16
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    slots = np.full(size, -1, dtype=np.int64)  # index into ``first``
    first = np.empty(n, dtype=np.int64)
    inv = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        h = hashes[i]
        pos = np.int64((h ^ (h >> np.uint64(29))) & mask)
        while True:
            j = slots[pos]
            if j < 0:
                slots[pos] = m
                first[m] = i
                inv[i] = m
                m += 1
                break
            if hashes[first[j]] == h:
                inv[i] = j
                break
            pos = (pos + 1) & (size - 1)
    return first[:m].copy(), inv
