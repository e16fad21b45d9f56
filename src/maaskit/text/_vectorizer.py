"""DocumentVectorizer: a scikit-learn transformer from raw documents to mean word vectors.

Kernels: ``word2vec`` (through :class:`~maaskit.text.Word2Vec`).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from ..utils.validation import check_is_fitted

from ..exceptions import NotFittedError
from .._schema import Arr, Attr, StateSchema
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from ._keyedvectors import KeyedVectors
from ._tokenizer import Tokenizer
from ._validation import CallableConstraint, check_documents
from ._word2vec import Word2Vec

__all__ = ["DocumentVectorizer"]


@register
class DocumentVectorizer(PersistableMixin, TransformerMixin, BaseEstimator):
    """Turn documents into the mean of their word vectors, learned by Word2Vec on ``fit``.

    ``fit`` tokenizes the documents and trains a :class:`Word2Vec` on them; ``transform``
    averages the vectors of each document's known words (a document without any known
    word maps to zeros). Usable in a :class:`~sklearn.pipeline.Pipeline` in front of a
    classifier, with every Word2Vec setting open to grid search.

    Parameters
    ----------
    vector_size : int, default=100
        Dimension of the document vectors.
    window : int, default=5
        Word2Vec context window.
    min_count : int, default=1
        Words seen fewer times are ignored.
    sg : {0, 1}, default=0
        1 for skip-gram, 0 for CBOW.
    negative : int, default=5
        Negative samples per positive.
    sample : float, default=1e-3
        Subsampling threshold of frequent words.
    alpha : float, default=0.025
        Initial learning rate.
    min_alpha : float, default=1e-4
        Final learning rate.
    epochs : int, default=10
        Passes over the documents.
    workers : int, default=1
        Training threads (1 makes results reproducible).
    seed : int, default=1
        Random seed.
    tokenizer : callable, default=None
        ``str -> list of str``; ``None`` uses :class:`Tokenizer`.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Word2Vec kernel implementation.

    Attributes
    ----------
    wv_ : KeyedVectors
        The learned word vectors.
    n_features_out_ : int
        Output dimension (``vector_size``).

    Examples
    --------
    >>> from maaskit.text import DocumentVectorizer
    >>> docs = ["the cat sat on the mat", "the dog sat on the rug"] * 20
    >>> DocumentVectorizer(vector_size=4, epochs=2).fit_transform(docs).shape
    (40, 4)
    """

    _state_schema = StateSchema(
        attrs={"n_features_out_": Attr(int, dim="vector_size", min=1)},
        arrays={"vectors": Arr("f4", ("n_words", "vector_size")),
                "vocabulary": Arr("U", ("n_words",), unique=True)},
        param_dims={"vector_size": "vector_size"},
    )
    _parameter_constraints: dict[str, list[Any]] = {
        "vector_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_count": [Interval(numbers.Integral, 1, None, closed="left")],
        "sg": [Options(frozenset({0, 1}))],
        "negative": [Interval(numbers.Integral, 1, None, closed="left")],
        "sample": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "min_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "workers": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "seed": [Interval(numbers.Integral, 0, 2**32 - 1, closed="both")],
        "tokenizer": [CallableConstraint(), None],
        "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
    }

    def __init__(self, vector_size: int = 100, *, window: int = 5, min_count: int = 1, sg: int = 0,
                 negative: int = 5, sample: float = 1e-3, alpha: float = 0.025,
                 min_alpha: float = 1e-4, epochs: int = 10, workers: int | None = 1, seed: int = 1,
                 tokenizer=None, backend: str = "auto") -> None:
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.sg = sg
        self.negative = negative
        self.sample = sample
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self.workers = workers
        self.seed = seed
        self.tokenizer = tokenizer
        self.backend = backend

    def fit(self, X, y=None) -> "DocumentVectorizer":
        """Train word vectors on the documents ``X``.

        Parameters
        ----------
        X : iterable of str
            Raw documents.
        y : None
            Ignored.

        Returns
        -------
        self : DocumentVectorizer
        """
        validate_parameters(self)
        docs = check_documents(X, "DocumentVectorizer.fit")
        tok = self.tokenizer or Tokenizer()
        sents = [tok(d) for d in docs]
        w2v = Word2Vec(self.vector_size, window=self.window, min_count=self.min_count, sg=self.sg,
                       negative=self.negative, sample=self.sample, alpha=self.alpha,
                       min_alpha=self.min_alpha, epochs=self.epochs, workers=self.workers,
                       seed=self.seed, backend=self.backend)
        try:
            w2v.fit(sents)
        except ValueError as exc:
            raise ValueError(str(exc).replace("Word2Vec.fit", "DocumentVectorizer.fit")) from None
        self.wv_ = w2v.wv_
        self.n_features_out_ = int(self.vector_size)
        return self

    def transform(self, X) -> np.ndarray:
        """Average the word vectors of each document.

        Parameters
        ----------
        X : iterable of str
            Raw documents.

        Returns
        -------
        V : ndarray of shape (n_documents, vector_size), float32
        """
        check_is_fitted(self, "wv_")
        docs = check_documents(X, "DocumentVectorizer.transform", allow_empty=True)
        tok = self.tokenizer or Tokenizer()
        index = self.wv_.key_to_index
        out = np.zeros((len(docs), self.wv_.vector_size), dtype=np.float32)
        vecs = self.wv_.vectors
        for i, d in enumerate(docs):
            rows = [index[w] for w in tok(d) if w in index]
            if rows:
                out[i] = vecs[rows].mean(axis=0)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "wv_")
        return np.array([f"documentvectorizer{i}" for i in range(self.n_features_out_)], dtype=object)

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        if not hasattr(self, "wv_"):
            raise NotFittedError("DocumentVectorizer.save: not fitted yet. Call 'fit' first.")
        return ({"n_features_out_": self.n_features_out_},
                {"vectors": self.wv_.vectors, "vocabulary": np.array(self.wv_.index_to_key, dtype=str)})

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        self.n_features_out_ = int(attrs["n_features_out_"])
        self.wv_ = KeyedVectors([str(w) for w in arrays["vocabulary"]],
                                np.ascontiguousarray(arrays["vectors"], dtype=np.float32))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
