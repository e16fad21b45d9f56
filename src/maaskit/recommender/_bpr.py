"""Bayesian personalised ranking (Rendle et al. 2009) trained by Hogwild SGD.

Kernels: ``bpr`` (``bpr_epoch``: one epoch of SGD on (user, positive, negative) triples
with uniform negative sampling and a per-thread xorshift64* generator), ``topk``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._backend import get_kernel
from .._config import effective_n_threads
from ..exceptions import ModelFitError
from .._schema import Arr, Attr, Rule
from ..persistence import register
from ..utils._param_validation import Interval
from ._base import COMMON_CONSTRAINTS, BaseRecommender


@register
class BPR(BaseRecommender):
    """Matrix factorisation with item biases that ranks seen items above unseen ones.

    Each epoch draws as many triples ``(u, i, j)`` as there are interactions: ``(u, i)`` an
    interaction, ``j`` an item drawn uniformly at random, and takes one SGD step on
    ``-log sigmoid(x_u . y_i + b_i - x_u . y_j - b_j)`` plus L2 regularisation. Threads
    update the shared factors without locks (Hogwild); with ``n_jobs=1`` training is
    exactly reproducible for a given ``random_state``.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the latent factors (the item bias comes on top).
    learning_rate : float, default=0.02
        SGD step size (0.02 with ``regularization=0.01`` was best of a grid on MovieLens 100k).
    regularization : float, default=0.01
        L2 penalty on the factors and item biases.
    max_iter : int, default=100
        Number of epochs.
    verify_negative_samples : bool, default=True
        Redraw negatives the user has interacted with (up to 10 draws, else the triple
        is skipped).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation and of the sampling.
    n_jobs : int, default=None
        Threads; ``None`` uses the global ``n_threads`` setting (all cores by default).
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Training runs on the CPU; the parameter is kept for a uniform interface.
    verbose : int, default=0
        Print the share of correctly ranked triples per epoch when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors + 1), float32
        User factors; the last column is the constant 1 that multiplies the item bias.
    item_factors_ : ndarray of shape (n_items_, n_factors + 1), float32
        Item factors; the last column is the item bias.
    n_iter_ : int
        Epochs run.
    train_accuracy_ : float
        Share of the last epoch's triples that were ranked correctly before their step.
    user_index_ : IdIndex
        Known user ids.
    item_index_ : IdIndex
        Known item ids.
    n_users_ : int
        Number of known users.
    n_items_ : int
        Number of known items.
    item_popularity_ : ndarray of shape (n_items_,)
        Interaction count per item (popularity fallback for unknown users).
    seen_indptr_, seen_indices_, seen_values_ : ndarray
        Training interactions as CSR (users x items), duplicates summed.
    input_was_pandas_ : bool
        Whether ``fit`` got a DataFrame.
    device_ : str
        Device used for training (``"cpu"``).
    backend_ : str
        Resolved kernel backend.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.recommender import BPR
    >>> df = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 0, 1, 2]})
    >>> model = BPR(n_factors=4, max_iter=5, random_state=0).fit(df)
    >>> model.item_factors_.shape
    (3, 5)
    """

    _implicit = True
    _kernel = "bpr"
    # one extra factor column holds the item bias
    _state_schema = BaseRecommender._state_schema.extend(
        arrays={"user_factors_": Arr("f4", ("n_users", "n_factors_1")),
                "item_factors_": Arr("f4", ("n_items", "n_factors_1"))},
        attrs={"train_accuracy_": Attr(float, min=0, max=1, optional=True)},
        rules=(Rule("header param 'n_factors'", "must equal the factor columns minus the bias column",
                    lambda d, a, arr, p: p["n_factors"] + 1 == d["n_factors_1"]),))
    _parameter_constraints = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "verify_negative_samples": ["boolean"],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_factors: int = 64, *, learning_rate: float = 0.02,
                 regularization: float = 0.01, max_iter: int = 100,
                 verify_negative_samples: bool = True, random_state=None,
                 n_jobs: int | None = None, backend: str = "auto", device: str = "auto",
                 verbose: int = 0) -> None:
        self.n_factors = n_factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.max_iter = max_iter
        self.verify_negative_samples = verify_negative_samples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend
        self.device = device
        self.verbose = verbose

    def _init_users(self, n: int, rng) -> np.ndarray:
        k = self.n_factors
        X = ((rng.random_sample((n, k + 1)) - 0.5) / k).astype(np.float32)
        X[:, k] = 1.0
        return X

    def _epochs(self, R: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, update_items: bool,
                rng, where: str) -> None:
        kern = get_kernel("bpr", self.backend_)
        indptr = np.ascontiguousarray(R.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(R.indices, dtype=np.int32)
        row_of = np.repeat(np.arange(R.shape[0], dtype=np.int32), np.diff(indptr))
        n_threads = effective_n_threads(self.n_jobs)
        seeds = rng.randint(0, 2**63 - 1, size=self.max_iter, dtype=np.int64)
        stats = np.zeros(2, dtype=np.int64)
        for epoch in range(self.max_iter):
            kern.bpr_epoch(indptr, indices, row_of, X, Y, float(self.learning_rate),
                           float(self.regularization), int(seeds[epoch]),
                           bool(self.verify_negative_samples), update_items, n_threads, stats)
            used = max(1, len(indices) - int(stats[1]))
            self.train_accuracy_ = float(stats[0]) / used
            if update_items:
                self.n_iter_ = epoch + 1
            if self.verbose:
                print(f"BPR: epoch {epoch + 1}/{self.max_iter}, correct {self.train_accuracy_:.4f}")
            if not (np.isfinite(X.sum()) and np.isfinite(Y.sum())):
                raise ModelFitError(
                    f"{where}: training diverged at epoch {epoch + 1} (factors are not "
                    f"finite). Try a smaller learning_rate or a larger regularization."
                )

    def _fit_model(self, users, items, values, R: sp.csr_matrix, rng) -> None:
        k = self.n_factors
        self.user_factors_ = self._init_users(self.n_users_, rng)
        Y = ((rng.random_sample((self.n_items_, k + 1)) - 0.5) / k).astype(np.float32)
        Y[:, k] = 0.0
        self.item_factors_ = Y
        self.n_iter_ = 0
        self.train_accuracy_ = 0.0
        self._epochs(R, self.user_factors_, self.item_factors_, True, rng, f"{self._name}.fit")

    def _grow(self, n_users, n_items, rng) -> None:
        k = self.n_factors
        self.user_factors_ = np.vstack([self.user_factors_, self._init_users(n_users, rng)])
        self.item_factors_ = np.vstack([self.item_factors_, np.zeros((n_items, k + 1), np.float32)])

    def _fold_in(self, users, items, values, R_full, touched_users, new_items, rng) -> None:
        # SGD epochs on the touched users' full rows with the item factors fixed. New
        # items (no factors yet) get their factors from a few SGD steps of their own
        # interactions with the user factors fixed: run the same kernel on the transpose.
        where = f"{self._name}.partial_fit"
        if len(new_items):
            Rt = R_full.T.tocsr()[new_items]
            Rt.sort_indices()
            k = self.n_factors
            # Item rows play "users": their constant column is the bias slot, so fold the
            # bias out and in around the call.
            Yn = ((rng.random_sample((len(new_items), k + 1)) - 0.5) / k).astype(np.float32)
            Yn[:, k] = 1.0
            Xu = np.ascontiguousarray(self.user_factors_.copy())
            Xu[:, k] = 0.0
            acc = getattr(self, "train_accuracy_", 0.0)
            self._epochs(Rt, Yn, Xu, False, rng, where)
            self.train_accuracy_ = acc
            Yn[:, k] = 0.0
            self.item_factors_[new_items] = Yn
        if len(touched_users):
            sub = R_full[touched_users]
            sub.sort_indices()
            Xs = np.ascontiguousarray(self.user_factors_[touched_users])
            acc = getattr(self, "train_accuracy_", 0.0)
            self._epochs(sub, Xs, self.item_factors_, False, rng, where)
            self.train_accuracy_ = acc
            self.user_factors_[touched_users] = Xs

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        return self.user_factors_[uidx]

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    def _item_embeddings(self) -> np.ndarray:
        return self.item_factors_[:, : self.n_factors]
