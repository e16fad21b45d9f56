"""Biased matrix factorisation for explicit ratings, trained by SGD (Funk / Surprise SVD).

Kernels: ``sgd`` (one epoch of SGD; Hogwild over rating chunks when ``n_jobs > 1``), ``topk``.
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

_RATINGS_PER_THREAD = 250_000


def _permutation(rng: np.random.RandomState, n: int) -> np.ndarray:
    """A random order of ``0..n-1`` drawn by a Generator seeded from ``rng`` (deterministic
    for a given random_state; 1.5x faster than ``RandomState.permutation`` on 80k ratings)."""
    return np.random.default_rng(rng.randint(0, 2**31 - 1)).permutation(n)


class _RatingFactorModel(BaseRecommender):
    """Shared parts of the rating models ``r_hat = mu + b_u + b_i + <user factor, q_i>``."""

    _implicit = False

    # Arrays scaled with the ratings (biases linearly, each side of a dot product by the
    # square root); SVD++ adds its implicit factors.
    _scaled_factors: tuple[str, ...] = ("user_factors_", "item_factors_")

    @staticmethod
    def _rating_unit(values: np.ndarray) -> float:
        # SGD's step sizes and regularisation were tuned on 1-5 stars: training runs on
        # ratings divided by this unit (the largest absolute rating over 5), so that 0-100
        # scores train exactly as 0-5 stars would instead of diverging at epoch 1. It is 1.0
        # on 1-5 stars (and on any data topping out at 5), where nothing changes. A unit from
        # the observed range would rescale a 4-5-only sample by 4.
        top = float(np.abs(values).max()) if len(values) else 0.0
        return top / 5.0 if top > 0 else 1.0

    def _rescale(self, factor: float) -> None:
        """Multiply the model's predictions by ``factor`` (to and from training units)."""
        if factor == 1.0:
            return
        self.global_mean_ = float(self.global_mean_ * factor)
        self.user_bias_ *= np.float32(factor)
        self.item_bias_ *= np.float32(factor)
        root = np.float32(np.sqrt(factor))
        for name in self._scaled_factors:
            getattr(self, name)[...] *= root

    def _threads(self, nnz: int) -> int:
        # Hogwild threads share the item rows; below ~250k ratings per thread the cache-line
        # traffic costs more than the second core brings (measured on MovieLens 100k).
        return max(1, min(effective_n_threads(self.n_jobs), nnz // _RATINGS_PER_THREAD))

    def _init_rows(self, n: int, rng: np.random.RandomState) -> np.ndarray:
        # Drawn in float32 by a Generator seeded from ``rng`` (deterministic for a given
        # random_state): RandomState's float64 Box-Muller plus the cast cost 2x as much, a
        # visible part of a tuned fit that initialises seven factor matrices.
        gen = np.random.default_rng(rng.randint(0, 2**31 - 1))
        out = gen.standard_normal((n, self.n_factors), dtype=np.float32)
        out *= np.float32(self.init_std)
        return out

    def _grow(self, n_users: int, n_items: int, rng: np.random.RandomState) -> None:
        if n_users:
            self.user_factors_ = np.vstack([self.user_factors_, self._init_rows(n_users, rng)])
            self.user_bias_ = np.concatenate([self.user_bias_, np.zeros(n_users, np.float32)])
        if n_items:
            self.item_factors_ = np.vstack([self.item_factors_, self._init_rows(n_items, rng)])
            self.item_bias_ = np.concatenate([self.item_bias_, np.zeros(n_items, np.float32)])

    def _user_factor_rows(self, uidx: np.ndarray) -> np.ndarray:
        return self.user_factors_[uidx]

    # Arrays with one row per user / per item (permuted when a fit resumes on re-numbered ids).
    _user_rows: tuple[str, ...] = ("user_factors_", "user_bias_")
    _item_rows: tuple[str, ...] = ("item_factors_", "item_bias_")

    def _train_all(self, users, items, values, rng, start: int, where: str, R=None) -> None:
        """Run epochs ``start..max_iter`` on all the given ratings (in training units);
        ``R`` is the same ratings as the CSR that ``_prepare`` built, when at hand."""
        raise NotImplementedError

    def _resume(self, prep, start: int, rng: np.random.RandomState, where: str) -> bool:
        """Continue a fit that ran ``start`` epochs on part of ``prep``'s ratings, on all of them.

        The SGD schedule depends only on the epoch number, so epochs ``start..max_iter`` on
        all the ratings finish the training that a validation fit began (a warm start for
        ``Recommender(tune=...)``'s refit). Returns False, changing nothing, when ``prep``
        has a user or item this model has not seen or another rating unit: the caller then
        fits from scratch.
        """
        unit = getattr(self, "rating_unit_", 1.0)
        if self._rating_unit(prep.values) != unit:
            return False
        # The search's training part shares the full data's id indices: same numbering.
        if prep.user_index is not self.user_index_ or prep.item_index is not self.item_index_:
            users = self.user_index_.lookup(prep.user_index.ids)
            items = self.item_index_.lookup(prep.item_index.ids)
            if (len(users) != self.n_users_ or len(items) != self.n_items_ or (users < 0).any()
                    or (items < 0).any()):
                return False
            # Rows follow prep's numbering, so the model ends as a fit on prep would number it.
            for name in self._user_rows:
                setattr(self, name, np.ascontiguousarray(getattr(self, name)[users]))
            for name in self._item_rows:
                setattr(self, name, np.ascontiguousarray(getattr(self, name)[items]))
        self._adopt(prep)
        self._rescale(1.0 / unit)
        # The biases learned around the training part's mean keep it; mu moves to all ratings.
        self.global_mean_ = float(prep.values.mean()) / unit
        self._train_all(prep.users, prep.items, prep.values / unit, rng, start, where, prep.R)
        self._rescale(unit)
        self._check_divergence(where)
        return True

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        uidx = np.asarray(uidx)
        out = np.empty((len(uidx), self.n_factors + 2), dtype=np.float32)
        out[:, : self.n_factors] = self._user_factor_rows(uidx)
        out[:, -2] = 1.0
        out[:, -1] = self.global_mean_ + self.user_bias_[uidx]
        return out

    def _item_vectors(self) -> np.ndarray:
        out = np.empty((self.n_items_, self.n_factors + 2), dtype=np.float32)
        out[:, : self.n_factors] = self.item_factors_
        out[:, -2] = self.item_bias_
        out[:, -1] = 1.0
        return out

    def _cold_user_vector(self) -> np.ndarray:
        v = np.zeros(self.n_factors + 2, dtype=np.float32)
        v[-2], v[-1] = 1.0, self.global_mean_  # -> mu + b_i
        return v

    def _cold_item_vector(self) -> np.ndarray:
        v = np.zeros(self.n_factors + 2, dtype=np.float32)
        v[-1] = 1.0  # -> mu + b_u
        return v

    def _item_embeddings(self) -> np.ndarray:
        return self.item_factors_

    def _epoch_check(self, sse: float, epoch: int, n: int, where: str) -> None:
        if not np.isfinite(sse):
            raise ModelFitError(
                f"{where}: training diverged at epoch {epoch + 1} (the training error is not "
                f"finite). Try a smaller learning_rate or a larger regularization."
            )
        if self.verbose:
            print(f"[{self._name}] epoch {epoch + 1}: train RMSE {np.sqrt(sse / max(n, 1)):.4f}")


@register
class MatrixFactorization(_RatingFactorModel):
    """Biased matrix factorisation of explicit ratings trained by stochastic gradient descent.

    Predicts ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i`` (the "SVD" of Funk and of
    Surprise) and minimises the squared error plus L2 penalties by SGD over the ratings in
    a random order fixed at the start of ``fit``. With ``n_jobs > 1`` the compiled kernels
    run lock-free (Hogwild) over contiguous chunks of that order. Predictions are clipped to
    the training rating range.

    The defaults were tuned on MovieLens 100k (5-fold CV): mean RMSE about 0.912 in about
    0.05 s per fold on 2 cores, against 0.934 for Surprise ``SVD`` with its defaults
    (see ``benchmarks/bench_explicit.py``).

    Parameters
    ----------
    n_factors : int, default=32
        Number of latent factors.
    max_iter : int, default=20
        Number of SGD epochs (also the epochs ``partial_fit`` runs on the new ratings).
    learning_rate : float, default=0.03
        SGD step size for the factors in the first epoch.
    learning_rate_decay : float, default=0.95
        Both step sizes are multiplied by this after every epoch.
    regularization : float, default=0.1
        L2 strength for the factors.
    bias_learning_rate : float, default=None
        Step size for the biases in the first epoch; ``None`` uses ``learning_rate``.
    bias_regularization : float, default=None
        L2 strength for the biases; ``None`` uses ``regularization``.
    init_std : float, default=0.05
        Standard deviation of the normal initialisation of the factors.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the rating order.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation (``"numpy"`` is the slow, readable reference).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Stored for API symmetry; training always runs on the CPU.
    n_jobs : int, default=None
        Threads for the SGD kernel and top-k; ``None`` uses all cores. SGD runs lock-free
        (Hogwild) on at most one thread per 250k ratings, since smaller data sets train
        faster on one core. With one thread the result is deterministic for a given
        ``random_state``.
    verbose : int, default=0
        Print the training RMSE after every epoch when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors), float32
        Learned user factors ``p_u``.
    item_factors_ : ndarray of shape (n_items_, n_factors), float32
        Learned item factors ``q_i``.
    user_bias_ : ndarray of shape (n_users_,), float32
        User biases ``b_u``.
    item_bias_ : ndarray of shape (n_items_,), float32
        Item biases ``b_i``.
    global_mean_ : float
        Mean training rating ``mu``.
    rating_range_ : list of float
        ``[min, max]`` training rating; predictions are clipped to it.
    rating_unit_ : float
        Training runs on ratings divided by this (the largest absolute rating over 5, so
        1.0 on 1-5 stars): the model trains the same on any rating scale. Everything it reports is in
        the original scale.
    train_rmse_ : float
        Training RMSE seen during the last epoch, in training units (ratings divided by
        ``rating_unit_``).
    user_index_ : IdIndex
        Known user ids.
    item_index_ : IdIndex
        Known item ids.
    n_users_ : int
        Number of known users.
    n_items_ : int
        Number of known items.
    item_popularity_ : ndarray of shape (n_items_,)
        Ratings per item.
    seen_indptr_, seen_indices_, seen_values_ : ndarray
        Training ratings as CSR (users x items).
    input_was_pandas_ : bool
        Whether ``fit`` got a DataFrame.
    device_ : str
        Resolved device (training runs on the CPU).
    backend_ : str
        Resolved kernel backend.
    history_ : dict of list
        ``{"loss": [...]}``: the training RMSE (as ``train_rmse_``) of every epoch of the last
        ``fit`` or ``partial_fit`` call; the learning curve the registry records at publish time.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.recommender import MatrixFactorization
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [10, 20, 10, 30, 20],
    ...                    "rating": [5.0, 3.0, 4.0, 2.0, 1.0]})
    >>> mf = MatrixFactorization(n_factors=4, random_state=0).fit(df)
    >>> pred = mf.predict([[3, 30]])
    >>> bool(1.0 <= pred[0] <= 5.0)
    True
    """

    _kernel = "sgd"
    _state_schema = BaseRecommender._state_schema.extend(attrs={"history_": Attr(dict, optional=True)}).extend(
        arrays={"user_factors_": Arr("f4", ("n_users", "n_factors")),
                "item_factors_": Arr("f4", ("n_items", "n_factors")),
                "user_bias_": Arr("f4", ("n_users",)),
                "item_bias_": Arr("f4", ("n_items",))},
        attrs={"global_mean_": Attr(float), "train_rmse_": Attr(float, min=0, optional=True),
               "rating_range_": Attr(list, length=2, items=Attr(float)),
               # Optional: artifacts saved before scale-invariant training have none (unit 1).
               "rating_unit_": Attr(float, optional=True)},
        rules=(Rule("attribute 'rating_range_'", "must be [low, high] with low <= high",
                    lambda d, a, arr, p: a["rating_range_"][0] <= a["rating_range_"][1]),
               Rule("attribute 'rating_unit_'", "must be a positive float",
                    lambda d, a, arr, p: a.get("rating_unit_", 1.0) > 0),),
        param_dims={"n_factors": "n_factors"})
    _parameter_constraints = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "bias_learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "bias_regularization": [Interval(numbers.Real, 0, None, closed="left"), None],
        "init_std": [Interval(numbers.Real, 0, None, closed="left")],
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, n_factors: int = 32, *, max_iter: int = 20, learning_rate: float = 0.03,
                 learning_rate_decay: float = 0.95, regularization: float = 0.1, bias_learning_rate: float | None = None,
                 bias_regularization: float | None = None, init_std: float = 0.05,
                 random_state=None, backend: str = "auto", device: str = "auto",
                 n_jobs: int | None = None, verbose: int = 0) -> None:
        self.n_factors = n_factors
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.regularization = regularization
        self.bias_learning_rate = bias_learning_rate
        self.bias_regularization = bias_regularization
        self.init_std = init_std
        self.random_state = random_state
        self.backend = backend
        self.device = device
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _train(self, users, items, values, user_scale, item_scale, rng, where, start: int = 0) -> None:
        kernel = get_kernel("sgd", self.backend_)
        perm = _permutation(rng, len(values))
        u = np.ascontiguousarray(users[perm], dtype=np.int32)
        i = np.ascontiguousarray(items[perm], dtype=np.int32)
        r = np.ascontiguousarray(values[perm], dtype=np.float32)
        lr_b = self.learning_rate if self.bias_learning_rate is None else self.bias_learning_rate
        reg_b = self.regularization if self.bias_regularization is None else self.bias_regularization
        # Epoch ``start`` of the schedule (a resumed fit continues the decay where it stopped).
        decay = self.learning_rate_decay ** start
        lr, lr_b = self.learning_rate * decay, lr_b * decay
        nt = self._threads(len(r))
        sse = 0.0
        # The learning curve (train RMSE per epoch) that the registry keeps at publish time.
        if start == 0 or not isinstance(getattr(self, "history_", None), dict):
            self.history_ = {"loss": []}
        for epoch in range(start, self.max_iter):
            sse = kernel.sgd_epoch(u, i, r, self.global_mean_, self.user_bias_, self.item_bias_,
                                   self.user_factors_, self.item_factors_, user_scale, item_scale,
                                   lr, lr_b, self.regularization, reg_b, nt)
            self._epoch_check(sse, epoch, len(r), where)
            self.history_["loss"].append(float(np.sqrt(sse / max(len(r), 1))))
            lr *= self.learning_rate_decay
            lr_b *= self.learning_rate_decay
        self.train_rmse_ = float(np.sqrt(sse / max(len(r), 1))) if self.max_iter > start else float("nan")

    def _train_all(self, users, items, values, rng, start: int, where: str, R=None) -> None:
        self._train(users, items, values, np.ones(self.n_users_, np.float32),
                    np.ones(self.n_items_, np.float32), rng, where, start)

    def _fit_model(self, users, items, values, R: sp.csr_matrix, rng) -> None:
        unit = self.rating_unit_ = self._rating_unit(values)
        self.global_mean_ = float(values.mean()) / unit
        self.user_factors_ = self._init_rows(self.n_users_, rng)
        self.item_factors_ = self._init_rows(self.n_items_, rng)
        self.user_bias_ = np.zeros(self.n_users_, np.float32)
        self.item_bias_ = np.zeros(self.n_items_, np.float32)
        self._train_all(users, items, values / unit, rng, 0, f"{self._name}.fit")
        self._rescale(unit)

    def _fold_in(self, users, items, values, R, touched_users, new_items, rng) -> None:
        # Re-fit the touched users on all their ratings; old items stay frozen, new ones learn.
        sub = R[touched_users].tocoo()
        u = touched_users[sub.row].astype(np.int32)
        user_scale = np.zeros(self.n_users_, np.float32)
        user_scale[touched_users] = 1.0
        item_scale = np.zeros(self.n_items_, np.float32)
        item_scale[new_items] = 1.0
        unit = getattr(self, "rating_unit_", 1.0)
        self._rescale(1.0 / unit)
        try:
            self._train(u, sub.col.astype(np.int32), (sub.data / unit).astype(np.float32),
                        user_scale, item_scale, rng, f"{self._name}.partial_fit")
        finally:
            self._rescale(unit)
