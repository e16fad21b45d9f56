"""Word2Vec: quality on planted synonyms, streaming, persistence, errors, backends."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from maaskit.exceptions import NotFittedError
from maaskit.text import KeyedVectors, LineSentence, UnknownWordError, Word2Vec


def _hits(model, pairs, topn=5):
    return sum(b in [w for w, _ in model.wv.most_similar(a, topn=topn)] for a, b in pairs)


@pytest.mark.parametrize("sg", [0, 1])
@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_planted_synonyms_are_nearest_neighbours(topic_corpus, sg, backend):
    corpus, pairs = topic_corpus
    model = Word2Vec(32, window=3, min_count=1, sg=sg, epochs=5 if sg else 10, workers=1, seed=0,
                     backend=backend, sample=0).fit(corpus)
    assert model.backend_ == backend
    assert _hits(model, pairs, topn=1) >= len(pairs) - 1
    for a, b in pairs:  # a synonym is much closer than a frequent topic word
        assert model.wv.similarity(a, b) > model.wv.similarity(a, "t5w0") + 0.3
    untrained = Word2Vec(32, min_count=1, epochs=1, alpha=1e-9, min_alpha=0, workers=1).fit(corpus)
    assert _hits(untrained, pairs) <= 1


def test_two_workers_and_loss_history(topic_corpus):
    corpus, pairs = topic_corpus
    model = Word2Vec(32, window=3, min_count=1, epochs=8, workers=2, batch_words=500, seed=0,
                     compute_loss=True).fit(corpus)
    losses = [h["loss"] for h in model.history_]
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert all(h["words"] > 0 for h in model.history_)
    assert _hits(model, pairs) >= len(pairs) - 1
    assert model.words_per_second_ > 0
    assert model.corpus_count_ == len(corpus)
    assert model.corpus_total_words_ == sum(map(len, corpus))


def test_backends_agree_and_workers_1_is_reproducible(topic_corpus):
    corpus, _ = topic_corpus
    small = corpus[:300]
    kw = dict(vector_size=8, min_count=1, epochs=2, workers=1, seed=3)
    a = Word2Vec(backend="numba", **kw).fit(small)
    b = Word2Vec(backend="cython", **kw).fit(small)
    c = Word2Vec(backend="numba", **kw).fit(small)
    d = Word2Vec(backend="numpy", **kw).fit(small[:30])
    e = Word2Vec(backend="numba", **kw).fit(small[:30])
    np.testing.assert_array_equal(a.wv.vectors, c.wv.vectors)
    np.testing.assert_allclose(a.wv.vectors, b.wv.vectors, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(d.wv.vectors, e.wv.vectors, rtol=1e-3, atol=1e-5)


def test_streams_a_file_corpus_like_a_list(tmp_path, topic_corpus):
    corpus, _ = topic_corpus
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus[:400]) + "\n", encoding="utf-8")
    kw = dict(vector_size=8, min_count=2, epochs=2, workers=1, seed=0)
    streamed = Word2Vec(**kw).fit(LineSentence(path))
    listed = Word2Vec(**kw).fit(corpus[:400])
    assert streamed.wv.index_to_key == listed.wv.index_to_key
    np.testing.assert_array_equal(streamed.wv.vectors, listed.wv.vectors)
    assert list(LineSentence(path, max_sentence_length=5))[0] == corpus[0][:5]


def test_raw_strings_are_tokenized():
    model = Word2Vec(4, min_count=1, workers=1, epochs=1).fit(["Hello, World!", "hello 世界"] * 5)
    assert set(model.wv.index_to_key) == {"hello", "world", "世", "界"}
    assert model.wv.index_to_key[0] == "hello"  # sorted by count


def test_save_load_roundtrip(tmp_path, topic_corpus):
    corpus, pairs = topic_corpus
    model = Word2Vec(16, min_count=1, epochs=2, workers=1).fit(corpus[:300])
    path = model.save(tmp_path / "w2v.npz")
    loaded = Word2Vec.load(path)
    assert loaded.get_params() == model.get_params()
    assert loaded.wv.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(loaded.wv["t0w0"], model.wv["t0w0"])
    np.testing.assert_array_equal(loaded.syn1neg_, model.syn1neg_)
    assert loaded.wv.most_similar("t0w1", topn=3) == model.wv.most_similar("t0w1", topn=3)
    assert loaded.corpus_total_words_ == model.corpus_total_words_


def test_keyed_vectors_api():
    wv = KeyedVectors(["king", "queen", "man", "woman"],
                      np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    assert wv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    assert len(wv) == 4 and "king" in wv and "prince" not in wv
    assert wv[["man", "woman"]].shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(wv.get_vector("king", norm=True)), 1, rtol=1e-6)
    assert wv.similarity("man", "woman") == pytest.approx(0.0)
    with pytest.raises(UnknownWordError, match="word must be in the vocabulary of 4 words; got 'prince'"):
        wv["prince"]
    with pytest.raises(KeyError):
        wv.similarity("king", "prince")
    with pytest.raises(ValueError, match="topn must be a positive int"):
        wv.most_similar("king", topn=0)
    with pytest.raises(ValueError, match="positive or negative must name at least one word"):
        wv.most_similar()


def test_errors():
    with pytest.raises(ValueError, match="corpus must contain at least one token"):
        Word2Vec().fit([])
    with pytest.raises(ValueError, match="corpus must contain at least one token"):
        Word2Vec().fit([[], []])
    with pytest.raises(ValueError, match=r"vocabulary must hold at least 2 words .* got 1 \(\['a'\]\)"):
        Word2Vec(min_count=1).fit([["a", "a"], ["a"]])
    with pytest.raises(ValueError, match="Give more text or lower min_count"):
        Word2Vec(min_count=5).fit([["a", "b"]])
    with pytest.raises(TypeError, match="each sentence must be a str or a list of str tokens; got int"):
        Word2Vec().fit([["a"], 3])
    with pytest.raises(TypeError, match="each sentence must be a str or a list of str tokens; got int 1"):
        Word2Vec().fit([[1, 2]])
    with pytest.raises(TypeError, match="tokens must be str; got int"):
        Word2Vec().fit([["a", 1]])
    with pytest.raises(TypeError, match="corpus must be re-iterable"):
        Word2Vec().fit(s for s in [["a", "b"]])
    with pytest.raises(TypeError, match="corpus must be an iterable of sentences"):
        Word2Vec().fit("a b c")
    with pytest.raises(ValueError, match="The 'window' parameter of Word2Vec must be an int in the range"):
        Word2Vec(window=0).fit([["a", "b"]])
    with pytest.raises(ValueError, match="The 'sg' parameter of Word2Vec"):
        Word2Vec(sg=2).fit([["a", "b"]])
    with pytest.raises(NotFittedError, match="not fitted"):
        Word2Vec().wv


def test_divergence_raises_model_fit_error(topic_corpus):
    from maaskit.exceptions import ModelFitError

    corpus, _ = topic_corpus
    with pytest.raises(ModelFitError, match="try a smaller alpha"):
        Word2Vec(8, min_count=1, alpha=1e30, min_alpha=1e30, epochs=2, workers=1).fit(corpus[:200])


def test_sklearn_api_basics():
    est = Word2Vec(vector_size=7, window=2)
    assert clone(est).get_params() == est.get_params()
    assert not [k for k in vars(est) if k.endswith("_")]
    assert est.fit([["a", "b", "a", "b"]] * 5, None) is est
