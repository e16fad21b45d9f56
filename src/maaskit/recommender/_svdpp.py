"""SVD++ for explicit ratings (Koren 2008), trained by SGD with the efficient per-user update.

Kernels: ``svdpp`` (one epoch, user by user; Hogwild over users when ``n_jobs > 1``), ``topk``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .._backend import get_kernel
from .._schema import Arr
from ..persistence import register
from ..utils._param_validation import Interval
from ._mf import MatrixFactorization, _RatingFactorModel, _permutation


@register
class SVDpp(_RatingFactorModel):
    """SVD++: biased matrix factorisation plus implicit feedback from which items a user rated.

    Predicts ``r_hat(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)``
    where ``N(u)`` are the items ``u`` rated in training. Each epoch visits the users in a
    random order; per user the implicit sum is computed once, SGD runs over the user's
    ratings, and the accumulated ``y`` gradient is applied once, so an epoch costs
    ``O(nnz * n_factors)``. The ``y`` step is regularised once per user with
    ``y_regularization`` (a strong value works best). Predictions are clipped to the
    training rating range.

    The step-size schedule (8 epochs, ``learning_rate=0.06`` decaying by 0.75) was chosen on
    validation carved from the MovieLens 100k training files only
    (``benchmarks/grid_svdpp_schedule.py``): there as accurate as the earlier 15 epochs at
    0.03 and 0.93, in about half the epochs; on the synthetic sets of
    ``benchmarks/bench_defaults.py`` about 0.003 RMSE behind them. Test RMSE on u1-u5 about
    0.904, against 0.919 for Surprise ``SVDpp`` (see ``benchmarks/bench_explicit.py``).

    Parameters
    ----------
    n_factors : int, default=32
        Number of latent factors.
    max_iter : int, default=8
        Number of SGD epochs (also the epochs ``partial_fit`` runs on the touched users).
    learning_rate : float, default=0.06
        SGD step size in the first epoch.
    learning_rate_decay : float, default=0.75
        Step sizes are multiplied by this after every epoch.
    regularization : float, default=0.1
        L2 strength for ``p_u`` and ``q_i``.
    y_regularization : float, default=0.5
        L2 strength for the implicit factors ``y_j`` (applied once per user and epoch).
    bias_learning_rate : float, default=None
        Step size for the biases in the first epoch; ``None`` uses ``learning_rate``.
    bias_regularization : float, default=None
        L2 strength for the biases; ``None`` uses ``regularization``.
    init_std : float, default=0.05
        Standard deviation of the normal initialisation of all factors.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the visiting order.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation (``"numpy"`` is the slow, readable reference).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Stored for API symmetry; training always runs on the CPU.
    n_jobs : int, default=None
        Threads for the kernel and top-k; ``None`` uses all cores. Training uses at most one
        thread per 250k ratings; with one thread the result is deterministic.
    verbose : int, default=0
        Print the training RMSE after every epoch when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors), float32
        Explicit user factors ``p_u``.
    item_factors_ : ndarray of shape (n_items_, n_factors), float32
        Item factors ``q_i``.
    implicit_factors_ : ndarray of shape (n_items_, n_factors), float32
        Implicit item factors ``y_j``.
    user_bias_ : ndarray of shape (n_users_,), float32
        User biases ``b_u``.
    item_bias_ : ndarray of shape (n_items_,), float32
        Item biases ``b_i``.
    rating_unit_ : float
        Training runs on ratings divided by this (the largest absolute rating over 5; 1.0
        on 1-5 stars); everything reported is in the original scale.
    global_mean_ : float
        Mean training rating ``mu``.
    rating_range_ : list of float
        ``[min, max]`` training rating; predictions are clipped to it.
    train_rmse_ : float
        Training RMSE seen during the last epoch.
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
        Training ratings as CSR (users x items); ``N(u)`` is read from it.
    input_was_pandas_ : bool
        Whether ``fit`` got a DataFrame.
    device_ : str
        Resolved device (training runs on the CPU).
    backend_ : str
        Resolved kernel backend.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.recommender import SVDpp
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [10, 20, 10, 30, 20],
    ...                    "rating": [5.0, 3.0, 4.0, 2.0, 1.0]})
    >>> model = SVDpp(n_factors=4, random_state=0).fit(df)
    >>> bool(1.0 <= model.predict([[3, 30]])[0] <= 5.0)
    True
    """

    _kernel = "svdpp"
    _state_schema = MatrixFactorization._state_schema.extend(
        arrays={"implicit_factors_": Arr("f4", ("n_items", "n_factors"))})
    _parameter_constraints = {
        **MatrixFactorization._parameter_constraints,
        "y_regularization": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, n_factors: int = 32, *, max_iter: int = 8, learning_rate: float = 0.06,
                 learning_rate_decay: float = 0.75, regularization: float = 0.1,
                 y_regularization: float = 0.5, bias_learning_rate: float | None = None,
                 bias_regularization: float | None = None, init_std: float = 0.05,
                 random_state=None, backend: str = "auto", device: str = "auto",
                 n_jobs: int | None = None, verbose: int = 0) -> None:
        self.n_factors = n_factors
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.learning_rate_decay = learning_rate_decay
        self.regularization = regularization
        self.y_regularization = y_regularization
        self.bias_learning_rate = bias_learning_rate
        self.bias_regularization = bias_regularization
        self.init_std = init_std
        self.random_state = random_state
        self.backend = backend
        self.device = device
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _grow(self, n_users: int, n_items: int, rng: np.random.RandomState) -> None:
        super()._grow(n_users, n_items, rng)
        if n_items:
            self.implicit_factors_ = np.vstack([self.implicit_factors_, self._init_rows(n_items, rng)])

    def _user_factor_rows(self, uidx: np.ndarray) -> np.ndarray:
        indptr, indices = self.seen_indptr_, self.seen_indices_
        starts, ends = indptr[uidx], indptr[uidx + 1]
        counts = ends - starts
        sub_ptr = np.zeros(len(uidx) + 1, dtype=np.int64)
        np.cumsum(counts, out=sub_ptr[1:])
        pos = np.repeat(starts - sub_ptr[:-1], counts) + np.arange(sub_ptr[-1])
        weights = np.repeat(1.0 / np.sqrt(np.maximum(counts, 1)), counts).astype(np.float32)
        S = sp.csr_matrix((weights, indices[pos], sub_ptr), shape=(len(uidx), self.n_items_))
        return self.user_factors_[uidx] + np.asarray(S @ self.implicit_factors_, dtype=np.float32)

    _item_rows = ("item_factors_", "item_bias_", "implicit_factors_")

    def _train(self, indptr, indices, ratings, users, user_scale, item_scale, rng, where,
               start: int = 0) -> None:
        kernel = get_kernel("svdpp", self.backend_)
        lr = self.learning_rate
        lr_b = lr if self.bias_learning_rate is None else self.bias_learning_rate
        reg_b = self.regularization if self.bias_regularization is None else self.bias_regularization
        # Epoch ``start`` of the schedule (a resumed fit continues the decay where it stopped).
        decay = self.learning_rate_decay ** start
        lr, lr_b = lr * decay, lr_b * decay
        nt = self._threads(len(ratings))
        sse = 0.0
        for epoch in range(start, self.max_iter):
            order = np.ascontiguousarray(rng.permutation(users), dtype=np.int32)
            sse = kernel.svdpp_epoch(indptr, indices, ratings, order, self.global_mean_,
                                     self.user_bias_, self.item_bias_, self.user_factors_,
                                     self.item_factors_, self.implicit_factors_, user_scale,
                                     item_scale, lr, lr_b, self.regularization, reg_b,
                                     self.y_regularization, nt)
            self._epoch_check(sse, epoch, len(ratings), where)
            lr *= self.learning_rate_decay
            lr_b *= self.learning_rate_decay
        self.train_rmse_ = (float(np.sqrt(sse / max(len(ratings), 1))) if self.max_iter > start
                            else float("nan"))

    @staticmethod
    def _user_csr(users, items, values, n_users, rng):
        # Group ratings by user, in a random order within each user (duplicates kept apart).
        perm = _permutation(rng, len(values))
        keys = users[perm]
        if n_users <= np.iinfo(np.uint16).max:
            # Same stable order; NumPy radix-sorts 16-bit keys (3x faster on 100k ratings).
            keys = keys.astype(np.uint16)
        order = perm[np.argsort(keys, kind="stable")]
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
        return (indptr, np.ascontiguousarray(items[order], dtype=np.int32),
                np.ascontiguousarray(values[order], dtype=np.float32))

    _scaled_factors = ("user_factors_", "item_factors_", "implicit_factors_")

    def _fit_model(self, users, items, values, R: sp.csr_matrix, rng) -> None:
        unit = self.rating_unit_ = self._rating_unit(values)
        values = values / unit  # trained in rating units, reported in the original scale
        self.global_mean_ = float(values.mean())
        self.user_factors_ = self._init_rows(self.n_users_, rng)
        self.item_factors_ = self._init_rows(self.n_items_, rng)
        self.implicit_factors_ = self._init_rows(self.n_items_, rng)
        self.user_bias_ = np.zeros(self.n_users_, np.float32)
        self.item_bias_ = np.zeros(self.n_items_, np.float32)
        self._train_all(users, items, values, rng, 0, f"{self._name}.fit", R)
        self._rescale(unit)

    def _train_all(self, users, items, values, rng, start: int, where: str, R=None) -> None:
        if R is not None and R.nnz == len(values):
            # No repeated (user, item) pair: the prepared CSR already groups the ratings by
            # user (items in index order, a fixed order as the shuffled one was), so the
            # shuffle and sort of _user_csr are skipped.
            indptr = R.indptr.astype(np.int64)
            indices = R.indices.astype(np.int32, copy=False)
            ratings = (R.data / np.float32(self.rating_unit_)).astype(np.float32, copy=False)
        else:
            indptr, indices, ratings = self._user_csr(users, items, values, self.n_users_, rng)
        self._train(indptr, indices, ratings, np.arange(self.n_users_, dtype=np.int32),
                    np.ones(self.n_users_, np.float32), np.ones(self.n_items_, np.float32), rng,
                    where, start)

    def _fold_in(self, users, items, values, R, touched_users, new_items, rng) -> None:
        # Re-fit the touched users on all their ratings; old items (q and y) stay frozen.
        user_scale = np.zeros(self.n_users_, np.float32)
        user_scale[touched_users] = 1.0
        item_scale = np.zeros(self.n_items_, np.float32)
        item_scale[new_items] = 1.0
        unit = getattr(self, "rating_unit_", 1.0)
        self._rescale(1.0 / unit)
        try:
            self._train(R.indptr.astype(np.int64), R.indices.astype(np.int32),
                        (R.data / unit).astype(np.float32), touched_users.astype(np.int32),
                        user_scale, item_scale, rng, f"{self._name}.partial_fit")
        finally:
            self._rescale(unit)
