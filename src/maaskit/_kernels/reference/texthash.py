"""NumPy reference ``texthash`` kernel: the features of tokenized documents as stable 64-bit hashes.

Input layout (built by ``SentimentClassifier``): every token of every document is written into
one code-point buffer ``codes`` (uint32, one entry per Python character), the tokens of a
document joined by ``"\\x01"``; token ``t`` is ``codes[tok_start[t]:tok_end[t]]`` and document
``d`` holds tokens ``doc_tok[d]:doc_tok[d + 1]``. Because of the separator, the word n-gram
``"\\x01".join(tokens[i:i + n])`` is the contiguous slice ``tok_start[i]:tok_end[i + n - 1]``.

A document's features, in this order (the rules of ``text/_sentiment.py``): its tokens; its
word n-grams for ``n = 2 .. word_ngrams``; then, token after token, for words of two or more
characters and ``maxn > 0``, the character n-grams ``"\\x02" + s[i:i + n]`` of ``s = "<" + w + ">"``
for ``n = minn .. maxn``. Each feature is hashed with 64-bit FNV-1a over its code points (the
exact code points of the feature string, so ``hash_strings`` of a stored vocabulary gives the
same values); the hash never depends on the process (no Python ``hash()``).

``doc_features`` returns ``(indptr, hashes, starts, ends, kinds)``: the features of document
``d`` are ``indptr[d]:indptr[d + 1]``; ``codes[starts[f]:ends[f]]`` is the feature's text for
``kinds[f] == 0`` and the inner part of a character n-gram otherwise, with bit 1 of ``kinds``
for the ``"<"`` before it and bit 2 for the ``">"`` after it (see ``feature_string``).

This reference walks the features in Python, builds each feature's code points
(``feature_string``) and hashes them with ``hash_strings``; it is the oracle of the Numba and
Cython twins. ``dedup`` numbers distinct hashes in order of first occurrence (fit: the
vocabulary; predict: the lookup of a document's features among the vocabulary's hashes).
The tests also check every twin against the pre-kernel Python rules, string by string.
"""

from __future__ import annotations

import numpy as np

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
SEP = 0x01  # joins the words of a word n-gram
CHAR_MARK = 0x02  # prefixes character n-grams
BOW = ord("<")
EOW = ord(">")


def hash_strings(codes, offsets):
    """FNV-1a 64 of each string ``codes[offsets[i]:offsets[i + 1]]`` (uint32 code points)."""
    codes = np.asarray(codes, dtype=np.uint32)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    lens = np.diff(offsets)
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    for j in range(int(lens.max()) if n > 0 else 0):  # one vectorised step per character position
        active = np.flatnonzero(lens > j)
        c = codes[offsets[active] + j].astype(np.uint64)
        h[active] = (h[active] ^ c) * FNV_PRIME  # uint64 arrays wrap modulo 2**64
    return h


def doc_features(codes, tok_start, tok_end, doc_tok, word_ngrams, minn, maxn):
    """Features of every document as FNV-1a hashes; see the module docstring."""
    codes = np.asarray(codes, dtype=np.uint32)
    n_docs = len(doc_tok) - 1
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    starts: list[int] = []
    ends: list[int] = []
    kinds: list[int] = []
    for d in range(n_docs):
        t0, t1 = int(doc_tok[d]), int(doc_tok[d + 1])
        for t in range(t0, t1):
            starts.append(int(tok_start[t]))
            ends.append(int(tok_end[t]))
            kinds.append(0)
        for n in range(2, word_ngrams + 1):
            for i in range(t0, t1 - n + 1):
                starts.append(int(tok_start[i]))
                ends.append(int(tok_end[i + n - 1]))
                kinds.append(0)
        if maxn > 0:
            for t in range(t0, t1):
                s, e = int(tok_start[t]), int(tok_end[t])
                L = e - s
                if L < 2:
                    continue  # single characters (CJK) are already unigrams
                for n in range(minn, maxn + 1):
                    for i in range(L + 2 - n + 1):  # windows of "<" + w + ">"
                        lo, hi = i, i + n  # in padded coordinates; w is at 1..L
                        starts.append(s + max(lo, 1) - 1)
                        ends.append(s + min(hi, L + 1) - 1)
                        kinds.append(1 | (2 if lo == 0 else 0) | (4 if hi == L + 2 else 0))
        indptr[d + 1] = len(starts)
    starts_a = np.array(starts, dtype=np.int64)
    ends_a = np.array(ends, dtype=np.int64)
    kinds_a = np.array(kinds, dtype=np.int8)
    # the feature strings themselves, hashed like any string
    feats = [feature_string(codes, s, e, k) for s, e, k in zip(starts, ends, kinds)]
    buf = np.concatenate([f for f in feats] + [np.zeros(0, np.uint32)])
    offs = np.zeros(len(feats) + 1, dtype=np.int64)
    np.cumsum([len(f) for f in feats], out=offs[1:])
    return indptr, hash_strings(buf, offs), starts_a, ends_a, kinds_a


def feature_string(codes, start, end, kind):
    """Code points (uint32) of one feature from its ``(start, end, kind)``."""
    inner = np.asarray(codes[start:end], dtype=np.uint32)
    if kind == 0:
        return inner
    parts = [np.array([CHAR_MARK], np.uint32)]
    if kind & 2:
        parts.append(np.array([BOW], np.uint32))
    parts.append(inner)
    if kind & 4:
        parts.append(np.array([EOW], np.uint32))
    return np.concatenate(parts)


def dedup(hashes):
    """Number distinct hashes in order of first occurrence: ``(first, inv)``.

    ``first[j]`` is the position of the first occurrence of the ``j``-th distinct value and
    ``hashes[i] == hashes[first[inv[i]]]``.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    _, first, inv = np.unique(hashes, return_index=True, return_inverse=True)
    o = np.argsort(first, kind="stable")
    rank = np.empty(len(o), dtype=np.int64)
    rank[o] = np.arange(len(o), dtype=np.int64)
    return first[o].astype(np.int64), rank[inv.reshape(-1)]
