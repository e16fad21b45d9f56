"""Accuracy on real data (MovieLens 100k when present, the synthetic catalogue otherwise)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from maaskit.datasets import load_movielens, make_interactions
from maaskit.exceptions import ColdStartWarning
from maaskit.metrics import ndcg_at_k, relevant_items_by_user, rmse
from maaskit.model_selection import filter_test_to_train, random_split
from maaskit.recommender import ALS, BPR, MatrixFactorization, Popularity, SVDpp


@pytest.fixture(scope="module")
def ratings(shared_data_home) -> tuple[pd.DataFrame, bool]:
    home = shared_data_home
    if home is not None and (home / "ml-100k" / "u.data").exists():
        return load_movielens("100k", data_home=home), True
    return make_interactions(943, 1682, 100_000, random_state=0), False


@pytest.mark.parametrize("cls", [MatrixFactorization, SVDpp])
def test_rating_models_beat_baselines(cls, ratings):
    df, real = ratings
    train, test = random_split(df[["user", "item", "rating"]], test_size=0.2, random_state=0)
    test = filter_test_to_train(train, test)
    model = cls(random_state=0).fit(train)
    err = rmse(test.rating.to_numpy(), model.predict(test))
    baseline = rmse(test.rating.to_numpy(), np.full(len(test), train.rating.mean()))
    assert err < baseline - 0.05
    if real:  # Surprise SVD reaches 0.934 on this data; SVD++ 0.919.
        assert err < 0.93


@pytest.mark.parametrize("cls", [ALS, BPR])
def test_implicit_models_beat_popularity(cls, ratings):
    df, _ = ratings
    pos = df[df.rating >= 4][["user", "item"]]
    train, test = random_split(pos, test_size=0.2, random_state=0)
    test = filter_test_to_train(train, test)
    users, truth = relevant_items_by_user(test)
    scores = {}
    for name, model in (("model", cls(random_state=0)), ("pop", Popularity())):
        model.fit(train)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ColdStartWarning)
            ids, _ = model.recommend(users, n=10)
        scores[name] = ndcg_at_k(truth, ids, k=10)
    assert scores["model"] > 1.2 * scores["pop"], scores
