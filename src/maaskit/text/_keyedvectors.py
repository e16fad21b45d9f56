"""Word vectors looked up by word: ``wv[word]``, ``most_similar``, ``similarity``."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..exceptions import MaaskitError

__all__ = ["KeyedVectors", "UnknownWordError"]


class UnknownWordError(MaaskitError, KeyError):
    """A word that is not in the model's vocabulary.

    Parameters
    ----------
    word : str
        The unknown word.
    n_known : int
        Vocabulary size.
    where : str, default=""
        ``"<Class>.<method>"`` that raised.
    """

    def __init__(self, word: str, n_known: int, where: str = "") -> None:
        self.word = word
        self.n_known = n_known
        self.where = where
        super().__init__(str(self))

    def __str__(self) -> str:  # KeyError would quote the message; we want it plain.
        prefix = f"{self.where}: " if self.where else ""
        return (
            f"{prefix}word must be in the vocabulary of {self.n_known} words; got {self.word!r}. "
            "Check the spelling and case, or lower min_count and refit."
        )


class KeyedVectors:
    """A vocabulary with one vector per word (gensim's ``KeyedVectors``, read-only).

    Parameters
    ----------
    index_to_key : list of str
        The words, in row order of ``vectors``.
    vectors : ndarray of shape (n_words, vector_size)
        One row per word.

    Attributes
    ----------
    index_to_key : list of str
        Words by row.
    key_to_index : dict of str to int
        Row of each word.
    vectors : ndarray of shape (n_words, vector_size)
        The vectors.
    vector_size : int
        Dimension of the vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.text import KeyedVectors
    >>> wv = KeyedVectors(["a", "b", "c"], np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    >>> wv.most_similar("a", topn=1)[0][0]
    'b'
    """

    def __init__(self, index_to_key: list[str], vectors: np.ndarray) -> None:
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = vectors
        self.vector_size = int(vectors.shape[1])
        self._norm: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def get_index(self, word: str, where: str = "KeyedVectors.get_index") -> int:
        """Return the row of ``word``.

        Parameters
        ----------
        word : str
        where : str, default="KeyedVectors.get_index"
            Method name for the error message.

        Returns
        -------
        index : int

        Raises
        ------
        UnknownWordError
            When the word is unknown.
        """
        try:
            return self.key_to_index[word]
        except (KeyError, TypeError):
            raise UnknownWordError(word, len(self), where) from None

    def __getitem__(self, words: str | Iterable[str]) -> np.ndarray:
        if isinstance(words, str):
            return self.vectors[self.get_index(words, "KeyedVectors.__getitem__")]
        idx = [self.get_index(w, "KeyedVectors.__getitem__") for w in words]
        return self.vectors[idx]

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """Return the vector of ``word``.

        Parameters
        ----------
        word : str
        norm : bool, default=False
            Return the unit-length vector.

        Returns
        -------
        vector : ndarray of shape (vector_size,)
        """
        i = self.get_index(word, "KeyedVectors.get_vector")
        return self._unit()[i] if norm else self.vectors[i]

    def _unit(self) -> np.ndarray:
        if self._norm is None:
            n = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._norm = (self.vectors / np.maximum(n, 1e-12)).astype(np.float32)
        return self._norm

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words.

        Parameters
        ----------
        w1, w2 : str

        Returns
        -------
        similarity : float
        """
        u = self._unit()
        return float(u[self.get_index(w1, "KeyedVectors.similarity")]
                     @ u[self.get_index(w2, "KeyedVectors.similarity")])

    def most_similar(self, positive: str | list[str] | None = None,
                     negative: str | list[str] | None = None, topn: int = 10) -> list[tuple[str, float]]:
        """Words closest (cosine) to the mean of ``positive`` minus ``negative`` unit vectors.

        ``most_similar(positive=["king", "woman"], negative=["man"])`` answers the analogy
        man : king :: woman : ?. Input words are left out of the answer.

        Parameters
        ----------
        positive : str or list of str, default=None
        negative : str or list of str, default=None
        topn : int, default=10
            Number of results.

        Returns
        -------
        similar : list of (str, float)
            Words and cosine similarities, best first.
        """
        pos = [positive] if isinstance(positive, str) else list(positive or [])
        neg = [negative] if isinstance(negative, str) else list(negative or [])
        if not pos and not neg:
            raise ValueError("KeyedVectors.most_similar: positive or negative must name at least one word; got none.")
        if not isinstance(topn, int) or topn < 1:
            raise ValueError(f"KeyedVectors.most_similar: topn must be a positive int; got {topn!r}.")
        u = self._unit()
        idx = [self.get_index(w, "KeyedVectors.most_similar") for w in pos + neg]
        sign = np.array([1.0] * len(pos) + [-1.0] * len(neg), dtype=np.float32)
        q = (sign[:, None] * u[idx]).mean(axis=0)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        sims = u @ q
        sims[idx] = -np.inf
        k = min(topn, len(self) - len(set(idx)))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.index_to_key[i], float(sims[i])) for i in top]
