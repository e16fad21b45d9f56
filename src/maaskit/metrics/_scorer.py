"""Scorers for model selection: ``get_scorer("ndcg@10")`` in ``GridSearchCV(scoring=...)``.

scikit-learn's ``make_scorer(ndcg_at_k)`` cannot work for recommenders: a scorer gets
``(estimator, X_test, y_test)`` and ranking metrics need each test user's top-k list, which
only the estimator can produce. These scorers do that step: they group the held-out
interactions by user, ask the fitted model for its top-k (items seen in training excluded),
and compute the metric. scikit-learn's registry of ``scoring=`` strings is private, so pass
the scorer object (``scoring=get_scorer("ndcg@10")``) or a dict of them for several metrics.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd

from ._ranking import hr_at_k, map_at_k, ndcg_at_k, precision_at_k, recall_at_k
from ._rating import mae, rmse

__all__ = ["get_scorer", "get_scorer_names", "RecommenderScorer"]

_RANKING: dict[str, Callable[..., float]] = {
    "ndcg": ndcg_at_k, "precision": precision_at_k, "recall": recall_at_k, "map": map_at_k,
    "hr": hr_at_k,
}
_RATING: dict[str, Callable[..., float]] = {"rmse": rmse, "mae": mae}


class RecommenderScorer:
    """A scikit-learn scorer ``scorer(estimator, X, y=None) -> float`` for recommenders.

    Greater is better, as scikit-learn's model selection expects: ranking metrics are
    returned as is, rating errors negated (``get_scorer("rmse")`` returns minus the RMSE,
    like scikit-learn's ``neg_root_mean_squared_error``).

    Parameters
    ----------
    name : str
        The metric, e.g. ``"ndcg@10"`` or ``"rmse"``.
    threshold : float, default=None
        Ranking metrics: only held-out interactions rated at least this are relevant.
    """

    def __init__(self, name: str, threshold: float | None = None) -> None:
        self.name = name
        self.threshold = threshold
        metric, k = _parse(name)
        self._metric, self._k = metric, k

    def __repr__(self) -> str:
        return f"get_scorer({self.name!r})"

    def __call__(self, estimator: Any, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Score a fitted recommender on held-out interactions.

        Parameters
        ----------
        estimator : fitted recommender
        X : DataFrame or array-like of shape (n, 2) or (n, 3)
            Held-out interactions (the test fold of a split).
        y : array-like of shape (n,), default=None
            Ratings, if not part of ``X``.
        sample_weight : None
            Not supported (GridSearchCV passes none).

        Returns
        -------
        score : float
        """
        from ..utils.validation import check_interactions

        where = f"get_scorer({self.name!r})"
        if sample_weight is not None:
            raise ValueError(f"{where}: sample_weight is not supported; got an array.")
        if hasattr(estimator, "_frame"):  # Recommender(columns=...) renames its frames
            X = estimator._frame(X, "score")
        inner = getattr(estimator, "estimator_", estimator)
        rating = self._metric in _RATING
        inter = check_interactions(X, y, where=where, implicit=False, require_values=rating)
        if rating:
            pairs = np.empty((len(inter), 2), dtype=object)
            pairs[:, 0], pairs[:, 1] = inter.users, inter.items
            if hasattr(inner, "_predict"):
                pred = inner._predict(pairs, warn=False)  # unseen pairs are expected in CV
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred = estimator.predict(pairs)
            return -float(_RATING[self._metric](inter.values, pred))
        frame = pd.DataFrame({"user": inter.users, "item": inter.items, "rating": inter.values})
        if self.threshold is not None:
            frame = frame[frame["rating"] >= self.threshold]
        # Users the model has never seen would all get the same popularity list; like
        # score(), a ranking metric measures the users the model knows.
        frame = frame[inner.user_index_.lookup(frame["user"].to_numpy()) >= 0]
        if frame.empty:
            raise ValueError(f"{where}: none of the users in X is known to the model.")
        groups = frame.groupby("user", sort=False)["item"]
        users = np.empty(groups.ngroups, dtype=object)
        users[:] = list(groups.groups.keys())
        truth = [g.to_numpy() for _, g in groups]
        ids, scores = inner.recommend(users, n=self._k, exclude_seen=True, output="numpy")
        ids, scores = np.atleast_2d(ids), np.atleast_2d(scores)
        valid = np.isfinite(scores)  # padding of users with fewer unseen items than k
        k = min(self._k, ids.shape[1])
        return float(_RANKING[self._metric](truth, ids, k=k, mask=valid))


def _parse(name: Any) -> tuple[str, int | None]:
    if not isinstance(name, str):
        raise ValueError(f"get_scorer: name must be a str such as 'ndcg@10'; got {name!r}.")
    key = name.strip().lower()
    key = key[4:] if key.startswith("neg_") else key
    if key in _RATING:
        return key, None
    m = re.fullmatch(r"(ndcg|precision|recall|map|hr)@(\d+)", key)
    if m is None or int(m.group(2)) < 1:
        raise ValueError(
            f"get_scorer: name must be one of {get_scorer_names()} (any k >= 1 after '@'); "
            f"got {name!r}."
        )
    return m.group(1), int(m.group(2))


def get_scorer_names() -> list[str]:
    """Names that :func:`get_scorer` accepts (``k`` may be any positive int).

    Returns
    -------
    names : list of str
    """
    return ["ndcg@k", "precision@k", "recall@k", "map@k", "hr@k", "rmse", "mae", "neg_rmse", "neg_mae"]


def get_scorer(scoring: Any, *, threshold: float | None = None) -> Any:
    """Scorer(s) for ``GridSearchCV(scoring=...)`` and ``cross_validate`` over recommenders.

    Parameters
    ----------
    scoring : str or list of str
        ``"ndcg@10"``, ``"precision@5"``, ``"recall@20"``, ``"map@10"``, ``"hr@10"``, ``"rmse"``,
        ``"mae"`` (``"neg_rmse"``/``"neg_mae"`` are the same). A list gives a dict of
        scorers, for multi-metric search (then set ``refit`` to one of the names).
    threshold : float, default=None
        Ranking metrics: only held-out interactions rated at least this are relevant.

    Returns
    -------
    scorer : RecommenderScorer or dict of str to RecommenderScorer
        Callable as ``scorer(estimator, X_test, y_test=None)``; greater is better (rating
        errors are negated).

    Examples
    --------
    >>> from maaskit.metrics import get_scorer
    >>> get_scorer("ndcg@10")
    get_scorer('ndcg@10')
    >>> sorted(get_scorer(["rmse", "map@5"]))
    ['map@5', 'rmse']
    """
    if isinstance(scoring, (list, tuple)):
        return {name: RecommenderScorer(name, threshold) for name in scoring}
    return RecommenderScorer(scoring, threshold)
