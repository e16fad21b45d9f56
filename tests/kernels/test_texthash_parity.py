"""The texthash kernel: Numba and Cython against the NumPy reference, and all of them against the
feature rules of ``SentimentClassifier`` (strings built in Python, hashed with Python integers)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import texthash as ref
from maaskit.text._sentiment import _encode, _feature_string
from maaskit.text._tokenizer import Tokenizer

BACKENDS = ("numpy", "numba", "cython")
_MASK = (1 << 64) - 1


def _fnv(s: str) -> int:
    h = 0xCBF29CE484222325
    for ch in s:
        h = ((h ^ ord(ch)) * 0x100000001B3) & _MASK
    return h


def _rules(tokens, word_ngrams, minn, maxn):
    """The feature strings of one document, as the pre-kernel Python code built them."""
    feats = list(tokens)
    for n in range(2, word_ngrams + 1):
        feats.extend("\x01".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    if maxn > 0:
        for w in tokens:
            if len(w) >= 2:
                s = f"<{w}>"
                feats.extend("\x02" + s[i:i + n] for n in range(minn, maxn + 1) for i in range(len(s) - n + 1))
    return feats


DOCS = {
    "english": ["A gripping, well-acted film!", "boring ... and too long", "ok"],
    "chinese": ["这部电影很好看，推荐", "服务态度差", "酒店 不错"],
    "unicode": ["naïve café 😀😀 déjà-vu", "\ud800 lone surrogate", "x y z"],
    "empty": ["", "   ", "word", ""],
    "long": [" ".join(f"w{i % 97}x{i}" for i in range(800))],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(DOCS))
@pytest.mark.parametrize("word_ngrams,minn,maxn", [(2, 3, 5), (1, 0, 0), (3, 1, 2), (2, 2, 64)])
def test_doc_features_match_rules_and_reference(backend, case, word_ngrams, minn, maxn):
    tok = Tokenizer(punctuation="keep")
    token_lists = [tok(d) for d in DOCS[case]]
    buf, codes, ts, te, dt = _encode(token_lists)
    kern = get_kernel("texthash", backend)
    indptr, hashes, starts, ends, kinds = kern.doc_features(codes, ts, te, dt, word_ngrams, minn, maxn)
    r = ref.doc_features(codes, ts, te, dt, word_ngrams, minn, maxn)
    for got, want in zip((indptr, hashes, starts, ends, kinds), r):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for d, toks in enumerate(token_lists):
        want = _rules(toks, word_ngrams, minn, maxn)
        lo, hi = indptr[d], indptr[d + 1]
        got_s = [_feature_string(buf, s, e, k) for s, e, k in zip(starts[lo:hi], ends[lo:hi], kinds[lo:hi])]
        assert got_s == want
        assert hashes[lo:hi].tolist() == [_fnv(f) for f in want]


@pytest.mark.parametrize("backend", BACKENDS)
def test_hash_strings_match_reference_and_python(backend):
    strs = ["", "a", "\x02<ab>", "电影", "😀", "\ud800", "x" * 500]
    codes = np.frombuffer("".join(strs).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in strs])]).astype(np.int64)
    got = get_kernel("texthash", backend).hash_strings(codes, offsets)
    np.testing.assert_array_equal(got, ref.hash_strings(codes, offsets))
    assert got.tolist() == [_fnv(s) for s in strs]
    empty = get_kernel("texthash", backend).hash_strings(np.zeros(0, np.uint32), np.zeros(1, np.int64))
    assert empty.shape == (0,) and empty.dtype == np.uint64


def test_no_documents():
    for backend in BACKENDS:
        _, codes, ts, te, dt = _encode([])
        out = get_kernel("texthash", backend).doc_features(codes, ts, te, dt, 2, 3, 5)
        assert out[0].tolist() == [0] and all(len(a) == 0 for a in out[1:])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,distinct", [(0, 1), (1, 1), (500, 7), (3000, 2500)])
def test_dedup_matches_reference(backend, n, distinct):
    rng = np.random.RandomState(n)
    pool = rng.randint(0, 2**63, distinct, dtype=np.int64).astype(np.uint64) * np.uint64(3)  # top bits set too
    h = pool[rng.randint(0, distinct, n)]
    first, inv = get_kernel("texthash", backend).dedup(h)
    first_r, inv_r = ref.dedup(h)
    np.testing.assert_array_equal(first, first_r)
    np.testing.assert_array_equal(inv, inv_r)
    np.testing.assert_array_equal(h[first[inv]], h)
    assert first.dtype == inv.dtype == np.int64


def test_hash_is_the_same_in_another_process():
    # PYTHONHASHSEED differs per process; the feature hash must not depend on it
    code = ("import numpy as np; from maaskit._backend import get_kernel; "
            "c = np.frombuffer('good film 电影'.encode('utf-32-le'), dtype=np.uint32); "
            "print(get_kernel('texthash', 'auto').hash_strings(c, np.array([0, 4, 9, 12])).tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == str([_fnv("good"), _fnv(" film"), _fnv(" 电影")])


@pytest.mark.parametrize("backend", ["auto", "numba", "numpy"])
def test_sentiment_vocabulary_and_saved_model_unchanged(backend):
    # the rows of a model are the sorted distinct feature strings of the pre-kernel code, and a
    # model read back (no cached hash table) predicts exactly what the fitted one did
    from maaskit.persistence import dumps, loads
    from maaskit.text import SentimentClassifier

    docs = DOCS["english"] + DOCS["chinese"] + DOCS["unicode"] + ["good good film", "bad film"]
    y = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0][:len(docs)]
    clf = SentimentClassifier(dim=4, epochs=2, calibration=None, backend=backend).fit(docs, y)
    tok = Tokenizer(punctuation="keep")
    want = sorted({f for d in docs for f in _rules(tok(d), 2, 3, 5)})
    assert clf.vocabulary_.tolist() == want
    back = loads(dumps(clf))
    assert not hasattr(back, "_lookup")
    test = ["good film", "", "电影 很好", "unseen words only", "\ud800"]
    np.testing.assert_array_equal(back.decision_function(test), clf.decision_function(test))
