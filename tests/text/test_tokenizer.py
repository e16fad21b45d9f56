"""Tokenizer rules for English and Chinese, and its use inside scikit-learn vectorizers."""

from __future__ import annotations

import pickle
import unicodedata

import numpy as np

import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from maaskit.text import Tokenizer


def test_english_words_case_and_apostrophes():
    assert Tokenizer()("Don't PANIC, it's 42 o'clock!") == ["don't", "panic", "it's", "42", "o'clock"]
    assert Tokenizer(lowercase=False)("New York") == ["New", "York"]
    # PTB-tokenised text (SST-2) keeps its clitics as tokens.
    assert Tokenizer()("it wo n't work") == ["it", "wo", "n't", "work"]
    assert Tokenizer()("snake_case café naïve") == ["snake", "case", "café", "naïve"]


def test_chinese_chars_bigrams_and_mixed_text():
    text = "这家酒店很好，服务不错！Wi-Fi 很快"
    assert Tokenizer()(text) == list("这家酒店很好服务不错") + ["wi", "fi"] + list("很快")
    assert Tokenizer(cjk="bigram")("酒店很好 好") == ["酒店", "店很", "很好", "好"]
    assert Tokenizer(cjk="char+bigram")("很好") == ["很", "好", "很好"]


def test_full_width_forms_are_normalised():
    assert Tokenizer()("ＡＢＣ１２３，ｏｋ") == ["abc123", "ok"]


def test_punctuation_keep_and_drop():
    assert Tokenizer(punctuation="keep")("great!! :)") == ["great", "!", "!", ":", ")"]
    assert Tokenizer()("great!! :)") == ["great"]
    assert Tokenizer(punctuation="keep")("好！") == ["好", "!"]
    assert Tokenizer()("") == []


def test_errors():
    with pytest.raises(TypeError, match=r"Tokenizer.__call__: doc must be a str; got int"):
        Tokenizer()(3)
    with pytest.raises(ValueError, match="The 'cjk' parameter of Tokenizer must be"):
        Tokenizer(cjk="words")("x")
    with pytest.raises(ValueError, match="The 'punctuation' parameter of Tokenizer must be"):
        Tokenizer(punctuation="maybe")("x")


def test_as_sklearn_analyzer_with_clone_pickle_and_grid_search():
    docs = ["好 酒店", "差 酒店", "很 好", "很 差", "good hotel", "bad hotel"] * 4
    y = [1, 0, 1, 0, 1, 0] * 4
    vec = TfidfVectorizer(analyzer=Tokenizer(cjk="char+bigram"))
    X = clone(vec).fit(docs)
    assert "酒店" in X.vocabulary_ and "good" in X.vocabulary_
    assert pickle.loads(pickle.dumps(Tokenizer(cjk="bigram")))("很好") == ["很好"]
    pipe = make_pipeline(CountVectorizer(analyzer=Tokenizer()), LogisticRegression())
    gs = GridSearchCV(pipe, {"countvectorizer__analyzer__cjk": ["char", "bigram"]}, cv=2).fit(docs, y)
    assert gs.best_score_ == 1.0
    assert Tokenizer().tokenize_many(["a b", "c"]) == [["a", "b"], ["c"]]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["char", "bigram", "char+bigram"]),
       st.sampled_from(["drop", "keep"]))
def test_fuzz_tokens_are_nonempty_and_spaceless(text, cjk, punctuation):
    toks = Tokenizer(cjk=cjk, punctuation=punctuation)(text)
    assert all(t and not any(c.isspace() for c in t) for t in toks)
    assert all(t == t.casefold() for t in toks)
    if punctuation == "drop":
        assert all(any(c.isalnum() for c in t) for t in toks)


# Text that exercises every rule: Latin words with inner apostrophes, underscores, digits,
# full-width forms (NFKC), Han and kana runs, Hangul, punctuation, emoji, odd whitespace.
_ALPHABET = "ab Z9_'\u2019-!?.,\u3000\uff21\uff0c\u4e2d\u6587\u3042\u30a2\ud55c\U0001f600\U00020001\t\n\u00e9\u0301"


@pytest.mark.parametrize("punctuation", ["keep", "drop"])
@pytest.mark.parametrize("lowercase", [True, False])
def test_char_mode_fast_path_matches_the_rules(punctuation, lowercase):
    """cjk="char" tokenizes with one findall; it must give the match-by-match rules' tokens."""
    rng = np.random.RandomState(0)
    tok = Tokenizer(cjk="char", punctuation=punctuation, lowercase=lowercase)
    docs = ["".join(rng.choice(list(_ALPHABET), size=rng.randint(0, 40))) for _ in range(3000)]
    docs += ["Don't PANIC: 这家酒店很好!", "l'été’s  ＡＢＣ，好", "_a_b__c_", "''x''", "x'", "'x"]
    for doc in docs:
        text = unicodedata.normalize("NFKC", doc)
        text = text.casefold() if lowercase else text
        assert tok(doc) == tok._split_runs(text), doc
    assert tok.tokenize_many(docs) == [tok(d) for d in docs]
