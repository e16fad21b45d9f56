"""maaskit: train, version and serve entertainment models with compiled kernels.

>>> from maaskit import Recommender
"""

from ._config import config_context, get_config, set_config
from .exceptions import (
    ArtifactError,
    ColdStartWarning,
    MaaskitError,
    ModelFitError,
    NotFittedError,
    UnknownIdError,
)
from .persistence import load, save
from .recommender import Popularity, Recommender

__version__ = "0.1.0"

# Estimators beyond the recommenders load on first use (PEP 562), so `import maaskit` stays
# light: no neural, text or serving modules until they are asked for.
_LAZY = {
    "MLPClassifier": "neural_network", "MLPRegressor": "neural_network",
    "CNNClassifier": "neural_network", "RNNClassifier": "neural_network",
    "RNNRegressor": "neural_network", "TransformerClassifier": "neural_network",
    "GAN": "neural_network",
    "LinearRegression": "linear_model", "LogisticRegression": "linear_model",
    "SGDClassifier": "linear_model", "SGDRegressor": "linear_model",
    "SVMClassifier": "svm",
    "RandomForestClassifier": "ensemble", "RandomForestRegressor": "ensemble",
    "Tokenizer": "text", "Word2Vec": "text", "DocumentVectorizer": "text",
    "SentimentClassifier": "text",
    "Registry": "registry",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'maaskit' has no attribute {name!r}")
    import importlib

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
    "save",
    "load",
    "Popularity",
    "Recommender",
    "ArtifactError",
    "ColdStartWarning",
    "MaaskitError",
    "ModelFitError",
    "NotFittedError",
    "UnknownIdError",
    *_LAZY,
]
