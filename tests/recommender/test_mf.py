"""MatrixFactorization: known-answer data, fold-in, persistence, estimator API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from maaskit.exceptions import ModelFitError
from maaskit.persistence import dumps, loads
from maaskit.recommender._mf import MatrixFactorization

BACKENDS = ("numpy", "numba", "cython")


def block_ratings(n_users=40, n_items=20, seed=0, density=0.6):
    """Two tastes: group A rates items 0-9 high (5) and 10-19 low (1); group B the reverse."""
    rng = np.random.RandomState(seed)
    rows = []
    for u in range(n_users):
        g = u % 2
        for i in range(n_items):
            if rng.rand() < density:
                likes = (i < n_items // 2) == (g == 0)
                rows.append((u, i, 5.0 if likes else 1.0))
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_recovers_block_structure(backend):
    df = block_ratings()
    mf = MatrixFactorization(n_factors=4, max_iter=60, learning_rate=0.05, regularization=0.02,
                             random_state=0, backend=backend, n_jobs=1).fit(df)
    full = pd.DataFrame([(u, i) for u in range(40) for i in range(20)], columns=["user", "item"])
    pred = mf.predict(full).reshape(40, 20)
    truth = np.where((np.arange(20)[None, :] < 10) == (np.arange(40)[:, None] % 2 == 0), 5.0, 1.0)
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 0.5  # unseen cells included
    assert pred.min() >= 1.0 and pred.max() <= 5.0
    assert mf.train_rmse_ < 0.3


def test_backends_agree_single_thread():
    df = block_ratings()
    preds = [MatrixFactorization(n_factors=3, max_iter=5, random_state=1, backend=b, n_jobs=1).fit(df)
             .predict(df[["user", "item"]]) for b in BACKENDS]
    np.testing.assert_allclose(preds[1], preds[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(preds[2], preds[0], rtol=1e-4, atol=1e-4)


def test_cold_start_falls_back_to_biases():
    df = block_ratings()
    mf = MatrixFactorization(random_state=0, n_jobs=1).fit(df)
    with pytest.warns(Warning, match="unknown"):
        p = mf.predict([[999, 3], [0, 999]])
    np.testing.assert_allclose(p[0], mf.global_mean_ + mf.item_bias_[mf.item_index_.lookup([3])[0]], rtol=1e-5)
    np.testing.assert_allclose(p[1], mf.global_mean_ + mf.user_bias_[mf.user_index_.lookup([0])[0]], rtol=1e-5)


@pytest.mark.parametrize("backend", ("numba", "cython"))
def test_partial_fit_folds_in_new_user(backend):
    df = block_ratings()
    mf = MatrixFactorization(n_factors=4, max_iter=60, learning_rate=0.05, regularization=0.02,
                             random_state=0, backend=backend, n_jobs=1).fit(df)
    Q_before = mf.item_factors_.copy()
    # A new user with group A's taste who rated only a few items.
    new = pd.DataFrame({"user": [1000] * 6, "item": [0, 1, 2, 12, 13, 14],
                        "rating": [5.0, 5.0, 5.0, 1.0, 1.0, 1.0]})
    mf.partial_fit(new)
    np.testing.assert_array_equal(mf.item_factors_, Q_before)  # old items frozen
    liked = mf.predict([[1000, i] for i in range(3, 10)])
    disliked = mf.predict([[1000, i] for i in range(15, 20)])
    assert liked.min() > disliked.max()
    assert mf.n_users_ == 41


def test_partial_fit_new_item_learns():
    df = block_ratings()
    mf = MatrixFactorization(n_factors=4, max_iter=40, learning_rate=0.05, random_state=0, n_jobs=1).fit(df)
    new = pd.DataFrame({"user": [0, 2, 4, 6], "item": [77] * 4, "rating": [5.0] * 4})
    mf.partial_fit(new)
    assert mf.n_items_ == 21
    assert mf.predict([[8, 77]])[0] > mf.global_mean_


def test_persistence_round_trip():
    df = block_ratings()
    mf = MatrixFactorization(n_factors=3, max_iter=5, random_state=0, n_jobs=1).fit(df)
    back = loads(dumps(mf))
    pairs = df[["user", "item"]].head(50)
    np.testing.assert_array_equal(back.predict(pairs), mf.predict(pairs))
    assert back.get_params() == mf.get_params()


def test_get_params_clone_and_determinism():
    mf = MatrixFactorization(n_factors=7, learning_rate=0.01, random_state=3, n_jobs=1)
    c = clone(mf)
    assert c.get_params() == mf.get_params() and not hasattr(c, "user_factors_")
    df = block_ratings()
    np.testing.assert_array_equal(c.fit(df).user_factors_, clone(mf).fit(df).user_factors_)


def test_bad_parameters_and_divergence():
    df = block_ratings()
    with pytest.raises(ValueError, match="'learning_rate' parameter of MatrixFactorization"):
        MatrixFactorization(learning_rate=-1.0).fit(df)
    with pytest.raises(ModelFitError, match="smaller learning_rate"):
        MatrixFactorization(learning_rate=50.0, regularization=0.0, learning_rate_decay=1.0,
                            init_std=1.0, max_iter=50, random_state=0).fit(df)
