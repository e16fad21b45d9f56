"""Batch scoring on a local cluster: identical to the in-process calls, Parquet output."""

from __future__ import annotations

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from maaskit.datasets import make_interactions
from maaskit.exceptions import ColdStartWarning
from maaskit.recommender import ALS, MatrixFactorization
from maaskit.distributed import predict_batch, recommend_batch


@pytest.fixture(scope="module")
def implicit_df():
    return make_interactions(n_users=200, n_items=80, n_interactions=3000, kind="implicit",
                             random_state=0)[["user", "item", "rating"]]


@pytest.fixture(scope="module")
def als(implicit_df):
    return ALS(n_factors=8, max_iter=4, random_state=0).fit(implicit_df)


@pytest.fixture(scope="module")
def mf():
    df = make_interactions(n_users=150, n_items=60, n_interactions=2500, random_state=1)
    # String ids check that ids come back as given.
    df = df.assign(user="u" + df["user"].astype(str), item="i" + df["item"].astype(str))
    model = MatrixFactorization(n_factors=6, max_iter=5, random_state=0)
    return model.fit(df[["user", "item", "rating"]]), df


def _in_process(model, users, **kw):
    with pytest.warns(ColdStartWarning) if (model.user_index_.lookup(users) < 0).any() else _nothing():
        return model.recommend(pd.Series(users, name="user"), output="pandas", **kw)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("kw", [{}, {"exclude_seen": False}, {"items": [3, 5, 7, 11, 13, 17]}])
def test_recommend_batch_matches_in_process(client, als, kw):
    users = np.concatenate([np.arange(200), [-1, 999]])  # two unknown users
    got = recommend_batch(als, users, n=5, partition_size=37, **kw)
    assert isinstance(got, dd.DataFrame) and got.npartitions == 6
    expected = _in_process(als, users, n=5, **kw)
    pd.testing.assert_frame_equal(got.compute().reset_index(drop=True), expected)


def test_recommend_batch_ships_model_once_per_worker(client, als):
    before = {k for k in client.who_has() if isinstance(k, str) and k.startswith("ALS-")}
    got = recommend_batch(als, np.arange(200), n=3, partition_size=20)
    (key,) = {k for k in client.who_has() if isinstance(k, str) and k.startswith("ALS-")} - before
    # Broadcast to both workers once, not sent with each of the 10 partition tasks.
    assert len(client.who_has()[key]) == 2
    assert got.npartitions == 10 and len(got.compute()) == 600


def test_recommend_batch_string_ids_dask_frame_to_parquet(client, mf, tmp_path):
    model, df = mf
    users = dd.from_pandas(pd.DataFrame({"user": df["user"].unique()}), npartitions=4)
    path = recommend_batch(model, users, n=4, exclude_seen=True, output=tmp_path / "recs.parquet")
    back = pd.read_parquet(path)
    expected = _in_process(model, df["user"].unique(), n=4)
    pd.testing.assert_frame_equal(back.reset_index(drop=True), expected, check_dtype=False)
    assert back["item"].str.startswith("i").all()


def test_recommend_batch_dask_array_and_series(client, als):
    arr = da.from_array(np.arange(50), chunks=20)
    a = recommend_batch(als, arr, n=2).compute().reset_index(drop=True)
    s = recommend_batch(als, dd.from_pandas(pd.Series(np.arange(50), name="user"), npartitions=3),
                        n=2).compute().reset_index(drop=True)
    expected = _in_process(als, np.arange(50), n=2)
    pd.testing.assert_frame_equal(a, expected)
    pd.testing.assert_frame_equal(s, expected)


def test_recommend_batch_without_client_uses_delayed_model(als, monkeypatch):
    # Without a distributed client the model travels as one dask.delayed leaf.
    import maaskit.distributed._scoring as scoring

    monkeypatch.setattr(scoring, "_active_client", lambda client: None)
    got = recommend_batch(als, np.arange(30), n=3, partition_size=7)
    with dask.config.set(scheduler="sync"):
        result = got.compute()
    pd.testing.assert_frame_equal(result.reset_index(drop=True), _in_process(als, np.arange(30), n=3))


def test_recommend_batch_errors(client, als):
    with pytest.raises(ValueError, match="recommend_batch: partition_size must be a positive int; got 0"):
        recommend_batch(als, np.arange(5), partition_size=0)
    with pytest.raises(ValueError, match=r"ALS.recommend: n must be a positive int; got -1"):
        recommend_batch(als, np.arange(5), n=-1)
    with pytest.raises(TypeError, match="recommend_batch: model must be a fitted maaskit recommender"):
        recommend_batch(ALS(), np.arange(5))
    frame = dd.from_pandas(pd.DataFrame({"a": [1], "b": [2]}), npartitions=1)
    with pytest.raises(ValueError, match="recommend_batch: users must have a 'user' column"):
        recommend_batch(als, frame)


def test_predict_batch_sklearn_on_dask_array(client, tmp_path):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    Xd = da.from_array(X, chunks=(128, 3))  # column chunks are joined per block
    pred = predict_batch(clf, Xd)
    assert isinstance(pred, da.Array) and pred.shape == (1000,)
    np.testing.assert_array_equal(pred.compute(), clf.predict(X))
    proba = predict_batch(clf, Xd, method="predict_proba").compute()
    np.testing.assert_allclose(proba, clf.predict_proba(X))
    np.testing.assert_array_equal(predict_batch(clf, X, partition_size=300).compute(), clf.predict(X))
    path = predict_batch(clf, X, method="predict_proba", output=tmp_path / "proba", partition_size=300)
    back = pd.read_parquet(path)
    assert list(back.columns) == ["predict_proba_0", "predict_proba_1"]
    np.testing.assert_allclose(back.to_numpy(), clf.predict_proba(X))
    path = predict_batch(clf, Xd, output=tmp_path / "labels")
    np.testing.assert_array_equal(pd.read_parquet(path)["prediction"].to_numpy(), clf.predict(X))


def test_predict_batch_dask_frame_with_feature_names_to_parquet(client, tmp_path):
    rng = np.random.RandomState(1)
    X = pd.DataFrame(rng.standard_normal((500, 3)), columns=["a", "b", "c"])
    y = X["a"] * 2 - X["c"]
    reg = Ridge().fit(X, y)
    Xd = dd.from_pandas(X, npartitions=4)
    pred = predict_batch(reg, Xd)
    assert isinstance(pred, dd.Series) and pred.name == "prediction"
    pd.testing.assert_series_equal(pred.compute(), pd.Series(reg.predict(X), index=X.index,
                                                             name="prediction"))
    path = predict_batch(reg, Xd, output=str(tmp_path / "pred"))
    np.testing.assert_allclose(pd.read_parquet(path)["prediction"].to_numpy(), reg.predict(X))


def test_predict_batch_recommender_pairs(client, mf):
    model, df = mf
    pairs = dd.from_pandas(df[["user", "item"]], npartitions=5)
    got = predict_batch(model, pairs).compute()
    np.testing.assert_allclose(got.to_numpy(), model.predict(df[["user", "item"]]))


def test_predict_batch_errors(client, als):
    with pytest.raises(TypeError, match="predict_batch: estimator must have a 'predict_proba' method"):
        predict_batch(als, np.zeros((2, 2)), method="predict_proba")
    with pytest.raises(ValueError, match=r"predict_batch: X must be 2-D; got shape \(3,\)"):
        predict_batch(Ridge().fit([[0.0], [1.0]], [0, 1]), np.zeros(3))
