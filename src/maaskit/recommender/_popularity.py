"""Most-popular baseline: every user gets the items with the most interactions.

Kernels: ``topk``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..persistence import register
from ..utils._param_validation import Options
from ._base import BaseRecommender


@register
class Popularity(BaseRecommender):
    """Recommend the most popular items not yet seen: the baseline every model must beat.

    Parameters
    ----------
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation for top-k.
    n_jobs : int, default=None
        Threads for top-k; ``None`` uses all cores.

    Attributes
    ----------
    user_index_ : IdIndex
        Known user ids.
    item_index_ : IdIndex
        Known item ids.
    n_users_ : int
        Number of known users.
    n_items_ : int
        Number of known items.
    item_popularity_ : ndarray of shape (n_items_,)
        Interaction count per item.
    seen_indptr_, seen_indices_, seen_values_ : ndarray
        Training interactions as CSR (users x items).
    input_was_pandas_ : bool
        Whether ``fit`` got a DataFrame.
    device_ : str
        Always ``"cpu"``.
    backend_ : str
        Resolved kernel backend.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.recommender import Popularity
    >>> df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    >>> ids, scores = Popularity().fit(df).recommend("b", n=1, output="numpy")
    >>> ids.tolist()
    ['y']
    """

    _implicit = True
    _parameter_constraints = {
        "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
        "n_jobs": [int, None],
    }

    def __init__(self, *, backend: str = "auto", n_jobs: int | None = None) -> None:
        self.backend = backend
        self.n_jobs = n_jobs

    def _fit_model(self, users, items, values, R: sp.csr_matrix, rng) -> None:
        pass

    def _grow(self, n_users, n_items, rng) -> None:
        pass

    def _fold_in(self, users, items, values, R, touched_users, new_items, rng) -> None:
        pass

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        return np.ones((len(uidx), 1), dtype=np.float32)

    def _item_vectors(self) -> np.ndarray:
        return self.item_popularity_.astype(np.float32)[:, None]
