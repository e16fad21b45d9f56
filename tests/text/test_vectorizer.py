"""DocumentVectorizer in pipelines and grid search, persistence and errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from maaskit.text import DocumentVectorizer


def _docs(topic_corpus):
    corpus, _ = topic_corpus
    # Label: whether the sentence's topic is one of the first three.
    docs = [" ".join(s) for s in corpus[:400]]
    y = np.array([int(next(w for w in s if w.startswith("t"))[1]) < 3 for s in corpus[:400]], dtype=int)
    return docs, y


def test_pipeline_and_grid_search(topic_corpus):
    docs, y = _docs(topic_corpus)
    pipe = make_pipeline(DocumentVectorizer(vector_size=16, epochs=20), LogisticRegression(max_iter=500))
    gs = GridSearchCV(pipe, {"documentvectorizer__sg": [0, 1]}, cv=2).fit(docs, y)
    assert gs.best_score_ > 0.8  # topics are separable from mean vectors; chance is ~0.5
    V = gs.best_estimator_[0].transform(docs[:5] + ["", "unknown words only"])
    assert V.shape == (7, 16) and V.dtype == np.float32
    assert np.all(V[5:] == 0)
    assert gs.best_estimator_[0].get_feature_names_out()[0] == "documentvectorizer0"


def test_save_load_identical_transform(tmp_path, topic_corpus):
    docs, _ = _docs(topic_corpus)
    vec = DocumentVectorizer(vector_size=8, epochs=2).fit(docs)
    loaded = DocumentVectorizer.load(vec.save(tmp_path / "dv.npz"))
    np.testing.assert_array_equal(loaded.transform(docs[:20]), vec.transform(docs[:20]))


def test_errors_and_api():
    est = DocumentVectorizer(vector_size=3)
    assert clone(est).get_params() == est.get_params()
    assert not [k for k in vars(est) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        est.transform(["a"])
    with pytest.raises(TypeError, match=r"DocumentVectorizer.fit: every document must be a str; got int 5 at index 1"):
        est.fit(["a b", 5])
    with pytest.raises(ValueError, match="DocumentVectorizer.fit: X must contain at least one document; got 0"):
        est.fit([])
    with pytest.raises(TypeError, match="not a single str"):
        est.fit("a b c")
    with pytest.raises(ValueError, match=r"DocumentVectorizer.fit: the vocabulary must hold at least 2 words"):
        est.fit(["same same", "same"])
    with pytest.raises(ValueError, match="The 'vector_size' parameter of DocumentVectorizer"):
        DocumentVectorizer(vector_size=0).fit(["a b"])
