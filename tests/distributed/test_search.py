"""Hyper-parameter search: scikit-learn's GridSearchCV over maaskit estimators on Dask."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from distributed import get_task_stream
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from maaskit.datasets import make_interactions
from maaskit.recommender import ALS, MatrixFactorization


def _search(estimator, grid, X, backend):
    # Folds stratified by user keep every user in every training fold: a cold-start user
    # would make MatrixFactorization.score silence a ColdStartWarning with
    # warnings.catch_warnings, which is not thread-safe before Python 3.14 (the in-process
    # workers here are threads), so the warning could escape as an error.
    cv = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, X["user"]))
    search = GridSearchCV(estimator, grid, cv=cv, n_jobs=2, error_score="raise")
    if backend == "dask":
        with joblib.parallel_backend("dask"):
            return search.fit(X)
    with joblib.parallel_backend("sequential"):
        return search.fit(X)


@pytest.mark.parametrize("estimator, grid, kind", [
    (MatrixFactorization(n_factors=4, max_iter=5, random_state=0),
     {"regularization": [0.02, 0.2]}, "explicit"),
    (ALS(n_factors=4, max_iter=3, random_state=0), {"regularization": [1.0, 20.0]}, "implicit"),
])
def test_grid_search_on_dask_matches_sequential(client, estimator, grid, kind):
    # Uniform item popularity: no item is so rare that a fold holds all its interactions.
    df = make_interactions(n_users=100, n_items=50, n_interactions=2000, kind=kind,
                           popularity_skew=0.0, random_state=0)[["user", "item", "rating"]]
    df = df[df.groupby("user")["user"].transform("size") >= 3]
    with get_task_stream(client) as stream:
        on_dask = _search(estimator, grid, df, "dask")
    # The folds really ran as tasks on the cluster's workers.
    assert sum("fit_and_score" in str(t["key"]) for t in stream.data) >= 2
    local = _search(estimator, grid, df, "sequential")
    np.testing.assert_allclose(on_dask.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-6)
    assert on_dask.best_params_ == local.best_params_
    assert type(on_dask.best_estimator_) is type(estimator)
    assert on_dask.best_estimator_.recommend(df["user"].iloc[0], n=3)[0].shape == (3,)
