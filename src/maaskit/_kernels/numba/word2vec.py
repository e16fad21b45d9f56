"""Numba ``word2vec`` kernel: skip-gram and CBOW with negative sampling (see the reference).

Compiled with ``nogil=True`` so that the estimator's worker threads train on different
sentence chunks at the same time, sharing ``syn0``/``syn1neg`` without locks (Hogwild, as
gensim). The length-``dim`` loops are plain loops that LLVM vectorises under ``fastmath``.

Index safety: Word indices come from data and are not checked here. They are reachable only
through validated state: the estimator maps words through its vocabulary lookup (unknown words
are dropped), negatives are drawn from its own table over ``[0, n_words)``, and loaded
``vectors``/``syn1neg_`` are checked to have one row per vocabulary word (``maaskit._schema``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_MASK48 = np.uint64((1 << 48) - 1)
_MULT = np.uint64(25214903917)
_ELEVEN = np.uint64(11)
_SIXTEEN = np.uint64(16)


@nb.njit(cache=True, nogil=True, inline="always")
def _next(r):
    return (r * _MULT + _ELEVEN) & _MASK48


@nb.njit(cache=True, nogil=True, inline="always")
def _draw(r, cum_table):
    # First index whose cumulative count exceeds the draw (searchsorted side="right").
    x = np.int64((r >> _SIXTEEN) % np.uint64(cum_table[cum_table.shape[0] - 1]))
    lo = 0
    hi = cum_table.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum_table[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, nogil=True, inline="always")
def _log_sigmoid(x):
    if x > -30.0:
        return -math.log1p(math.exp(-x))
    return x


@nb.njit(cache=True, nogil=True, inline="always")
def _sigmoid(x):
    if x > -30.0:
        return 1.0 / (1.0 + math.exp(-x))
    return 0.0


@nb.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _neg_step(l1, target, label, alpha, syn1neg, neu1e, dim, compute_loss):
    # One positive or negative example: returns its loss; updates syn1neg[target] and
    # accumulates the input-side error in neu1e (with the output row before its update).
    row = syn1neg[target]
    f = l1.dtype.type(0)
    for k in range(dim):
        f += l1[k] * row[k]
    fd = float(f)
    lo = 0.0
    if compute_loss:
        if label:
            lo = -_log_sigmoid(fd)
        else:
            lo = -_log_sigmoid(-fd)
    g = l1.dtype.type((label - _sigmoid(fd)) * alpha)
    for k in range(dim):
        neu1e[k] += g * row[k]
        row[k] += g * l1[k]
    return lo


@nb.njit(cache=True, nogil=True, fastmath=True)
def train_sg(words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative, seed, compute_loss):
    """Train skip-gram with negative sampling in place; returns ``(loss, n_examples)``."""
    r = np.uint64(seed) & _MASK48
    dim = syn0.shape[1]
    neu1e = np.empty(dim, dtype=syn0.dtype)
    loss = 0.0
    n_ex = 0
    uwin = np.uint64(window)
    for s in range(sent_starts.shape[0] - 1):
        lo = sent_starts[s]
        hi = sent_starts[s + 1]
        alpha = alphas[s]
        for i in range(lo, hi):
            b = np.int64(r % uwin)
            r = _next(r)
            word = words[i]
            j0 = max(lo, i - window + b)
            j1 = min(hi, i + window + 1 - b)
            for j in range(j0, j1):
                if j == i:
                    continue
                l1 = syn0[words[j]]
                for k in range(dim):
                    neu1e[k] = 0
                loss += _neg_step(l1, word, 1, alpha, syn1neg, neu1e, dim, compute_loss)
                for d in range(negative):
                    target = _draw(r, cum_table)
                    r = _next(r)
                    if target == word:
                        continue
                    loss += _neg_step(l1, target, 0, alpha, syn1neg, neu1e, dim, compute_loss)
                for k in range(dim):
                    l1[k] += neu1e[k]
                n_ex += 1
    return loss, n_ex


@nb.njit(cache=True, nogil=True, fastmath=True)
def train_cbow(words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative, seed, compute_loss):
    """Train CBOW (context mean) with negative sampling in place; returns ``(loss, n_examples)``."""
    r = np.uint64(seed) & _MASK48
    dim = syn0.shape[1]
    neu1 = np.empty(dim, dtype=syn0.dtype)
    neu1e = np.empty(dim, dtype=syn0.dtype)
    loss = 0.0
    n_ex = 0
    uwin = np.uint64(window)
    for s in range(sent_starts.shape[0] - 1):
        lo = sent_starts[s]
        hi = sent_starts[s + 1]
        alpha = alphas[s]
        for i in range(lo, hi):
            b = np.int64(r % uwin)
            r = _next(r)
            word = words[i]
            j0 = max(lo, i - window + b)
            j1 = min(hi, i + window + 1 - b)
            count = 0
            for k in range(dim):
                neu1[k] = 0
                neu1e[k] = 0
            for j in range(j0, j1):
                if j == i:
                    continue
                row = syn0[words[j]]
                for k in range(dim):
                    neu1[k] += row[k]
                count += 1
            if count == 0:
                continue
            inv = syn0.dtype.type(1.0 / count)
            for k in range(dim):
                neu1[k] *= inv
            loss += _neg_step(neu1, word, 1, alpha, syn1neg, neu1e, dim, compute_loss)
            for d in range(negative):
                target = _draw(r, cum_table)
                r = _next(r)
                if target == word:
                    continue
                loss += _neg_step(neu1, target, 0, alpha, syn1neg, neu1e, dim, compute_loss)
            for j in range(j0, j1):
                if j == i:
                    continue
                row = syn0[words[j]]
                for k in range(dim):
                    row[k] += neu1e[k]
            n_ex += 1
    return loss, n_ex
