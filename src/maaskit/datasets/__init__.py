"""Data sets: MovieLens readers and downloader, a synthetic catalogue generator and moving digits.

Interaction data throughout maaskit is a :class:`pandas.DataFrame` with columns ``user``
and ``item`` and, optionally, ``rating`` (float) and ``timestamp`` (int64 unix seconds).
"""

from ._home import find_data_home, get_data_home
from ._images import load_mnist
from ._moving import make_moving_digits
from ._movielens import fetch_movielens, load_movielens, load_movielens_features
from ._synthetic import load_default_catalogue, make_interactions
from ._text import load_sentiment

__all__ = [
    "get_data_home",
    "find_data_home",
    "load_movielens",
    "load_movielens_features",
    "fetch_movielens",
    "make_interactions",
    "load_default_catalogue",
    "load_mnist",
    "load_sentiment",
    "make_moving_digits",
]
