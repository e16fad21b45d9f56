"""``Recommender``: one front door that picks and wraps the right algorithm.

Kernels: those of the wrapped algorithm (``sgd``/``svdpp``, ``als``, ``bpr``; SASRec's ``attention``,
``layernorm``, ``embedding``, ``dropout``, ``xent``, ``optim``) and ``topk``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import exceptions as _exceptions
from .._estimator import LightEstimator
from .._schema import Arr, Attr, Nested, StateSchema
from ..exceptions import ArtifactError
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils.validation import check_columns

# Explicit ratings default to the model that met the MovieLens accuracy target; implicit
# feedback (plays, clicks, a sparse matrix) to weighted ALS.
_EXPLICIT_DEFAULT = "mf"
_IMPLICIT_DEFAULT = "als"


def _algorithms() -> dict[str, type]:
    from . import _als, _bpr, _hybrid, _mf, _popularity, _sasrec, _svdpp

    return {
        "hybrid": _hybrid.HybridMF,
        "mf": _mf.MatrixFactorization,
        "svdpp": _svdpp.SVDpp,
        "als": _als.ALS,
        "bpr": _bpr.BPR,
        "popularity": _popularity.Popularity,
        "sasrec": _sasrec.SASRec,
    }


@register
class Recommender(PersistableMixin, LightEstimator):
    """Recommend items to users from ratings or from plays, clicks and watches.

    ``algorithm="auto"`` looks at the data: explicit ratings (a ``rating`` column, a third
    array column or ``y``) train biased matrix factorisation by SGD
    (:class:`~maaskit.recommender.MatrixFactorization`); implicit feedback (user/item pairs,
    a ``weight``/``count`` column or a sparse users x items matrix) trains weighted ALS
    (:class:`~maaskit.recommender.ALS`). Every method of the wrapped model is available here.

    Parameters
    ----------
    algorithm : {"auto", "mf", "svdpp", "als", "bpr", "popularity", "hybrid", "sasrec"}, default="auto"
        Which model to train; ``"auto"`` takes ``"hybrid"`` (:class:`HybridMF`) when ``fit``
        gets item or user features, and never picks ``"sasrec"``. ``"sasrec"``
        (:class:`~maaskit.recommender.SASRec`) needs the order of the interactions (a
        ``timestamp`` column).
    n_factors : int, default=None
        Latent dimensions; ``None`` keeps the algorithm's default.
    max_iter : int, default=None
        Epochs/iterations; ``None`` keeps the algorithm's default.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible training.
    params : dict, default=None
        Further hyper-parameters of the chosen algorithm.
    columns : dict, default=None
        Your column names for the roles ``"user"``, ``"item"``, ``"rating"`` and
        ``"timestamp"``, e.g. ``{"user": "customer", "rating": "stars"}``, used by every
        method that takes a DataFrame; ``None`` expects the standard names (``user``,
        ``item``, ``rating``, ``timestamp`` and their listed aliases). A headerless frame
        (``columns [0, 1, 2]``) maps by position: ``{"user": 0, "item": 1, "rating": 2}``.
    tune : "auto", bool or int, default="auto"
        Model selection inside ``fit``. A validation part (10%) is carved from the training
        interactions (never from anything else), a small successive-halving search picks the
        model and its key hyper-parameters on it (explicit ratings: MF or SVD++ and their
        regularisation/factors; implicit feedback: ALS regularisation/confidence or BPR),
        and the winner is refitted on all the interactions. An int is the number of
        candidates searched; ``True`` means 4. ``"auto"`` searches explicit ratings when
        ``algorithm="auto"``, nothing else is set (``n_factors``, ``max_iter``, ``params``
        all None) and there are at least 20,000 ratings: 2 candidates (SVD++ and MF)
        below 200,000 ratings, 3 from there on; otherwise (and on
        implicit feedback, where ALS's defaults held on MovieLens) it keeps the defaults.
        ``False`` never searches.

    Attributes
    ----------
    estimator_ : BaseRecommender
        The fitted algorithm.
    algorithm_ : str
        The algorithm chosen.
    best_params_ : dict
        ``{"algorithm": ..., **hyper-parameters}`` that the search chose (the defaults when
        no search ran).
    cv_results_ : dict or None
        The search: per evaluated candidate its ``algorithm``, ``params``, ``max_iter``,
        ``rung`` (0: the same few epochs for every candidate, 1: all), ``validation_loss`` (``metric``: RMSE,
        or 1 - nDCG@10) and ``fit_time``; ``n_train``/``n_validation`` rows. None when no
        search ran.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit import Recommender
    >>> plays = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cy"],
    ...                       "item": ["jazz", "soul", "jazz", "rock", "soul"]})
    >>> model = Recommender(random_state=0).fit(plays)
    >>> model.algorithm_
    'als'
    >>> items, scores = model.recommend("cy", n=2)
    >>> len(items)
    2
    """

    _parameter_constraints = {
        "algorithm": [Options(frozenset({"auto", "mf", "svdpp", "als", "bpr", "popularity", "hybrid", "sasrec"}))],
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "params": [dict, None],
        "columns": [dict, None],
        "tune": [Options(frozenset({"auto"})), "boolean", Interval(numbers.Integral, 1, None, closed="left")],
    }
    # The wrapped model's state is checked by its own class's schema.
    _state_schema = StateSchema(
        attrs={"algorithm_": Attr(str, options=("mf", "svdpp", "als", "bpr", "popularity", "hybrid", "sasrec")),
               "inner_params": Attr(dict), "inner": Attr(dict)},
        patterns={"inner__*": Arr("label")},
        rules=(Nested(lambda attrs: _algorithms().get(attrs.get("algorithm_")), "inner_params", "inner",
                      "inner__"),),
    )

    def __init__(self, algorithm: str = "auto", *, n_factors: int | None = None,
                 max_iter: int | None = None, random_state: Any = None,
                 params: dict | None = None, columns: dict | None = None, tune: Any = "auto") -> None:
        self.algorithm = algorithm
        self.n_factors = n_factors
        self.max_iter = max_iter
        self.random_state = random_state
        self.params = params
        self.tune = tune
        self.columns = columns

    # ------------------------------------------------------------------ algorithm params by name
    # ``Recommender("als").set_params(regularization=0.5)`` and ``GridSearchCV(param_grid=
    # {"regularization": [...]})``: a name that is a hyper-parameter of an algorithm (and not
    # of Recommender) is stored in ``params``, so that ``clone`` (which rebuilds from
    # ``get_params(deep=False)``) keeps it. ``get_params(deep=True)`` lists them flat too.
    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this Recommender; with ``deep``, also the entries of ``params``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the algorithm's hyper-parameters set through ``params`` (or by name
            with :meth:`set_params`) as top-level names.

        Returns
        -------
        params : dict
        """
        out = super().get_params(deep=False)
        if deep and isinstance(self.params, dict):
            for key, value in self.params.items():
                out.setdefault(key, value)
        return out

    def set_params(self, **params: Any) -> "Recommender":
        """Set parameters of the Recommender or, by name, of its algorithm.

        ``Recommender("als").set_params(regularization=0.5)`` is the same as
        ``Recommender("als", params={"regularization": 0.5})``.

        Parameters
        ----------
        **params
            Recommender parameters, or hyper-parameters of the chosen algorithm (of any
            algorithm while ``algorithm="auto"``).

        Returns
        -------
        self : Recommender
        """
        own = set(super().get_params(deep=False))
        inner = {k: v for k, v in params.items() if k not in own}
        super().set_params(**{k: v for k, v in params.items() if k in own})
        if inner:
            algos = _algorithms()
            names = [self.algorithm] if self.algorithm in algos else list(algos)
            valid = set().union(*(algos[a]().get_params(deep=False) for a in names))
            unknown = sorted(set(inner) - valid)
            if unknown:
                which = f"Recommender({self.algorithm!r})"
                raise ValueError(
                    f"Invalid parameter {unknown[0]!r} for estimator {which}. Valid parameters "
                    f"are: {sorted(own | valid)!r}."
                )
            self.params = {**(self.params or {}), **inner}
        return self

    # ------------------------------------------------------------------ column names
    def _frame(self, X: Any, method: str) -> Any:
        """Rename a DataFrame's columns to the standard roles and check them.

        Errors name the front door (``Recommender (auto).fit``), not the algorithm the user
        never chose, and suggest the rename or ``columns=``.
        """
        if not isinstance(X, pd.DataFrame):
            return X
        where = f"Recommender ({self.algorithm}).{method}"
        if self.columns:
            bad = sorted(set(self.columns) - {"user", "item", "rating", "timestamp"}, key=str)
            if bad:
                raise ValueError(
                    f"{where}: the keys of columns must be 'user', 'item', 'rating' or "
                    f"'timestamp'; got {bad!r}. Map each role to your column name, e.g. "
                    f"columns={{'rating': 'stars'}}."
                )
            missing = [c for c in self.columns.values() if c not in X.columns]
            if missing:
                raise ValueError(
                    f"{where}: columns maps to {missing!r}, which the DataFrame does not "
                    f"have; got columns {list(X.columns)!r}."
                )
            X = X.rename(columns={v: k for k, v in self.columns.items()})
        if method in ("fit", "partial_fit"):
            check_columns(list(X.columns), where)
        return X

    def _choose(self, X: Any, y: Any) -> str:
        if self.algorithm != "auto":
            return self.algorithm
        # Decide from the layout alone; the chosen estimator's fit validates the data once.
        if y is not None:
            explicit = True
        elif isinstance(X, pd.DataFrame):
            explicit = "rating" in X.columns
        elif sp.issparse(X):
            explicit = False
        else:
            explicit = np.ndim(X) == 2 and np.shape(X)[1] == 3
        return _EXPLICIT_DEFAULT if explicit else _IMPLICIT_DEFAULT

    def _make(self, name: str) -> Any:
        cls = _algorithms()[name]
        est = cls()
        valid = est.get_params()
        kw = dict(self.params or {})
        for key in ("n_factors", "max_iter", "random_state"):
            value = getattr(self, key)
            if value is not None and key in valid:
                kw[key] = value
        unknown = sorted(set(kw) - set(valid))
        if unknown:
            raise ValueError(
                f"Recommender.fit: {unknown} are not parameters of {cls.__name__}; "
                f"valid ones are {sorted(valid)}."
            )
        return est.set_params(**kw)

    def fit(self, X: Any, y: Any = None, *, item_features: Any = None,
            user_features: Any = None) -> "Recommender":
        """Choose the algorithm and fit it (see :meth:`BaseRecommender.fit`).

        With ``item_features`` or ``user_features``, ``algorithm="auto"`` chooses
        :class:`HybridMF` (squared loss for ratings, WARP otherwise), the model that serves
        cold items and users from their features.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_interactions, 2 or 3), or sparse matrix
            Interactions.
        y : array-like of shape (n_interactions,), default=None
            Ratings, if not part of ``X``.
        item_features : DataFrame or tuple (matrix, ids), default=None
            Item features (see :meth:`HybridMF.fit`).
        user_features : DataFrame or tuple (matrix, ids), default=None
            User features.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        X = self._frame(X, "fit")
        features = {k: v for k, v in (("item_features", item_features), ("user_features", user_features))
                    if v is not None}
        if features:
            if self.algorithm not in ("auto", "hybrid"):
                raise ValueError(
                    f"Recommender ({self.algorithm}).fit: item_features and user_features need "
                    f"algorithm='hybrid' or 'auto'; {self.algorithm!r} uses interactions only."
                )
            est = self._make("hybrid")
            if self.algorithm == "auto" and "loss" not in (self.params or {}) and \
                    self._choose(X, y) == _EXPLICIT_DEFAULT:
                est.set_params(loss="squared")
            self.estimator_ = est.fit(X, y, **features)
            self.algorithm_ = "hybrid"
            self.best_params_ = {"algorithm": "hybrid", "loss": est.loss}
            self.cv_results_ = None
            return self
        name = self._choose(X, y)
        budget = self._tune_budget(X, y, name)
        if budget:
            return self._fit_tuned(X, y, name, budget)
        self.estimator_ = self._make(name).fit(X, y)
        self.algorithm_ = name
        self.best_params_ = {"algorithm": name}
        self.cv_results_ = None
        return self

    # ------------------------------------------------------------------ model selection (tune=)
    def _tune_budget(self, X: Any, y: Any, name: str | None = None) -> int:
        """How many candidates the search gets (0: no search); ``name`` is fit's chosen algorithm."""
        tune = self.tune
        if tune is False or tune is None:
            return 0
        if tune is True:
            return 4
        if tune != "auto":
            return int(tune)
        from ._tuning import auto_budget

        # "auto" searches explicit ratings only: on implicit feedback (ML-100k, ratings >= 4)
        # the search kept ALS's defaults at 8x the fit time; tune=True/int searches there too.
        untouched = (self.algorithm == "auto" and self.n_factors is None
                     and self.max_iter is None and not self.params)
        n = X.nnz if sp.issparse(X) else len(X)
        explicit = (name or self._choose(X, y)) in ("mf", "svdpp")
        return auto_budget(n) if untouched and explicit else 0

    def _fit_tuned(self, X: Any, y: Any, name: str, budget: int) -> "Recommender":
        from . import _tuning

        explicit = name in ("mf", "svdpp")

        def make(algo: str, params: dict, max_iter: int | None) -> Any:
            est = _algorithms()[algo]().set_params(**params)
            # What the user set explicitly wins over the candidate's values.
            fixed = self._make(algo).get_params(deep=False)
            user = {k: fixed[k] for k in (self.params or {}) if k in fixed}
            for key in ("n_factors", "max_iter", "random_state"):
                if getattr(self, key) is not None and key in fixed:
                    user[key] = fixed[key]
            est.set_params(**user)
            if max_iter is not None:
                est.set_params(max_iter=max_iter)
            return est

        if self.algorithm != "auto":
            # The algorithm is fixed: search its own candidates only.
            pool_name = name
        else:
            pool_name = None
        algo, params, results, warm, full = _tuning.search(self, X, y, explicit, budget, make,
                                                           only=pool_name)
        final = make(algo, params, None)
        resumed = False
        if warm is not None and warm[1] < final.max_iter:
            # Warm start: the winner's validation model continues its schedule on all the
            # interactions for the epochs it has left, instead of a refit from scratch.
            est = warm[0].set_params(max_iter=final.max_iter, random_state=final.random_state)
            rng, where = est._validate("fit")
            if est._resume(full, warm[1], rng, where):
                final, resumed = est, True
        if not resumed:
            rng, where = final._validate("fit")
            if bool(final._implicit) == full.implicit:
                final._fit_prepared(full, rng, where)  # the data the search checked and numbered
            else:
                final.fit(X, y)
        self.estimator_ = final
        self.algorithm_ = algo
        self.best_params_ = {"algorithm": algo, **params}
        self.cv_results_ = results
        return self

    def _fitted(self, method: str) -> Any:
        est = self.__dict__.get("estimator_")
        if est is None:
            raise _exceptions.NotFittedError(
                f"Recommender.{method}: this Recommender instance is not fitted yet. "
                f"Call 'fit' with appropriate arguments before using this estimator."
            )
        return est

    def partial_fit(self, X: Any, y: Any = None, **features: Any) -> "Recommender":
        """Fold new interactions into the fitted model (fit when not fitted).

        Parameters
        ----------
        X : DataFrame, array-like or sparse matrix
        y : array-like, default=None
        **features
            ``item_features``, ``user_features`` of new ids (hybrid model only).

        Returns
        -------
        self : object
        """
        if "estimator_" not in self.__dict__:
            return self.fit(X, y, **features)
        self.estimator_.partial_fit(self._frame(X, "partial_fit"), y, **features)
        return self

    def _hybrid(self, method: str) -> Any:
        est = self._fitted(method)
        if not hasattr(est, method):
            raise AttributeError(
                f"Recommender.{method}: needs the hybrid model, fitted with item_features or "
                f"user_features; this Recommender uses {self.algorithm_!r}."
            )
        return est

    def add_items(self, item_features: Any) -> "Recommender":
        """Add new items from their features (see :meth:`HybridMF.add_items`).

        Parameters
        ----------
        item_features : DataFrame or tuple (matrix, ids)

        Returns
        -------
        self : object
        """
        self._hybrid("add_items").add_items(item_features)
        return self

    def add_users(self, user_features: Any) -> "Recommender":
        """Add new users from their features (see :meth:`HybridMF.add_users`).

        Parameters
        ----------
        user_features : DataFrame or tuple (matrix, ids)

        Returns
        -------
        self : object
        """
        self._hybrid("add_users").add_users(user_features)
        return self

    def recommend_new_user(self, user_features: Any, n: int = 10, **kwargs: Any) -> Any:
        """Top-``n`` items for users with no history (see :meth:`HybridMF.recommend_new_user`).

        Parameters
        ----------
        user_features : DataFrame or tuple (matrix, ids)
        n : int, default=10
        **kwargs
            ``items``, ``output``.

        Returns
        -------
        ids, scores : ndarray, or DataFrame
        """
        return self._hybrid("recommend_new_user").recommend_new_user(user_features, n, **kwargs)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted rating or score of user/item pairs (see :meth:`BaseRecommender.predict`).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_pairs, 2)

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
        """
        return self._fitted("predict").predict(self._frame(X, "predict"))

    def recommend(self, users: Any = None, n: int = 10, **kwargs: Any) -> Any:
        """Top-``n`` items per user (see :meth:`BaseRecommender.recommend`).

        Parameters
        ----------
        users : id or array-like of ids, default=None
        n : int, default=10
        **kwargs
            ``exclude_seen``, ``items``, ``output``.

        Returns
        -------
        ids, scores : ndarray, or DataFrame
        """
        return self._fitted("recommend").recommend(users, n, **kwargs)

    def similar_items(self, items: Any, n: int = 10, **kwargs: Any) -> Any:
        """Most similar items (see :meth:`BaseRecommender.similar_items`).

        Parameters
        ----------
        items : id or array-like of ids
        n : int, default=10
        **kwargs
            ``output``.

        Returns
        -------
        ids, scores : ndarray, or DataFrame
        """
        return self._fitted("similar_items").similar_items(items, n, **kwargs)

    def score(self, X: Any, y: Any = None) -> float:
        """Minus RMSE (rating models) or nDCG@10 (implicit models) on held-out data.

        Parameters
        ----------
        X : DataFrame or array-like
        y : array-like, default=None

        Returns
        -------
        score : float
        """
        return self._fitted("score").score(self._frame(X, "score"), y)

    def __getattr__(self, name: str) -> Any:
        # Fitted attributes of the wrapped model (user_index_, n_items_ ...) read through.
        if name.endswith("_") and not name.startswith("__") and "estimator_" in self.__dict__:
            return getattr(self.__dict__["estimator_"], name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        est = self._fitted("save")
        attrs, arrays = est._get_state()
        return (
            {"algorithm_": self.algorithm_, "inner_params": est.get_params(deep=False), "inner": attrs},
            {f"inner__{k}": v for k, v in arrays.items()},
        )

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        name = attrs.get("algorithm_")
        if name not in _algorithms():
            raise ArtifactError(f"load: unknown Recommender algorithm {name!r}.")
        est = _algorithms()[name](**attrs["inner_params"])
        est._set_state(attrs["inner"], {k[len("inner__"):]: v for k, v in arrays.items()})
        self.estimator_ = est
        self.algorithm_ = name
