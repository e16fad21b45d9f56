"""Word2Vec: skip-gram and CBOW word embeddings trained with negative sampling.

Kernels: ``word2vec`` (``train_sg``, ``train_cbow``). The vocabulary is built in one
streaming pass over the corpus and every epoch streams it again, so a corpus larger than
memory trains from any re-iterable (for example :class:`LineSentence`). A producer (the
calling thread) turns sentences into word indices, drops unknown words, subsamples
frequent words and computes each sentence's learning rate; ``workers`` threads run the
GIL-free kernel on chunks of about ``batch_words`` words, sharing the weights without locks
(Hogwild), as gensim does.
"""

from __future__ import annotations

import numbers
import os
import queue
import threading
import time
from collections import Counter
from typing import Any, Iterable, Iterator

import numpy as np
from sklearn.base import BaseEstimator

from .._backend import get_kernel, resolve_backend
from .._config import effective_n_threads
from ..exceptions import ModelFitError, NotFittedError
from .._schema import BACKENDS, Arr, Attr, StateSchema
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from ._keyedvectors import KeyedVectors
from ._tokenizer import Tokenizer
from ._validation import CallableConstraint

__all__ = ["Word2Vec", "LineSentence"]

_CUM_DOMAIN = 2**31 - 1


class LineSentence:
    """A re-iterable corpus read lazily from a text file, one sentence per line.

    Each iteration re-opens the file, so a :class:`Word2Vec` can stream it once per epoch
    without holding it in memory. Lines are split on whitespace, or by ``tokenizer``.

    Parameters
    ----------
    path : str or path-like
        UTF-8 text file.
    tokenizer : callable, default=None
        ``str -> list of str``; ``None`` splits on whitespace.
    max_sentence_length : int, default=10000
        Longer lines are cut into pieces of this many tokens.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from maaskit.text import LineSentence
    >>> path = Path(tempfile.mkdtemp()) / "c.txt"
    >>> _ = path.write_text("a b c" + chr(10) + "d e" + chr(10))
    >>> list(LineSentence(path))
    [['a', 'b', 'c'], ['d', 'e']]
    """

    def __init__(self, path: str | os.PathLike, tokenizer=None, max_sentence_length: int = 10000) -> None:
        self.path = path
        self.tokenizer = tokenizer
        self.max_sentence_length = max_sentence_length

    def __iter__(self) -> Iterator[list[str]]:
        split = self.tokenizer or str.split
        n = self.max_sentence_length
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                toks = split(line)
                for i in range(0, len(toks), n):
                    yield toks[i:i + n]


class _Lookup(dict):
    """word -> row; words never counted map to -1 (dropped before the kernel)."""

    def __missing__(self, key: str) -> int:
        return -1


@register
class Word2Vec(PersistableMixin, BaseEstimator):
    """Word embeddings by skip-gram or CBOW with negative sampling (Mikolov et al. 2013).

    Parameter names and defaults follow gensim's ``Word2Vec`` so that models and
    benchmarks compare like for like.

    Parameters
    ----------
    vector_size : int, default=100
        Dimension of the word vectors.
    window : int, default=5
        Maximum distance between the centre and a context word; each centre word uses a
        window drawn uniformly from ``1..window``.
    min_count : int, default=5
        Words seen fewer times are dropped.
    sg : {0, 1}, default=0
        1 trains skip-gram, 0 CBOW (mean of the context vectors).
    negative : int, default=5
        Negative samples per positive example, drawn from unigram counts to the power
        ``ns_exponent``.
    ns_exponent : float, default=0.75
        Exponent of the negative-sampling distribution.
    sample : float, default=1e-3
        Subsampling threshold: a word of frequency ``f`` is kept with probability
        ``(sqrt(f / sample) + 1) * sample / f``; 0 disables subsampling.
    alpha : float, default=0.025
        Initial learning rate (gensim's name; this is not a regularisation strength).
    min_alpha : float, default=1e-4
        Final learning rate; the rate decays linearly per sentence over all epochs.
    epochs : int, default=5
        Passes over the corpus.
    workers : int, default=None
        Training threads; ``None`` uses the global ``n_threads`` setting (all cores).
        Results are reproducible only with ``workers=1``.
    batch_words : int, default=10000
        Words per job handed to a worker thread.
    seed : int, default=1
        Seed of the vector initialisation, subsampling and negative draws.
    compute_loss : bool, default=False
        Record the training loss per epoch in ``history_`` (slightly slower).
    tokenizer : callable, default=None
        Used for sentences given as ``str``; ``None`` uses :class:`Tokenizer`. Sentences
        given as lists of tokens are used as they are.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation (``"numpy"`` is the slow reference).
    verbose : int, default=0
        Print a line per epoch when positive.

    Attributes
    ----------
    wv_ : KeyedVectors
        The word vectors (also reachable as ``wv``).
    syn1neg_ : ndarray of shape (n_words, vector_size), float32
        Output (context) vectors of negative sampling.
    counts_ : ndarray of shape (n_words,), int64
        Corpus count of each vocabulary word, in ``wv_.index_to_key`` order.
    corpus_count_ : int
        Sentences in the corpus.
    corpus_total_words_ : int
        Tokens in the corpus (all words, before ``min_count`` and subsampling).
    history_ : list of dict
        Per epoch: ``epoch``, ``words`` (kernel words after subsampling), ``seconds``,
        ``loss`` (``None`` unless ``compute_loss``).
    words_per_second_ : float
        Raw corpus words trained per second, over all epochs (vocabulary pass excluded).
    backend_ : str
        Resolved kernel backend.

    Examples
    --------
    >>> from maaskit.text import Word2Vec
    >>> corpus = [["cat", "sat", "on", "mat"], ["dog", "sat", "on", "rug"]] * 50
    >>> model = Word2Vec(vector_size=8, min_count=1, workers=1, seed=0).fit(corpus)
    >>> model.wv["cat"].shape
    (8,)
    """

    # word ids come from the vocabulary lookup, so they index rows of vectors/syn1neg_
    _state_schema = StateSchema(
        attrs={"corpus_count_": Attr(int, min=0), "corpus_total_words_": Attr(int, min=0),
               "history_": Attr(list), "words_per_second_": Attr(float, min=0),
               "backend_": Attr(str, options=BACKENDS)},
        arrays={"vectors": Arr("f4", ("n_words", "vector_size")),
                "vocabulary": Arr("U", ("n_words",), unique=True),
                "syn1neg_": Arr("f4", ("n_words", "vector_size")),
                "counts_": Arr("i", ("n_words",), min=0)},
        param_dims={"vector_size": "vector_size"},
    )
    _parameter_constraints: dict[str, list[Any]] = {
        "vector_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_count": [Interval(numbers.Integral, 1, None, closed="left")],
        "sg": [Options(frozenset({0, 1}))],
        "negative": [Interval(numbers.Integral, 1, None, closed="left")],
        "ns_exponent": [Interval(numbers.Real, None, None, closed="neither")],
        "sample": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "min_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "workers": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "batch_words": [Interval(numbers.Integral, 1, None, closed="left")],
        "seed": [Interval(numbers.Integral, 0, 2**32 - 1, closed="both")],
        "compute_loss": ["boolean"],
        "tokenizer": [CallableConstraint(), None],
        "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
        "verbose": [Interval(numbers.Integral, 0, None, closed="left"), "boolean"],
    }

    def __init__(self, vector_size: int = 100, *, window: int = 5, min_count: int = 5, sg: int = 0,
                 negative: int = 5, ns_exponent: float = 0.75, sample: float = 1e-3,
                 alpha: float = 0.025, min_alpha: float = 1e-4, epochs: int = 5,
                 workers: int | None = None, batch_words: int = 10000, seed: int = 1,
                 compute_loss: bool = False, tokenizer=None, backend: str = "auto",
                 verbose: int = 0) -> None:
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.sg = sg
        self.negative = negative
        self.ns_exponent = ns_exponent
        self.sample = sample
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self.workers = workers
        self.batch_words = batch_words
        self.seed = seed
        self.compute_loss = compute_loss
        self.tokenizer = tokenizer
        self.backend = backend
        self.verbose = verbose

    # ---------------------------------------------------------------- public API
    @property
    def wv(self) -> KeyedVectors:
        """The fitted word vectors (gensim's ``model.wv``)."""
        if not hasattr(self, "wv_"):
            raise NotFittedError(
                "Word2Vec.wv: this Word2Vec instance is not fitted yet. Call 'fit' with a corpus first."
            )
        return self.wv_

    def fit(self, corpus: Iterable, y: None = None) -> "Word2Vec":
        """Build the vocabulary in one pass over ``corpus``, then train ``epochs`` passes.

        Parameters
        ----------
        corpus : re-iterable of (str or list of str)
            Sentences: lists of tokens, or raw strings split by ``tokenizer``. Must be
            iterable more than once (a list, :class:`LineSentence`, ...), not a generator.
        y : None
            Ignored.

        Returns
        -------
        self : Word2Vec
        """
        validate_parameters(self)
        where = "Word2Vec.fit"
        if isinstance(corpus, (str, bytes)) or not hasattr(corpus, "__iter__"):
            raise TypeError(f"{where}: corpus must be an iterable of sentences; got {type(corpus).__name__}.")
        if iter(corpus) is corpus:
            raise TypeError(
                f"{where}: corpus must be re-iterable (a list, or an object whose __iter__ "
                f"starts over, such as LineSentence); got a one-shot {type(corpus).__name__}, "
                "which would be exhausted after the vocabulary pass."
            )
        self.backend_ = resolve_backend("word2vec", self.backend, where)
        tok = self.tokenizer or Tokenizer()
        counter, n_sent, n_words = self._scan_vocab(corpus, tok, where)
        self._build_vocab(counter, n_sent, n_words, where)
        self._train(corpus, tok, where)
        return self

    # ---------------------------------------------------------------- vocabulary
    @staticmethod
    def _scan_vocab(corpus: Iterable, tok, where: str) -> tuple[Counter, int, int]:
        counter: Counter = Counter()
        n_sent = 0
        n_words = 0
        for sent in corpus:
            if isinstance(sent, str):
                sent = tok(sent)
            elif not isinstance(sent, (list, tuple)) or (sent and not isinstance(sent[0], str)):
                shown = sent if not isinstance(sent, (list, tuple)) else sent[0]
                raise TypeError(
                    f"{where}: each sentence must be a str or a list of str tokens; got "
                    f"{type(shown).__name__} {shown!r:.60} in sentence {n_sent}."
                )
            counter.update(sent)
            n_sent += 1
            n_words += len(sent)
        bad = next((k for k in counter if not isinstance(k, str)), None)
        if bad is not None:
            raise TypeError(f"{where}: tokens must be str; got {type(bad).__name__} {bad!r:.60}.")
        return counter, n_sent, n_words

    def _build_vocab(self, counter: Counter, n_sent: int, n_words: int, where: str) -> None:
        if n_words == 0:
            raise ValueError(
                f"{where}: corpus must contain at least one token; got {n_sent} sentence(s) and no tokens."
            )
        kept = [(w, c) for w, c in counter.items() if c >= self.min_count]
        if len(kept) < 2:
            raise ValueError(
                f"{where}: the vocabulary must hold at least 2 words with count >= "
                f"min_count={self.min_count}; got {len(kept)} ({[w for w, _ in kept][:1]!r}) out of "
                f"{len(counter)} distinct words. Give more text or lower min_count."
            )
        kept.sort(key=lambda wc: -wc[1])  # stable: ties keep first-seen order
        words = [w for w, _ in kept]
        counts = np.array([c for _, c in kept], dtype=np.int64)
        self.counts_ = counts
        self.corpus_count_ = int(n_sent)
        self.corpus_total_words_ = int(n_words)
        lookup = _Lookup.fromkeys(counter, -1)
        lookup.update((w, i) for i, w in enumerate(words))
        self._lookup = lookup
        rng = np.random.RandomState(self.seed)
        vs = self.vector_size
        # gensim's initialisation: uniform in [-1/vector_size, 1/vector_size).
        syn0 = ((rng.random_sample((len(words), vs)) * 2 - 1) / vs).astype(np.float32)
        self.wv_ = KeyedVectors(words, syn0)
        self.syn1neg_ = np.zeros((len(words), vs), dtype=np.float32)

    def _keep_prob(self) -> np.ndarray:
        counts = self.counts_.astype(np.float64)
        if self.sample <= 0:
            return np.ones_like(counts)
        threshold = self.sample * counts.sum()
        return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)

    def _cum_table(self) -> np.ndarray:
        p = self.counts_.astype(np.float64) ** self.ns_exponent
        cum = np.cumsum(p / p.sum()) * _CUM_DOMAIN
        cum = np.maximum(np.round(cum).astype(np.int64), 1)
        # Strictly increasing so that every word has a non-empty slice.
        return np.maximum.accumulate(cum + np.arange(len(cum), dtype=np.int64))

    # ---------------------------------------------------------------- training
    def _jobs(self, corpus: Iterable, tok, keep_prob: np.ndarray, rng: np.random.RandomState,
              words_done: int, total: int) -> Iterator[tuple]:
        lookup = self._lookup.__getitem__
        buf: list[int] = []
        lens: list[int] = []
        a0, a1 = float(self.alpha), float(self.min_alpha)
        subsample = self.sample > 0

        def emit():
            ids = np.array(buf, dtype=np.int32)
            raw_starts = np.zeros(len(lens) + 1, dtype=np.int64)
            np.cumsum(lens, out=raw_starts[1:])
            progress = (words_done + raw_starts[:-1]) / total
            alphas = np.maximum(a0 - (a0 - a1) * progress, a1)
            keep = ids >= 0
            if subsample:
                keep &= rng.random_sample(len(ids)) < keep_prob[ids]
            cs = np.zeros(len(ids) + 1, dtype=np.int64)
            np.cumsum(keep, out=cs[1:])
            seed = int(rng.randint(0, 2**48, dtype=np.int64))
            return ids[keep], cs[raw_starts], alphas, seed, len(ids)

        for sent in corpus:
            if isinstance(sent, str):
                sent = tok(sent)
            buf.extend(map(lookup, sent))
            lens.append(len(sent))
            if len(buf) >= self.batch_words:
                job = emit()
                words_done += job[-1]
                yield job
                buf, lens = [], []
        if lens:
            yield emit()

    def _train(self, corpus: Iterable, tok, where: str) -> None:
        kern = get_kernel("word2vec", self.backend_)
        fn = kern.train_sg if self.sg else kern.train_cbow
        syn0 = self.wv_.vectors
        syn1 = self.syn1neg_
        cum = self._cum_table()
        keep_prob = self._keep_prob()
        n_workers = effective_n_threads(self.workers)
        rng = np.random.RandomState(self.seed)
        window, negative, closs = int(self.window), int(self.negative), bool(self.compute_loss)
        total = self.epochs * self.corpus_total_words_
        self.history_ = []
        t_all = 0.0
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            jobs = self._jobs(corpus, tok, keep_prob, rng, epoch * self.corpus_total_words_, total)
            stats = [0.0, 0]

            def run(job, stats=stats):
                words, starts, alphas, seed, _ = job
                loss, n = fn(words, starts, alphas, syn0, syn1, cum, window, negative, seed, closs)
                stats[0] += loss
                stats[1] += len(words)

            if n_workers == 1:
                for job in jobs:
                    run(job)
            else:
                self._run_threaded(jobs, run, n_workers)
            dt = time.perf_counter() - t0
            t_all += dt
            self.history_.append({"epoch": epoch + 1, "words": int(stats[1]), "seconds": dt,
                                  "loss": float(stats[0]) if closs else None})
            if not np.isfinite(syn0.sum()):
                raise ModelFitError(
                    f"{where}: the word vectors diverged to non-finite values in epoch {epoch + 1}; "
                    f"try a smaller alpha (got {self.alpha!r})."
                )
            if self.verbose:
                loss = f", loss {stats[0]:.4g}" if closs else ""
                print(f"Word2Vec: epoch {epoch + 1}/{self.epochs}, {stats[1]} words in {dt:.2f}s{loss}")
        self.words_per_second_ = float(total / t_all) if t_all > 0 else float("inf")

    @staticmethod
    def _run_threaded(jobs: Iterator, run, n_workers: int) -> None:
        q: queue.Queue = queue.Queue(maxsize=2 * n_workers)
        errors: list[BaseException] = []

        def worker():
            while True:
                job = q.get()
                if job is None:
                    return
                try:
                    run(job)
                except BaseException as exc:  # surfaced in the calling thread below
                    errors.append(exc)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_workers)]
        for t in threads:
            t.start()
        try:
            for job in jobs:
                if errors:
                    break
                q.put(job)
        finally:
            for _ in threads:
                q.put(None)
            for t in threads:
                t.join()
        if errors:
            raise errors[0]

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        if not hasattr(self, "wv_"):
            raise NotFittedError("Word2Vec.save: this Word2Vec instance is not fitted yet. Call 'fit' first.")
        attrs = {k: getattr(self, k) for k in ("corpus_count_", "corpus_total_words_", "history_",
                                               "words_per_second_", "backend_")}
        arrays = {"vectors": self.wv_.vectors, "vocabulary": np.array(self.wv_.index_to_key, dtype=str),
                  "syn1neg_": self.syn1neg_, "counts_": self.counts_}
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        for k, v in attrs.items():
            setattr(self, k, v)
        words = [str(w) for w in arrays["vocabulary"]]
        self.wv_ = KeyedVectors(words, np.ascontiguousarray(arrays["vectors"], dtype=np.float32))
        self.syn1neg_ = np.ascontiguousarray(arrays["syn1neg_"], dtype=np.float32)
        self.counts_ = arrays["counts_"].astype(np.int64)
        self._lookup = _Lookup((w, i) for i, w in enumerate(words))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
