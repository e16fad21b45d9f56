"""Every estimator raises maaskit's NotFittedError before fit (issue 16 point 8).

maaskit's NotFittedError subclasses scikit-learn's, so ``except sklearn...NotFittedError``
keeps working; what is pinned here is that no estimator leaks scikit-learn's own class.
"""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path

import pytest
from sklearn.exceptions import NotFittedError as SkNotFittedError

from maaskit.exceptions import NotFittedError
from maaskit.persistence import _ALLOW_LIST

_cases = runpy.run_path(str(Path(__file__).parent / "_artifact_cases.py"))
RECOMMENDERS = {"ALS", "BPR", "HybridMF", "MatrixFactorization", "SVDpp", "Popularity", "Recommender", "SASRec"}


def _calls(name: str):
    """(method name, argument) pairs each estimator offers after fit."""
    if name in RECOMMENDERS:
        return [("recommend", "u0"), ("similar_items", "i1"), ("predict", _cases["PLAYS"][["user", "item"]])]
    return {
        "CNNClassifier": [("predict", _cases["IMG"]), ("predict_proba", _cases["IMG"])],
        "CRNNClassifier": [("predict", _cases["CLIPS"]), ("predict_proba", _cases["CLIPS"])],
        "RNNClassifier": [("predict", _cases["SEQ"])],
        "RNNRegressor": [("predict", _cases["SEQ"])],
        "TransformerClassifier": [("predict", _cases["SEQ"])],
        "GAN": [("sample", 2)],
        "Word2Vec": [("wv", None)],
        "FeatureEncoder": [("transform", _cases["FEATURES"])],
        "DocumentVectorizer": [("transform", _cases["DOCS"])],
        "SentimentClassifier": [("predict", _cases["DOCS"]), ("predict_proba", _cases["DOCS"]),
                                ("decision_function", _cases["DOCS"])],
    }.get(name, [("predict", _cases["X"]), ("predict_proba", _cases["X"]),
                 ("decision_function", _cases["X"])])


def _classes():
    for key, module in sorted(_ALLOW_LIST.items()):
        name = key.rsplit(".", 1)[1]
        yield pytest.param(getattr(importlib.import_module(module), name), name, id=name)


@pytest.mark.parametrize("cls, name", list(_classes()))
def test_unfitted_estimators_raise_maaskits_not_fitted_error(cls, name):
    est = cls()
    tried = 0
    for method, arg in _calls(name):
        if not hasattr(type(est), method):
            continue
        try:
            attr = getattr(est, method)
            if arg is not None:
                attr(arg)
        except SkNotFittedError as exc:
            assert type(exc) is NotFittedError, f"{name}.{method} raised {type(exc)}"
            assert name in str(exc)
            tried += 1
        except AttributeError:
            pass  # a method that exists only for some parameters (predict_proba)
        else:
            pytest.fail(f"{name}.{method} worked before fit")
    assert tried
