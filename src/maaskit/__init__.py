"""maaskit: train, version and serve entertainment models with compiled kernels.

>>> from maaskit import Recommender
"""

from ._config import config_context, get_config, set_config
from .exceptions import (
    ArtifactError,
    ColdStartWarning,
    MaaskitError,
    ModelFitError,
    UnknownIdError,
)

__version__ = "0.1.0"

# Everything beyond the config and the exceptions loads on first use (PEP 562), so that
# `import maaskit` (and so `maaskit --help`, a server start, a Dask worker) costs milliseconds:
# pandas, scipy and the kernels load with the first estimator asked for; scikit-learn and
# torch only with the estimators that need them.
_LAZY = {
    "Recommender": "recommender", "Popularity": "recommender",
    "save": "persistence", "load": "persistence",
    "MLPClassifier": "neural_network", "MLPRegressor": "neural_network",
    "CNNClassifier": "neural_network", "CRNNClassifier": "neural_network",
    "RNNClassifier": "neural_network",
    "RNNRegressor": "neural_network", "TransformerClassifier": "neural_network",
    "GAN": "neural_network",
    "LinearRegression": "linear_model", "LogisticRegression": "linear_model",
    "SGDClassifier": "linear_model", "SGDRegressor": "linear_model",
    "SVMClassifier": "svm",
    "RandomForestClassifier": "ensemble", "RandomForestRegressor": "ensemble",
    "Tokenizer": "text", "Word2Vec": "text", "DocumentVectorizer": "text",
    "SentimentClassifier": "text",
    "Registry": "registry",
    # Subclasses scikit-learn's NotFittedError: importing scikit-learn costs 1-2 s.
    "NotFittedError": "exceptions",
}


# Subpackages reachable as attributes after a bare `import maaskit`, as before they were lazy.
_SUBMODULES = frozenset({
    "client", "datasets", "distributed", "ensemble", "exceptions", "linear_model", "metrics",
    "model_selection", "neural_network", "persistence", "recommender", "registry", "serving",
    "svm", "text", "utils",
})


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'maaskit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "config_context",
    "get_config",
    "set_config",
    "ArtifactError",
    "ColdStartWarning",
    "MaaskitError",
    "ModelFitError",
    "UnknownIdError",
    *_LAZY,
]
