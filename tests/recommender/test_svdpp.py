"""SVDpp: known-answer data, implicit signal, fold-in, persistence, estimator API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from maaskit.persistence import dumps, loads
from maaskit.recommender._svdpp import SVDpp

BACKENDS = ("numpy", "numba", "cython")


def block_ratings(n_users=40, n_items=20, seed=0, density=0.6):
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
    m = SVDpp(n_factors=4, max_iter=60, learning_rate=0.05, learning_rate_decay=1.0,
              regularization=0.02, y_regularization=0.02, random_state=0, backend=backend,
              n_jobs=1).fit(df)
    full = pd.DataFrame([(u, i) for u in range(40) for i in range(20)], columns=["user", "item"])
    pred = m.predict(full).reshape(40, 20)
    truth = np.where((np.arange(20)[None, :] < 10) == (np.arange(40)[:, None] % 2 == 0), 5.0, 1.0)
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 0.5


def test_backends_agree_single_thread():
    df = block_ratings()
    preds = [SVDpp(n_factors=3, max_iter=5, random_state=1, backend=b, n_jobs=1).fit(df)
             .predict(df[["user", "item"]]) for b in BACKENDS]
    np.testing.assert_allclose(preds[1], preds[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(preds[2], preds[0], rtol=1e-4, atol=1e-4)


def test_user_vector_includes_implicit_sum():
    df = block_ratings()
    m = SVDpp(n_factors=3, max_iter=3, random_state=0, n_jobs=1).fit(df)
    u = 5
    N = m.seen_indices_[m.seen_indptr_[u]:m.seen_indptr_[u + 1]]
    expect = m.user_factors_[u] + m.implicit_factors_[N].sum(0) / np.sqrt(len(N))
    np.testing.assert_allclose(m._user_vectors(np.array([u]))[0, :3], expect, rtol=1e-5, atol=1e-6)


def test_implicit_signal_alone_separates_tastes():
    """Users who only *which* items they rated (all rated 3) still get their group's taste."""
    df = block_ratings()
    m = SVDpp(n_factors=4, max_iter=60, learning_rate=0.05, learning_rate_decay=1.0,
              regularization=0.02, y_regularization=0.02, random_state=0, n_jobs=1).fit(df)
    new = pd.DataFrame({"user": [500] * 5, "item": [0, 1, 2, 3, 4], "rating": [3.0] * 5})
    m.partial_fit(new)
    assert m.predict([[500, 8]])[0] != m.predict([[500, 18]])[0]


@pytest.mark.parametrize("backend", ("numba", "cython"))
def test_partial_fit_folds_in_new_user(backend):
    df = block_ratings()
    m = SVDpp(n_factors=4, max_iter=60, learning_rate=0.05, learning_rate_decay=1.0,
              regularization=0.02, y_regularization=0.02, random_state=0, backend=backend,
              n_jobs=1).fit(df)
    Q0, Y0 = m.item_factors_.copy(), m.implicit_factors_.copy()
    new = pd.DataFrame({"user": [1000] * 6, "item": [0, 1, 2, 12, 13, 14],
                        "rating": [5.0, 5.0, 5.0, 1.0, 1.0, 1.0]})
    m.partial_fit(new)
    np.testing.assert_array_equal(m.item_factors_, Q0)
    np.testing.assert_array_equal(m.implicit_factors_, Y0)
    liked = m.predict([[1000, i] for i in range(3, 10)])
    disliked = m.predict([[1000, i] for i in range(15, 20)])
    assert liked.min() > disliked.max()


def test_partial_fit_new_item_grows_all_arrays():
    df = block_ratings()
    m = SVDpp(n_factors=3, max_iter=10, random_state=0, n_jobs=1).fit(df)
    m.partial_fit(pd.DataFrame({"user": [0, 2], "item": [77, 77], "rating": [5.0, 5.0]}))
    assert m.implicit_factors_.shape == m.item_factors_.shape == (21, 3)
    assert np.isfinite(m.predict([[4, 77]])).all()


def test_persistence_and_clone():
    df = block_ratings()
    m = SVDpp(n_factors=3, max_iter=5, random_state=0, n_jobs=1).fit(df)
    back = loads(dumps(m))
    pairs = df[["user", "item"]].head(50)
    np.testing.assert_array_equal(back.predict(pairs), m.predict(pairs))
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "implicit_factors_")
    np.testing.assert_array_equal(c.fit(df).predict(pairs), m.predict(pairs))


def test_bad_y_regularization():
    with pytest.raises(ValueError, match="'y_regularization' parameter of SVDpp"):
        SVDpp(y_regularization=-1.0).fit(block_ratings())


def test_repeated_pairs_train_apart_and_unique_pairs_from_the_prepared_csr(monkeypatch):
    # Without repeated (user, item) pairs the epochs read the prepared CSR; with one, the
    # ratings are grouped by _user_csr, which keeps both ratings (the CSR would sum them).
    calls = []
    grouped = SVDpp._user_csr
    monkeypatch.setattr(SVDpp, "_user_csr",
                        staticmethod(lambda *a: calls.append(len(a[2])) or grouped(*a)))
    df = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2], "item": [0, 1, 0, 2, 1, 2],
                       "rating": [5.0, 1.0, 4.0, 2.0, 1.0, 5.0]})
    SVDpp(n_factors=2, random_state=0, backend="numpy").fit(df)
    assert calls == []
    dup = pd.concat([df, df.iloc[[0]].assign(rating=3.0)], ignore_index=True)
    b = SVDpp(n_factors=2, random_state=0, backend="numpy").fit(dup)
    assert calls == [7]  # all 7 ratings trained, the repeat apart
    assert b.seen_values_[0] == 8.0  # while the seen CSR sums it
    assert np.isclose(b.global_mean_, dup["rating"].mean())
