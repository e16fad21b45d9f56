"""NumPy reference ``word2vec`` kernel: skip-gram and CBOW with negative sampling.

The oracle for the Numba and Cython twins, written for reading, not speed. One call trains
on a batch of sentences given as a flat array of word indices (already subsampled and with
unknown words removed by the caller) and sentence boundaries, updating ``syn0`` (input
vectors) and ``syn1neg`` (output vectors) in place, as gensim's ``word2vec_inner`` does:

- randomness (window shrinking and negative draws) comes from gensim's 48-bit linear
  congruential generator seeded per call, so every backend draws the same numbers;
- skip-gram: for centre ``i`` and context ``j`` the input row is ``syn0[words[j]]`` and the
  positive target ``words[i]``;
- CBOW (``cbow_mean``): the input is the mean of the context rows and the input-side error
  is added, undivided, to every context row (gensim's choice, so learning rates match);
- the logistic is computed exactly (gensim uses a clipped lookup table).

Functions return ``(loss, n_examples)``: the negative-sampling loss summed over examples,
computed with the parameters before each update (when ``compute_loss``), and the number
of (centre, context) pairs (skip-gram) or centre words (CBOW) trained. With ``alpha = 0``
nothing changes and the loss is that of the current parameters, which the tests use for finite differences.

Index safety: Word indices come from data and are not checked here. They are reachable only
through validated state: the estimator maps words through its vocabulary lookup (unknown words
are dropped), negatives are drawn from its own table over ``[0, n_words)``, and loaded
``vectors``/``syn1neg_`` are checked to have one row per vocabulary word (``maaskit._schema``).
"""

from __future__ import annotations

import numpy as np

_MASK48 = (1 << 48) - 1
_MULT = 25214903917


def _next(r: int) -> int:
    return (r * _MULT + 11) & _MASK48


def _draw(r: int, cum_table: np.ndarray) -> int:
    return int(np.searchsorted(cum_table, (r >> 16) % int(cum_table[-1]), side="right"))


def _log_sigmoid(x: float) -> float:
    # log(sigmoid(x)) without overflow; the compiled twins use the same expression.
    return -np.log1p(np.exp(-x)) if x > -30.0 else x


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x)) if x > -30.0 else 0.0


def train_sg(words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative, seed,
             compute_loss=True):
    """Train skip-gram with negative sampling on a batch of sentences, in place.

    Parameters
    ----------
    words : ndarray of shape (n_words,), int32
        Word indices of all sentences, concatenated.
    sent_starts : ndarray of shape (n_sentences + 1,), int64
        Sentence ``s`` is ``words[sent_starts[s]:sent_starts[s + 1]]``.
    alphas : ndarray of shape (n_sentences,), float64
        Learning rate of each sentence.
    syn0, syn1neg : ndarray of shape (n_vocab, dim), float32 or float64
        Input and output vectors, updated in place.
    cum_table : ndarray of shape (n_vocab,), int64
        Cumulative unigram^0.75 table for negative draws.
    window : int
        Maximum window; each centre uses ``window - b`` with ``b`` uniform in ``[0, window)``.
    negative : int
        Negative samples per positive.
    seed : int
        Generator seed (48-bit).
    compute_loss : bool, default=True
        Sum the loss (costs a logarithm per example); otherwise ``loss`` is 0.

    Returns
    -------
    loss : float
    n_examples : int
    """
    r = int(seed) & _MASK48
    dim = syn0.shape[1]
    dt = syn0.dtype.type
    loss = 0.0
    n_ex = 0
    for s in range(len(sent_starts) - 1):
        lo, hi = int(sent_starts[s]), int(sent_starts[s + 1])
        alpha = dt(alphas[s])
        for i in range(lo, hi):
            b = r % window
            r = _next(r)
            for j in range(max(lo, i - window + b), min(hi, i + window + 1 - b)):
                if j == i:
                    continue
                word = int(words[i])
                l1 = syn0[words[j]]
                neu1e = np.zeros(dim, dtype=syn0.dtype)
                for d in range(negative + 1):
                    if d == 0:
                        target, label = word, dt(1)
                    else:
                        target = _draw(r, cum_table)
                        r = _next(r)
                        if target == word:
                            continue
                        label = dt(0)
                    f = float(np.dot(l1, syn1neg[target]))
                    if compute_loss:
                        loss -= _log_sigmoid(f if label else -f)
                    g = (label - dt(_sigmoid(f))) * alpha
                    neu1e += g * syn1neg[target]
                    syn1neg[target] += g * l1
                syn0[words[j]] += neu1e
                n_ex += 1
    return loss, n_ex


def train_cbow(words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative, seed,
             compute_loss=True):
    """Train CBOW (mean of context vectors) with negative sampling, in place.

    Parameters
    ----------
    words, sent_starts, alphas, syn0, syn1neg, cum_table, window, negative, seed, compute_loss
        As in :func:`train_sg`.

    Returns
    -------
    loss : float
    n_examples : int
        Centre words with at least one context word.
    """
    r = int(seed) & _MASK48
    dim = syn0.shape[1]
    dt = syn0.dtype.type
    loss = 0.0
    n_ex = 0
    for s in range(len(sent_starts) - 1):
        lo, hi = int(sent_starts[s]), int(sent_starts[s + 1])
        alpha = dt(alphas[s])
        for i in range(lo, hi):
            b = r % window
            r = _next(r)
            ctx = [j for j in range(max(lo, i - window + b), min(hi, i + window + 1 - b)) if j != i]
            if not ctx:
                continue
            neu1 = np.zeros(dim, dtype=syn0.dtype)
            for j in ctx:
                neu1 += syn0[words[j]]
            neu1 *= dt(1.0 / len(ctx))
            word = int(words[i])
            neu1e = np.zeros(dim, dtype=syn0.dtype)
            for d in range(negative + 1):
                if d == 0:
                    target, label = word, dt(1)
                else:
                    target = _draw(r, cum_table)
                    r = _next(r)
                    if target == word:
                        continue
                    label = dt(0)
                f = float(np.dot(neu1, syn1neg[target]))
                if compute_loss:
                    loss -= _log_sigmoid(f if label else -f)
                g = (label - dt(_sigmoid(f))) * alpha
                neu1e += g * syn1neg[target]
                syn1neg[target] += g * neu1
            for j in ctx:
                syn0[words[j]] += neu1e
            n_ex += 1
    return loss, n_ex
