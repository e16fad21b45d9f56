"""Every recommender class is served with the same answers as its own ``recommend``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maaskit.recommender import ALS, BPR, MatrixFactorization, Popularity, Recommender, SVDpp
from maaskit.registry import Registry
from maaskit.serving.models import LoadedModel


@pytest.mark.parametrize("cls", [ALS, BPR, MatrixFactorization, Popularity, SVDpp, Recommender])
def test_served_topk_equals_recommend(tmp_path, cls):
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"user": rng.randint(0, 30, 400), "item": rng.randint(0, 40, 400),
                       "rating": rng.randint(1, 6, 400).astype(float)})
    explicit = cls in (MatrixFactorization, SVDpp, Recommender)
    params = {"max_iter": 3} if "max_iter" in cls().get_params() else {}
    est = cls(**params).fit(df if explicit else df[["user", "item"]])
    reg = Registry(tmp_path)
    served = LoadedModel(reg.publish("m", est), reg.load("m"))
    users = list(est.user_index_.ids[:6])
    for exclude_seen in (True, False):
        (ids, scores), = served._topk_batch((5, exclude_seen), [users])
        expected_ids, expected_scores = est.recommend(users, n=5, exclude_seen=exclude_seen)
        np.testing.assert_array_equal(ids, expected_ids)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
