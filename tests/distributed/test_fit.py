"""Distributed training on a local cluster: block ALS and DSGD against in-process fits."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from maaskit.datasets import make_interactions
from maaskit.exceptions import ModelFitError
from maaskit.metrics import ndcg_at_k, rmse
from maaskit.model_selection import filter_test_to_train, per_user_split, random_split
from maaskit.recommender import ALS, BPR, MatrixFactorization
from maaskit.distributed import fit_distributed, recommend_batch
from maaskit.distributed._als import fit_als


@pytest.fixture(scope="module")
def implicit_split():
    df = make_interactions(n_users=300, n_items=150, n_interactions=6000, kind="implicit",
                           random_state=0)[["user", "item", "rating"]]
    return per_user_split(df, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def explicit_split():
    df = make_interactions(n_users=300, n_items=120, n_interactions=8000, random_state=2)
    train, test = random_split(df[["user", "item", "rating"]], test_size=0.2, random_state=0)
    return train, filter_test_to_train(train, test)


def _ndcg(model, train, test):
    test = test[test["user"].isin(train["user"])]
    groups = test.groupby("user")["item"]
    ids, _ = model.recommend(np.array(list(groups.groups)), n=10, output="numpy")
    return ndcg_at_k([g.to_numpy() for _, g in groups], ids, k=10)


def test_block_als_equals_in_process_als_from_same_start(client, implicit_split):
    train, _ = implicit_split
    params = dict(n_factors=6, max_iter=3, regularization=5.0, confidence_weight=2.0, solver="cholesky")
    local = ALS(**params, random_state=0).fit(train)
    # The in-process start: the same RandomState draws, users then items.
    rng = np.random.RandomState(0)
    U0 = rng.random_sample((local.n_users_, 6)) * 0.01
    V0 = rng.random_sample((local.n_items_, 6)) * 0.01
    dist = fit_als(ALS(**params), dd.from_pandas(train, npartitions=3), client, 3, init=(U0, V0))
    np.testing.assert_array_equal(dist.user_index_.ids, local.user_index_.ids)
    np.testing.assert_array_equal(dist.item_index_.ids, local.item_index_.ids)
    # Exact solves: only the float32 summation order of Y^T Y differs (3 blocks vs one GEMM).
    np.testing.assert_allclose(dist.user_factors_, local.user_factors_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dist.item_factors_, local.item_factors_, rtol=1e-4, atol=1e-5)
    for name in ("seen_indptr_", "seen_indices_", "seen_values_", "item_popularity_"):
        np.testing.assert_array_equal(getattr(dist, name), getattr(local, name))


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_block_als_matches_in_process_ndcg(client, implicit_split, solver):
    train, test = implicit_split
    params = dict(n_factors=8, max_iter=6, regularization=5.0, solver=solver, random_state=0)
    local = ALS(**params).fit(train)
    dist = fit_distributed(ALS(**params), dd.from_pandas(train, npartitions=4), client, n_blocks=2)
    assert dist.n_iter_ == 6 and dist.user_factors_.shape == local.user_factors_.shape
    assert dist.user_factors_.dtype == np.float32 and dist.backend_ == local.backend_
    nd_local, nd_dist = _ndcg(local, train, test), _ndcg(dist, train, test)
    assert nd_local > 0.1  # the model learns (popularity alone is far lower on this data)
    assert abs(nd_dist - nd_local) < 0.03, (nd_dist, nd_local)


def test_dsgd_matches_in_process_rmse(client, explicit_split):
    train, test = explicit_split
    params = dict(n_factors=8, max_iter=15, random_state=0)
    local = MatrixFactorization(**params).fit(train)
    dist = fit_distributed(MatrixFactorization(**params), dd.from_pandas(train, npartitions=3),
                           client, n_blocks=3)
    pairs = test[["user", "item"]]
    r_local = rmse(test["rating"], local.predict(pairs))
    r_dist = rmse(test["rating"], dist.predict(pairs))
    baseline = rmse(test["rating"], np.full(len(test), train["rating"].mean()))
    assert r_dist < baseline - 0.05  # it learns something beyond the mean
    assert abs(r_dist - r_local) < 0.03, (r_dist, r_local)
    assert dist.global_mean_ == pytest.approx(local.global_mean_, rel=1e-6)
    assert dist.rating_range_ == local.rating_range_
    assert abs(dist.train_rmse_ - local.train_rmse_) < 0.05
    for name in ("seen_indptr_", "seen_indices_", "seen_values_", "item_popularity_"):
        np.testing.assert_array_equal(getattr(dist, name), getattr(local, name))


def test_distributed_models_are_ordinary_estimators(client, implicit_split, tmp_path):
    train, _ = implicit_split
    # String ids and a pandas input (split into partitions by fit_distributed).
    df = train.assign(user="u" + train["user"].astype(str), item="i" + train["item"].astype(str))
    model = fit_distributed(ALS(n_factors=4, max_iter=2, random_state=0), df, client)
    assert isinstance(model, ALS) and set(model.user_index_.ids) == set(df["user"])
    ids, scores = model.recommend("u1", n=5)
    assert len(ids) == 5 and not set(ids) & set(df.loc[df["user"] == "u1", "item"])
    loaded = ALS.load(model.save(tmp_path / "als.npz"))
    np.testing.assert_array_equal(loaded.recommend("u1", n=5)[0], ids)
    batch = recommend_batch(model, df["user"].unique()[:20], n=5).compute()
    assert batch.groupby("user").size().eq(5).all()
    model.partial_fit(pd.DataFrame({"user": ["new"], "item": ["i1"], "rating": [1.0]}))
    assert "new" in set(model.user_index_.ids)


def test_more_blocks_than_rows(client):
    df = pd.DataFrame({"user": [0, 0, 1], "item": [5, 6, 5], "rating": [1.0, 2.0, 3.0]})
    model = fit_distributed(ALS(n_factors=2, max_iter=2, random_state=0), df, client, n_blocks=4)
    assert model.user_factors_.shape == (2, 2) and model.item_factors_.shape == (2, 2)
    mf = fit_distributed(MatrixFactorization(n_factors=2, max_iter=2, random_state=0), df, client,
                         n_blocks=4)
    assert mf.user_factors_.shape == (2, 2) and np.isfinite(mf.predict([[0, 6]])).all()


def test_fit_distributed_errors(client):
    df = pd.DataFrame({"user": [0, 1], "item": [0, 1]})
    with pytest.raises(TypeError, match="fit_distributed: estimator must be a maaskit ALS or "
                                        "MatrixFactorization; got BPR"):
        fit_distributed(BPR(), df, client)
    with pytest.raises(ValueError, match="fit_distributed: n_blocks must be a positive int; got 0"):
        fit_distributed(ALS(), df, client, n_blocks=0)
    with pytest.raises(ValueError, match="fit_distributed: this model needs explicit ratings"):
        fit_distributed(MatrixFactorization(), df, client)
    with pytest.raises(TypeError, match="fit_distributed: X must be a dask or pandas DataFrame"):
        fit_distributed(ALS(), np.zeros((2, 2)), client)
    with pytest.raises(ValueError, match="The 'max_iter' parameter of ALS must be"):
        fit_distributed(ALS(max_iter=-1), df, client)
    # Values are checked on the workers, where the partitions live.
    bad = dd.from_pandas(df.assign(rating=[1.0, -2.0]), npartitions=2)
    with pytest.raises(ValueError, match="fit_distributed: implicit-feedback weights must be >= 0"):
        fit_distributed(ALS(), bad, client)
    with pytest.raises(ValueError, match="fit_distributed: at least one interaction is required"):
        fit_distributed(ALS(), df.iloc[:0], client)


def test_dsgd_divergence_raises(client):
    df = make_interactions(n_users=40, n_items=30, n_interactions=600, random_state=0)
    with pytest.raises(ModelFitError, match="training diverged at epoch 1"):
        fit_distributed(MatrixFactorization(learning_rate=1e3, regularization=0.0, random_state=0),
                        df[["user", "item", "rating"]], client, n_blocks=2)
