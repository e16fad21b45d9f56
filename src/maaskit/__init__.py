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
]
