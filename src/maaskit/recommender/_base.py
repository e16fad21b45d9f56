"""Shared machinery of every recommender: ids, input formats, top-k, fold-in, persistence.

Kernels: ``topk`` (batched top-k with exclusion of seen items).

An algorithm subclass only learns factors. It reduces every score to a dot product between
a *user vector* and an *item vector* (biases ride along as extra coordinates), so one
chunked GEMM + top-k path serves ``recommend``, ``predict`` and ``similar_items`` for all.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._schema import BACKENDS, CSR, Arr, Attr, Ids, StateSchema
from .._backend import get_kernel, has_backend, has_torch, resolve_backend, resolve_device
from .._config import effective_n_threads, one_blas_thread
from .. import exceptions as _exceptions
from .._estimator import LightEstimator, check_random_state
from ..exceptions import ColdStartWarning, DeviceWarning, ModelFitError
from ..persistence import PersistableMixin
from ..utils._ids import IdIndex, _as_1d, id_type_hint
from ..utils._warnings import warn_user
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils.validation import Interactions, check_interactions, check_pairs
from ..utils._warnings import user_stacklevel

# Constraints of the hyper-parameters every trainable recommender shares.
COMMON_CONSTRAINTS: dict[str, list] = {
    "random_state": ["random_state"],
    "n_jobs": [int, None],
    "backend": [Options(frozenset({"auto", "cython", "numba", "numpy", "torch"}))],
    "device": [Options(frozenset({"auto", "cpu", "cuda"}))],
    "verbose": [Interval(numbers.Integral, 0, None, closed="left"), "boolean"],
}

# Score blocks are computed this many floats at a time, bounding memory of top-N for all users.
_BLOCK_FLOATS = 1 << 22


class Prepared(NamedTuple):
    """Interactions checked and numbered once (see ``BaseRecommender._prepare``)."""

    user_index: IdIndex
    item_index: IdIndex
    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    R: sp.csr_matrix
    pandas: bool
    implicit: bool


class BaseRecommender(PersistableMixin, LightEstimator):
    """Base class of maaskit recommenders (not for direct use).

    Subclasses define ``_implicit`` and implement ``_fit_model``, ``_fold_in``,
    ``_grow``, ``_user_vectors``, ``_item_vectors`` and ``_item_embeddings``.
    """

    _implicit: bool = True
    _kernel: str = "topk"
    _state_objects = {"IdIndex": IdIndex.from_state}
    # What a saved recommender must satisfy (maaskit._schema): ids, the seen-items CSR the
    # top-k kernel reads, popularity; subclasses add their factors.
    _state_schema = StateSchema(
        attrs={
            "device_": Attr(str, options=("cpu", "cuda")),
            "backend_": Attr(str, options=BACKENDS),
            "user_index_": Ids("n_users"),
            "item_index_": Ids("n_items"),
            "n_users_": Attr(int, dim="n_users"),
            "n_items_": Attr(int, dim="n_items"),
            "input_was_pandas_": Attr(bool),
            "rating_range_": Attr(list, optional=True, length=2, items=Attr(float)),
            "n_iter_": Attr(int, min=0, optional=True),
        },
        arrays={
            "seen_indptr_": Arr("i8", ("n_users_plus_1",)),
            "seen_indices_": Arr("i4", ("nnz",)),
            "seen_values_": Arr("f4", ("nnz",)),
            "item_popularity_": Arr("f8", ("n_items",)),
        },
        rules=(CSR("seen_indptr_", "seen_indices_", rows="n_users", cols="n_items", data="seen_values_"),),
    )

    # ------------------------------------------------------------------ subclass hooks
    def _fit_model(self, users: np.ndarray, items: np.ndarray, values: np.ndarray,
                   R: sp.csr_matrix, rng: np.random.RandomState) -> None:
        raise NotImplementedError

    def _grow(self, n_users: int, n_items: int, rng: np.random.RandomState) -> None:
        raise NotImplementedError

    def _fold_in(self, users: np.ndarray, items: np.ndarray, values: np.ndarray,
                 R: sp.csr_matrix, touched_users: np.ndarray, new_items: np.ndarray,
                 rng: np.random.RandomState) -> None:
        raise NotImplementedError

    def _user_vectors(self, uidx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _item_vectors(self) -> np.ndarray:
        raise NotImplementedError

    def _item_embeddings(self) -> np.ndarray:
        return self._item_vectors()

    def _cold_user_vector(self) -> np.ndarray:
        """User vector used for unknown users in ``predict`` (zeros: no personal signal)."""
        return np.zeros(self._item_vectors().shape[1], dtype=np.float32)

    def _cold_item_vector(self) -> np.ndarray:
        return np.zeros(self._item_vectors().shape[1], dtype=np.float32)

    def _factor_arrays(self) -> list[str]:
        """Names of the learned arrays checked for divergence after training."""
        return [k for k, v in vars(self).items() if k.endswith("_") and isinstance(v, np.ndarray) and v.dtype.kind == "f"]

    # ------------------------------------------------------------------ helpers
    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "item_index_"):
            raise _exceptions.NotFittedError(
                f"{self._name}.{method}: this {self._name} instance is not fitted yet. "
                f"Call 'fit' with appropriate arguments before using this estimator."
            )

    def _validate(self, method: str) -> tuple[np.random.RandomState, str]:
        validate_parameters(self)
        where = f"{self._name}.{method}"
        rng = check_random_state(getattr(self, "random_state", None))
        device = getattr(self, "device", "cpu")
        self.device_ = resolve_device(device, where)
        backend = getattr(self, "backend", "auto")
        if self.device_ == "cuda" or backend == "torch":
            if self._torch_kernel is not None:
                if not has_torch():
                    raise ImportError(
                        f"{where}: backend='torch' needs torch, which is not installed; "
                        f"pip install 'maaskit[torch]' or use backend='auto'."
                    )
                self.backend_ = "torch"
                return rng, where
            if backend == "torch":
                raise ValueError(
                    f"{where}: backend must be one of 'auto', 'cython', 'numba', 'numpy' for "
                    f"{self._name}, which has no torch kernels; got 'torch'."
                )
            if device == "cuda":
                # Asked for explicitly: say so instead of pretending. ("auto" picks the CPU
                # quietly for algorithms without a device path.)
                warnings.warn(
                    f"{where}: {self._name} has no CUDA kernels yet; training on the CPU.",
                    DeviceWarning, stacklevel=user_stacklevel(),
                )
            self.device_ = "cpu"
        self.backend_ = resolve_backend(self._algorithm_kernel(), backend, where)
        return rng, where

    def _cpu_backend(self) -> str:
        # Small solves after training (fold-in of new users) run on the CPU kernels.
        return "auto" if self.backend_ == "torch" else self.backend_

    # Name of the kernel with a torch twin (``_kernels/torch/<name>.py``), or None.
    _torch_kernel: str | None = None

    def _algorithm_kernel(self) -> str:
        return self._kernel

    def _topk_backend(self) -> str:
        # Follow the algorithm's backend when topk has it (so backend="numpy" is pure NumPy).
        backend = getattr(self, "backend_", "auto")
        return backend if has_backend("topk", backend) else "auto"

    def _check_divergence(self, where: str) -> None:
        for name in self._factor_arrays():
            if not np.isfinite(getattr(self, name).sum()):
                raise ModelFitError(
                    f"{where}: training diverged ({name} is not finite). Try a smaller "
                    f"learning_rate or a larger regularization."
                )

    def _interactions(self, X: Any, y: Any, where: str, allow_empty: bool = False) -> Interactions:
        return check_interactions(
            X, y, where=where, implicit=self._implicit, require_values=not self._implicit,
            allow_empty=allow_empty,
        )

    @staticmethod
    def _csr(users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
        R = sp.csr_matrix((values.astype(np.float32), (users, items)), shape=shape)
        R.sum_duplicates()
        R.sort_indices()
        return R

    def _set_seen(self, R: sp.csr_matrix) -> None:
        # No copy when the dtypes already match: the arrays are only read (partial_fit
        # replaces them), and the search's candidates share the training part's CSR.
        self.seen_indptr_ = R.indptr.astype(np.int64, copy=False)
        self.seen_indices_ = R.indices.astype(np.int32, copy=False)
        self.seen_values_ = R.data.astype(np.float32, copy=False)

    def _seen_matrix(self) -> sp.csr_matrix:
        return sp.csr_matrix(
            (self.seen_values_, self.seen_indices_, self.seen_indptr_),
            shape=(self.n_users_, self.n_items_),
        )

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None) -> "BaseRecommender":
        """Learn the model from interactions.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_interactions, 2 or 3), or sparse matrix
            A frame with ``user`` and ``item`` columns plus optional ``rating`` and
            ``timestamp``; an array with columns user, item[, rating]; or a scipy.sparse
            matrix of shape (n_users, n_items) (rows are always users).
        y : array-like of shape (n_interactions,), default=None
            Ratings, if not part of ``X``.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        rng, where = self._validate("fit")
        self._fit_prepared(self._prepare(X, y, where), rng, where)
        return self

    def _prepare(self, X: Any, y: Any, where: str) -> "Prepared":
        """Validate interactions, number the ids and build the CSR: what every fit needs.

        Model selection (``Recommender(tune=...)``) prepares its training part once and
        fits every candidate from it (:meth:`_fit_prepared`), instead of once per candidate.
        """
        inter = self._interactions(X, y, where)
        if inter.source == "sparse":
            user_index = IdIndex(np.arange(inter.shape[0]), "user")
            item_index = IdIndex(np.arange(inter.shape[1]), "item")
            u, i = inter.users.astype(np.int32), inter.items.astype(np.int32)
        else:
            user_index, u = IdIndex.from_values(inter.users, "user")
            item_index, i = IdIndex.from_values(inter.items, "item")
        vals = inter.values.astype(np.float32)
        R = self._csr(u, i, vals, (len(user_index), len(item_index)))
        return Prepared(user_index, item_index, u, i, vals, R, inter.source == "pandas",
                        bool(self._implicit))

    def _fit_prepared(self, prep: "Prepared", rng: np.random.RandomState, where: str) -> None:
        """Fit from :meth:`_prepare`'s output (read only: it may be shared by several models)."""
        self._adopt(prep)
        self._fit_model(prep.users, prep.items, prep.values, prep.R, rng)
        self._check_divergence(where)

    def _adopt(self, prep: "Prepared") -> None:
        # The id indices, seen items, popularity and rating range of the data fitted on.
        self.user_index_, self.item_index_ = prep.user_index, prep.item_index
        self.n_users_, self.n_items_ = len(prep.user_index), len(prep.item_index)
        self._set_seen(prep.R)
        self.item_popularity_ = np.bincount(prep.items, minlength=self.n_items_).astype(np.float64)
        self.input_was_pandas_ = prep.pandas
        if not self._implicit:
            self.rating_range_ = [float(prep.values.min()), float(prep.values.max())]

    def partial_fit(self, X: Any, y: Any = None) -> "BaseRecommender":
        """Fold new interactions (and new users or items) into a fitted model.

        Existing factors are kept; the users and items the new interactions touch are
        updated without a full refit. On an unfitted model this is :meth:`fit`.

        Parameters
        ----------
        X : DataFrame, array-like or sparse matrix
            New interactions, in any format :meth:`fit` accepts. A sparse matrix must have
            ``n_items_`` columns; extra rows are new users.
        y : array-like of shape (n_interactions,), default=None
            Ratings, if not part of ``X``.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "item_index_"):
            return self.fit(X, y)
        rng, where = self._validate("partial_fit")
        inter = self._interactions(X, y, where)
        if inter.source == "sparse":
            if inter.shape[1] != self.n_items_:
                raise ValueError(
                    f"{where}: the sparse matrix has shape {inter.shape} (users x items) but "
                    f"the model was fitted on {self.n_items_} items, shape "
                    f"({self.n_users_}, {self.n_items_}); rows are users, columns items."
                )
        user_index, u, n_old_u = self.user_index_.extend(inter.users)
        item_index, i, n_old_i = self.item_index_.extend(inter.items)
        n_new_u, n_new_i = len(user_index) - n_old_u, len(item_index) - n_old_i
        old = self._seen_matrix()
        self.user_index_, self.item_index_ = user_index, item_index
        if n_new_u or n_new_i:
            self._grow(n_new_u, n_new_i, rng)
        self.n_users_, self.n_items_ = len(user_index), len(item_index)
        vals = inter.values.astype(np.float32)
        old.resize((self.n_users_, self.n_items_))
        R = (old + self._csr(u, i, vals, (self.n_users_, self.n_items_))).tocsr()
        R.sort_indices()
        self._set_seen(R)
        pop = np.zeros(self.n_items_)
        pop[: len(self.item_popularity_)] = self.item_popularity_
        self.item_popularity_ = pop + np.bincount(i, minlength=self.n_items_)
        if not self._implicit:
            lo, hi = self.rating_range_
            self.rating_range_ = [min(lo, float(vals.min())), max(hi, float(vals.max()))]
        touched = np.unique(u).astype(np.int32)
        new_items = np.arange(n_old_i, self.n_items_, dtype=np.int32)
        self._fold_in(u, i, vals, R, touched, new_items, rng)
        self._check_divergence(where)
        return self

    # ------------------------------------------------------------------ predict / score
    def predict(self, X: Any) -> np.ndarray:
        """Predict the score (rating for explicit models) of user/item pairs.

        Unknown users or items get the model's fallback (global mean and known biases for
        rating models, 0 for implicit ones) and a :class:`~maaskit.exceptions.ColdStartWarning`.

        Parameters
        ----------
        X : DataFrame with user and item columns, or array-like of shape (n_pairs, 2)

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
        """
        self._check_fitted("predict")
        return self._predict(X, warn=True)

    def _predict(self, X: Any, warn: bool) -> np.ndarray:
        # ``warn=False`` is for score(), which expects unknown pairs: a flag rather than
        # warnings.catch_warnings(), which is not thread-safe (threaded Dask workers).
        where = f"{self._name}.predict"
        users, items, _ = check_pairs(X, where)
        uidx = self.user_index_.lookup(users)
        iidx = self.item_index_.lookup(items)
        cold_u, cold_i = uidx < 0, iidx < 0
        if warn and (cold_u.any() or cold_i.any()):
            hints = [h for h in (id_type_hint(self.user_index_, users[cold_u]),
                                 id_type_hint(self.item_index_, items[cold_i])) if h]
            warn_user(
                f"{where}: {int(cold_u.sum())} pair(s) with unknown users and "
                f"{int(cold_i.sum())} with unknown items got the fallback score."
                + "".join(f" {h}" for h in hints),
                ColdStartWarning,
            )
        V = self._item_vectors()
        d = V.shape[1]
        out = np.empty(len(uidx), dtype=np.float64)
        step = max(1, _BLOCK_FLOATS // max(d, 1))
        for s in range(0, len(uidx), step):
            ub, ib = uidx[s : s + step], iidx[s : s + step]
            Uv = np.empty((len(ub), d), dtype=np.float32)
            Uv[:] = self._cold_user_vector()
            if (ub >= 0).any():
                Uv[ub >= 0] = self._user_vectors(ub[ub >= 0])
            Iv = np.empty((len(ib), d), dtype=np.float32)
            Iv[:] = self._cold_item_vector()
            Iv[ib >= 0] = V[ib[ib >= 0]]
            out[s : s + step] = np.einsum("ij,ij->i", Uv.astype(np.float64), Iv.astype(np.float64))
        if not self._implicit:
            lo, hi = self.rating_range_
            np.clip(out, lo, hi, out=out)
        return out

    def score(self, X: Any, y: Any = None) -> float:
        """Score held-out interactions: minus RMSE for rating models, nDCG@10 for implicit ones.

        Greater is better in both cases, as scikit-learn's model selection expects.

        Parameters
        ----------
        X : DataFrame or array-like
            Held-out interactions.
        y : array-like, default=None
            Ratings, if not part of ``X``.

        Returns
        -------
        score : float
        """
        self._check_fitted("score")
        from ..metrics import ndcg_at_k, rmse

        where = f"{self._name}.score"
        inter = check_interactions(X, y, where=where, implicit=self._implicit,
                                   require_values=not self._implicit)
        if not self._implicit:
            pairs = np.empty((len(inter), 2), dtype=object)
            pairs[:, 0], pairs[:, 1] = inter.users, inter.items
            pred = self._predict(pairs, warn=False)
            return -float(rmse(inter.values, pred))
        frame = pd.DataFrame({"user": inter.users, "item": inter.items})
        known = self.user_index_.lookup(frame["user"].to_numpy()) >= 0
        frame = frame[known]
        if frame.empty:
            raise ValueError(f"{where}: none of the users in X is known to the model.")
        groups = frame.groupby("user", sort=False)["item"]
        users = np.array(list(groups.groups.keys()), dtype=object)
        truth = [g.to_numpy() for _, g in groups]
        k = min(10, self.n_items_)
        ids, scores = self.recommend(users, n=k, exclude_seen=True, output="numpy")
        ids, scores = np.atleast_2d(ids), np.atleast_2d(scores)
        # recommend caps the width to what the users can still be recommended.
        return float(ndcg_at_k(truth, ids, k=min(k, ids.shape[1]), mask=np.isfinite(scores)))

    # ------------------------------------------------------------------ recommend
    def recommend(self, users: Any = None, n: int = 10, *, exclude_seen: bool = True,
                  items: Any = None, output: str = "auto") -> Any:
        """Top-``n`` items for many users at once, in bounded memory.

        Users never seen in training get the most popular items (the *popularity
        fallback*); a :class:`~maaskit.exceptions.ColdStartWarning` says how many, and the
        pandas output flags them in a ``fallback`` column.

        Parameters
        ----------
        users : id or array-like of ids, default=None
            The users; ``None`` means every known user.
        n : int, default=10
            Items per user; capped to the items the users can be recommended.
        exclude_seen : bool, default=True
            Leave out items the user interacted with in training.
        items : array-like of item ids, default=None
            Restrict recommendations to these candidate items.
        output : {"auto", "numpy", "pandas"}, default="auto"
            ``"auto"`` gives pandas when ``users`` is a pandas Series/Index (or ``None`` and
            the model was fitted on a DataFrame), numpy otherwise.

        Returns
        -------
        ids, scores : ndarray of shape (n_users, k) (or (k,) for a single user)
            With ``output="numpy"``. ``k = min(n, m)``, where ``m`` is the largest number of
            items any of the given users can be recommended (candidates minus, with
            ``exclude_seen``, the items they have seen): ``n`` is capped, never refused, so a
            single user's arrays hold only real recommendations. In a batch, a user with
            fewer eligible items than ``k`` gets padding slots at the end of the row: score
            ``NaN`` and id ``None`` (``ids`` is then an object array). Scores never hold
            ``-inf``. A score is the model's: a predicted rating for rating models (not
            clipped to the rating range, unlike ``predict``, so that a ranking never turns
            into ties), a preference score for implicit ones; users on the popularity
            fallback have real ids, ranked by popularity, and score ``NaN``.
        recommendations : DataFrame
            With ``output="pandas"``: columns user, item, score, rank, fallback,
            popularity; one row per real recommendation (ragged, no padding). ``score`` is
            as above (``NaN`` on fallback rows); ``popularity`` is the item's number of
            training interactions on fallback rows, ``NaN`` on the others.
        """
        self._check_fitted("recommend")
        where = f"{self._name}.recommend"
        if output not in ("auto", "numpy", "pandas"):
            raise ValueError(f"{where}: output must be 'auto', 'numpy' or 'pandas'; got {output!r}.")
        single = users is not None and np.ndim(users) == 0 and not isinstance(users, (pd.Series, pd.Index))
        if users is None:
            uidx = np.arange(self.n_users_, dtype=np.int64)
            user_ids = self.user_index_.ids
            as_pandas = output == "pandas" or (output == "auto" and self.input_was_pandas_)
        else:
            as_pandas = output == "pandas" or (output == "auto" and isinstance(users, (pd.Series, pd.Index)))
            user_ids = _as_1d(users)
            uidx = self.user_index_.lookup(user_ids)
        cand = None if items is None else self.item_index_.get_codes(items, where).astype(np.int32)
        if cand is not None and len(np.unique(cand)) != len(cand):
            raise ValueError(f"{where}: items must not contain duplicate ids.")
        n_cand = self.n_items_ if cand is None else len(cand)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{where}: n must be a positive int; got {n!r}.")
        # As implicit does, n is capped to what can be recommended rather than refused.
        n = int(min(n, n_cand))
        cold = uidx < 0
        if cold.any():
            hint = id_type_hint(self.user_index_, user_ids[cold])
            warn_user(
                f"{where}: {int(cold.sum())} of {len(uidx)} user(s) are unknown and got the "
                f"popularity fallback." + (f" {hint}" if hint else ""), ColdStartWarning,
            )
        out_idx = np.empty((len(uidx), n), dtype=np.int32)
        out_scores = np.empty((len(uidx), n), dtype=np.float32)
        known = np.flatnonzero(~cold)
        if len(known):
            self._topk_users(uidx[known], n, exclude_seen, cand, out_idx, out_scores, known)
        # Scores of rating models are *not* clipped to the rating range as predict's are: a
        # folded-in user with all-5 ratings is predicted above 5 for many items, and clipping
        # turned the head of the ranking into ties at 5.0.
        if cold.any():
            # One meaning per column: the score is the model's, and the model has none for
            # an unknown user. Fallback rows are ranked by popularity and score NaN; pandas
            # output carries the counts in their own ``popularity`` column.
            pop = self.item_popularity_ if cand is None else self.item_popularity_[cand]
            order = np.argsort(-pop, kind="stable")[:n]
            out_idx[cold] = order if cand is None else cand[order]
            out_scores[cold] = np.nan
        return self._recommend_output(user_ids, cold, out_idx, out_scores, as_pandas, single)

    def _recommend_output(self, user_ids: np.ndarray, cold: np.ndarray, out_idx: np.ndarray,
                          out_scores: np.ndarray, as_pandas: bool, single: bool) -> Any:
        """Shape the top-k result: ragged rows in pandas, a padded rectangle in numpy.

        A slot is empty when the user has fewer eligible items than ``n`` (seen items
        excluded). Empty columns at the right are dropped, so one user never gets padding;
        in a batch, a shorter row is padded with score NaN and id None (see ``recommend``).
        """
        valid = out_idx >= 0
        width = int(valid.sum(axis=1).max()) if len(valid) else 0
        pad = ~valid
        out_idx, out_scores, valid = out_idx[:, :width], out_scores[:, :width], valid[:, :width]
        pad = pad[:, :width]
        item_ids = self.item_index_.ids
        ids = item_ids[np.maximum(out_idx, 0)]
        n_users = len(out_idx)
        if as_pandas:
            rows = np.repeat(np.arange(n_users), width).reshape(n_users, width)
            frame = pd.DataFrame({
                "user": np.asarray(user_ids)[rows[valid]],
                "item": ids[valid],
                "score": out_scores[valid].astype(np.float64),
                "rank": np.tile(np.arange(1, width + 1), n_users).reshape(n_users, width)[valid],
                "fallback": np.repeat(cold, width).reshape(n_users, width)[valid],
            })
            return self._fallback_columns(frame)
        if pad.any():
            ids = ids.astype(object)
            ids[pad] = None
            out_scores = out_scores.copy()
            out_scores[pad] = np.nan
        if single:
            return ids[0], out_scores[0]
        return ids, out_scores

    def _fallback_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        # Popularity (training interactions per item) of the fallback rows, NaN elsewhere.
        pop = np.full(len(frame), np.nan)
        fb = frame["fallback"].to_numpy()
        if fb.any():
            pop[fb] = self.item_popularity_[self.item_index_.lookup(frame["item"].to_numpy()[fb])]
        frame["popularity"] = pop
        return frame

    def _topk_users(self, uidx: np.ndarray, n: int, exclude_seen: bool, cand: np.ndarray | None,
                    out_idx: np.ndarray, out_scores: np.ndarray, rows: np.ndarray) -> None:
        self._topk_rows(
            len(uidx), lambda s, e: self._user_vectors(uidx[s:e]),
            lambda s, e, col_of_item: self._seen_csr(uidx[s:e], exclude_seen, cand, col_of_item),
            n, cand, out_idx, out_scores, rows,
        )

    def _topk_rows(self, n_rows: int, vectors: Any, seen: Any, n: int, cand: np.ndarray | None,
                   out_idx: np.ndarray, out_scores: np.ndarray, rows: np.ndarray) -> None:
        """Top-``n`` of ``vectors(s, e) @ V.T`` for query rows ``s:e``, in bounded memory.

        ``seen(s, e, col_of_item)`` gives the CSR (indptr, columns) to exclude per row. The
        one top-k path of every recommender: ``recommend`` (user vectors) and sequence
        models' ``recommend_history`` (vectors of posted histories) both end here.
        """
        V = self._item_vectors()
        col_of_item = None
        if cand is not None:
            V = V[cand]
            col_of_item = np.full(self.n_items_, -1, dtype=np.int64)
            col_of_item[cand] = np.arange(len(cand))
        V = np.ascontiguousarray(V, dtype=np.float32)
        kernel = get_kernel("topk", self._topk_backend())
        n_threads = effective_n_threads(getattr(self, "n_jobs", None))
        step = max(1, min(n_rows, _BLOCK_FLOATS // max(V.shape[0], 1)))
        starts = range(0, n_rows, step)

        def block(s: int, kernel_threads: int) -> None:
            e = min(s + step, n_rows)
            S = np.ascontiguousarray(vectors(s, e) @ V.T, dtype=np.float32)
            indptr, indices = seen(s, e, col_of_item)
            oi = np.empty((e - s, n), dtype=np.int32)
            os_ = np.empty((e - s, n), dtype=np.float32)
            kernel.topk_rows(S, indptr, indices, n, oi, os_, kernel_threads)
            if cand is not None:
                oi = np.where(oi >= 0, cand[np.maximum(oi, 0)], -1).astype(np.int32)
            out_idx[rows[s : s + step]] = oi
            out_scores[rows[s : s + step]] = os_

        if len(starts) == 1:
            # A thread team for a handful of rows costs more than it saves (and spin-waits
            # on a busy server): one thread per row at most.
            block(0, min(n_threads, n_rows))
            return
        # Many blocks: each runs end to end on one thread (single-threaded GEMM, then top-k;
        # both release the GIL), n_jobs blocks at a time. Threading inside each block instead
        # (a BLAS team for the GEMM, then an OpenMP team for top-k) made the two teams spin
        # against each other: on 2 cores, 2 threads ran slower than 1.
        with one_blas_thread():
            if n_threads == 1:
                for s in starts:
                    block(s, 1)
                return
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(n_threads) as pool:
                for f in [pool.submit(block, s, 1) for s in starts]:
                    f.result()

    def _seen_csr(self, ub: np.ndarray, exclude_seen: bool, cand: np.ndarray | None,
                  col_of_item: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, column indices) of the items to exclude for users ``ub``.

        Columns are item indices, or positions in ``cand`` when scoring a candidate subset.
        """
        if not exclude_seen:
            return np.zeros(len(ub) + 1, dtype=np.int64), np.empty(0, dtype=np.int32)
        return csr_rows(self.seen_indptr_, self.seen_indices_, ub, cand, col_of_item)

    def similar_items(self, items: Any, n: int = 10, *, output: str = "auto") -> Any:
        """The ``n`` items most similar to each given item (cosine of item embeddings).

        Parameters
        ----------
        items : id or array-like of item ids
        n : int, default=10
            Neighbours per item, the item itself excluded.
        output : {"auto", "numpy", "pandas"}, default="auto"
            ``"auto"`` gives pandas when ``items`` is a pandas Series/Index.

        Returns
        -------
        ids, scores : ndarray of shape (n_queries, n) (or (n,) for a single item)
            With numpy output.
        similar : DataFrame
            With pandas output: columns item, similar_item, score, rank.
        """
        self._check_fitted("similar_items")
        where = f"{self._name}.similar_items"
        single = np.ndim(items) == 0 and not isinstance(items, (pd.Series, pd.Index))
        as_pandas = output == "pandas" or (output == "auto" and isinstance(items, (pd.Series, pd.Index)))
        qids = _as_1d(items)
        q = self.item_index_.get_codes(qids, where)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{where}: n must be a positive int; got {n!r}.")
        if n > self.n_items_ - 1:
            raise ValueError(f"{where}: n={n} is larger than the {self.n_items_ - 1} other items.")
        E = np.asarray(self._item_embeddings(), dtype=np.float32)
        norms = np.linalg.norm(E, axis=1)
        En = E / np.where(norms > 0, norms, 1)[:, None]
        kernel = get_kernel("topk", self._topk_backend())
        out_i = np.empty((len(q), n), dtype=np.int32)
        out_s = np.empty((len(q), n), dtype=np.float32)
        step = max(1, min(len(q), _BLOCK_FLOATS // max(self.n_items_, 1)))
        for s in range(0, len(q), step):
            qb = q[s : s + step]
            S = np.ascontiguousarray(En[qb] @ En.T, dtype=np.float32)
            indptr = np.arange(len(qb) + 1, dtype=np.int64)
            kernel.topk_rows(S, indptr, qb.astype(np.int32), n, out_i[s : s + step], out_s[s : s + step],
                             effective_n_threads(getattr(self, "n_jobs", None)))
        ids = self.item_index_.ids[np.maximum(out_i, 0)]
        if as_pandas:
            return pd.DataFrame({
                "item": np.repeat(qids, n), "similar_item": ids.ravel(),
                "score": out_s.ravel().astype(np.float64), "rank": np.tile(np.arange(1, n + 1), len(q)),
            })
        if single:
            return ids[0], out_s[0]
        return ids, out_s


def csr_rows(all_indptr: np.ndarray, all_indices: np.ndarray, ub: np.ndarray, cand: np.ndarray | None,
             col_of_item: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, column indices) of rows ``ub`` of a CSR item set, for the top-k kernel.

    Columns are item indices, or positions in ``cand`` when scoring a candidate subset.
    """
    starts, ends = all_indptr[ub], all_indptr[ub + 1]
    counts = ends - starts
    indptr = np.zeros(len(ub) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    if indptr[-1]:
        pos = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        indices = all_indices[pos]
    else:
        indices = np.empty(0, dtype=np.int32)
    if cand is not None:
        mapped = col_of_item[indices]
        keep = mapped >= 0
        # Kept entries per row from a running count: reduceat failed when the block's last
        # users had seen nothing (a start index equal to len(keep)).
        running = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        kept_counts = running[indptr[1:]] - running[indptr[:-1]]
        indptr = np.zeros(len(ub) + 1, dtype=np.int64)
        np.cumsum(kept_counts, out=indptr[1:])
        indices = mapped[keep]
    return indptr, np.ascontiguousarray(indices, dtype=np.int32)
