"""A dependency-free tokenizer for English (space-separated scripts) and Chinese text."""

from __future__ import annotations

import re
import unicodedata

from sklearn.base import BaseEstimator

__all__ = ["Tokenizer"]

# Han (CJK unified ideographs, extension A, compatibility ideographs, extension B) plus
# Japanese kana: scripts written without spaces, so they are split into characters.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\U00020000-\U0002a6df"
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"  # a run of CJK characters
    rf"|(?P<word>[^\W_{_CJK}]+(?:['\u2019][^\W_{_CJK}]+)*)"  # letters/digits, inner apostrophes
    r"|(?P<punct>[^\w\s])"  # one punctuation mark or symbol (emoji included)
)
# The same rules for the common case (cjk="char"): a CJK run split into characters is the
# run matched one character at a time, and a dropped punctuation mark is a character the
# scan skips, so ``findall`` yields the tokens with no per-match Python work.
_CHAR_KEEP_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['\u2019][^\W_{_CJK}]+)*|[^\w\s]")
_CHAR_DROP_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['\u2019][^\W_{_CJK}]+)*")
_CJK_MODES = ("char", "bigram", "char+bigram")
_PUNCT_MODES = ("drop", "keep")


class Tokenizer(BaseEstimator):
    """Split raw text into tokens: words for space-separated scripts, characters for CJK.

    The rules, applied in this order:

    1. Unicode NFKC normalisation: full-width letters, digits and punctuation (common in
       Chinese text, e.g. ``，`` and ``Ａ``) become their ASCII forms.
    2. Lower-casing (``str.casefold``) when ``lowercase`` is true.
    3. A *word* is a maximal run of letters and digits of any non-CJK script (Latin,
       Cyrillic, Greek, Hangul, ...), where an apostrophe between two such runs stays inside
       the word (``don't``, ``n't``). Underscores split words.
    4. A run of Han characters or Japanese kana becomes its characters (``cjk="char"``), its
       overlapping character bigrams (``"bigram"``; a lone character stays a unigram) or
       both (``"char+bigram"``). No dictionary (such as jieba) is needed.
    5. Every other non-space character is a punctuation token: dropped by default, kept as
       a one-character token with ``punctuation="keep"`` (``!`` and emoji carry sentiment).

    A ``Tokenizer`` is a plain callable, so it can serve as
    ``TfidfVectorizer(analyzer=Tokenizer())`` or ``CountVectorizer(tokenizer=...)``; it is
    also a scikit-learn estimator so ``clone`` and grid search over its parameters work.

    Parameters
    ----------
    lowercase : bool, default=True
        Case-fold the text before splitting.
    cjk : {"char", "bigram", "char+bigram"}, default="char"
        How a run of CJK characters is split.
    punctuation : {"drop", "keep"}, default="drop"
        Whether punctuation marks and symbols become tokens.

    Examples
    --------
    >>> from maaskit.text import Tokenizer
    >>> Tokenizer()("Don't PANIC: 这家酒店很好!")
    ["don't", 'panic', '这', '家', '酒', '店', '很', '好']
    >>> Tokenizer(cjk="bigram", punctuation="keep")("酒店很好!")
    ['酒店', '店很', '很好', '!']
    """

    def __init__(self, lowercase: bool = True, cjk: str = "char", punctuation: str = "drop") -> None:
        self.lowercase = lowercase
        self.cjk = cjk
        self.punctuation = punctuation

    def _check(self) -> None:
        if self.cjk not in _CJK_MODES:
            raise ValueError(
                f"The 'cjk' parameter of Tokenizer must be a str among {set(_CJK_MODES)}. "
                f"Got {self.cjk!r} instead."
            )
        if self.punctuation not in _PUNCT_MODES:
            raise ValueError(
                f"The 'punctuation' parameter of Tokenizer must be a str among "
                f"{set(_PUNCT_MODES)}. Got {self.punctuation!r} instead."
            )

    def __call__(self, doc: str) -> list[str]:
        """Tokenize one document.

        Parameters
        ----------
        doc : str
            Raw text.

        Returns
        -------
        tokens : list of str
        """
        self._check()
        return self._split(doc)

    def _split(self, doc: str) -> list[str]:
        """``__call__`` without the checks of ``self`` (done once per batch by the callers)."""
        if not isinstance(doc, str):
            raise TypeError(f"Tokenizer.__call__: doc must be a str; got {type(doc).__name__} {doc!r:.60}.")
        text = unicodedata.normalize("NFKC", doc)
        if self.lowercase:
            text = text.casefold()
        if self.cjk == "char":
            return (_CHAR_KEEP_RE if self.punctuation == "keep" else _CHAR_DROP_RE).findall(text)
        return self._split_runs(text)

    def _split_runs(self, text: str) -> list[str]:
        """The rules match by match (every ``cjk`` mode) on normalised, case-folded text."""
        keep_punct = self.punctuation == "keep"
        chars = self.cjk != "bigram"
        bigrams = self.cjk != "char"
        out: list[str] = []
        for m in _TOKEN_RE.finditer(text):
            kind = m.lastgroup
            tok = m.group()
            if kind == "word":
                out.append(tok)
            elif kind == "cjk":
                if chars or len(tok) == 1:
                    out.extend(tok)
                if bigrams:
                    out.extend(tok[i:i + 2] for i in range(len(tok) - 1))
            elif keep_punct:
                out.append(tok)
        return out

    def tokenize_many(self, docs) -> list[list[str]]:
        """Tokenize every document of an iterable.

        Parameters
        ----------
        docs : iterable of str

        Returns
        -------
        tokens : list of list of str
        """
        self._check()
        return [self._split(d) for d in docs]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
