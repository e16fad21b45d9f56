"""The persistence allow-list: every class an artifact may name, and ``@register``.

Shared by :mod:`maaskit.persistence` and :mod:`maaskit._sklearn_io` (which must know which
objects inside a scikit-learn pipeline are maaskit estimators), so neither imports the other.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["register"]

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)

# The allow-list: every class an artifact may name, with the module that defines it. It is
# written here, in maaskit's code (never read from an artifact), and it is complete at import
# of this module whatever else has been imported; a class's module is imported only when an
# artifact names it (so ``import maaskit`` stays light). tests/test_persistence.py checks that
# it matches the @register decorators.
_ALLOW_LIST: dict[str, str] = {
    "maaskit.ensemble.RandomForestClassifier": "maaskit.ensemble._forest",
    "maaskit.ensemble.RandomForestRegressor": "maaskit.ensemble._forest",
    "maaskit.linear_model.LinearRegression": "maaskit.linear_model._linear_regression",
    "maaskit.linear_model.LogisticRegression": "maaskit.linear_model._logistic",
    "maaskit.linear_model.SGDClassifier": "maaskit.linear_model._sgd",
    "maaskit.linear_model.SGDRegressor": "maaskit.linear_model._sgd",
    "maaskit.neural_network.CNNClassifier": "maaskit.neural_network._cnn",
    "maaskit.neural_network.CRNNClassifier": "maaskit.neural_network._crnn",
    "maaskit.neural_network.GAN": "maaskit.neural_network._gan",
    "maaskit.neural_network.MLPClassifier": "maaskit.neural_network._mlp",
    "maaskit.neural_network.MLPRegressor": "maaskit.neural_network._mlp",
    "maaskit.neural_network.RNNClassifier": "maaskit.neural_network._rnn",
    "maaskit.neural_network.RNNRegressor": "maaskit.neural_network._rnn",
    "maaskit.neural_network.TransformerClassifier": "maaskit.neural_network._transformer",
    "maaskit.recommender.ALS": "maaskit.recommender._als",
    "maaskit.recommender.BPR": "maaskit.recommender._bpr",
    "maaskit.recommender.FeatureEncoder": "maaskit.recommender._features",
    "maaskit.recommender.HybridMF": "maaskit.recommender._hybrid",
    "maaskit.recommender.MatrixFactorization": "maaskit.recommender._mf",
    "maaskit.recommender.Popularity": "maaskit.recommender._popularity",
    "maaskit.recommender.Recommender": "maaskit.recommender._recommender",
    "maaskit.recommender.SASRec": "maaskit.recommender._sasrec",
    "maaskit.recommender.SVDpp": "maaskit.recommender._svdpp",
    "maaskit.svm.SVMClassifier": "maaskit.svm._classifier",
    "maaskit.text.DocumentVectorizer": "maaskit.text._vectorizer",
    "maaskit.text.SentimentClassifier": "maaskit.text._sentiment",
    "maaskit.text.Word2Vec": "maaskit.text._word2vec",
}


def _resolve(key: Any) -> type | None:
    """The class an artifact names, importing only its own module; ``None`` if not allowed."""
    if not isinstance(key, str) or key not in _ALLOW_LIST and key not in _REGISTRY:
        return None
    if key not in _REGISTRY:
        import importlib

        importlib.import_module(_ALLOW_LIST[key])
    return _REGISTRY.get(key)


def register(estimator_class: T) -> T:
    """Class decorator: allow ``estimator_class`` to be loaded from an artifact.

    The class must also declare ``_state_schema``, a :class:`StateSchema` saying what its
    saved state must satisfy (see :mod:`maaskit._schema`); loading refuses a class without
    one, since an unchecked state could reach its code.

    Parameters
    ----------
    estimator_class : type
        An estimator class implementing ``_get_state`` / ``_set_state``.

    Returns
    -------
    estimator_class : type
    """
    cls = estimator_class
    _REGISTRY[f"{cls.__module__.split('._')[0]}.{cls.__qualname__}"] = cls
    return cls


