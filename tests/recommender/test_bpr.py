"""BPR estimator: known-answer structure, reproducibility, fold-in, persistence, parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from maaskit import persistence
from maaskit.recommender._bpr import BPR

BACKENDS = ("numpy", "numba", "cython")


def _group_hits(model, df, users):
    seen = df.groupby("user")["item"].apply(set)
    hits = 0
    for u in users:
        group = 0 if int(u[1:]) < 20 else 1
        ids, _ = model.recommend(u, n=3, output="numpy")
        expected = {f"i{i + 10 * group}" for i in range(10)} - seen[u]
        hits += len(set(ids) & expected)
    return hits / (3 * len(users))


@pytest.mark.parametrize("backend", BACKENDS)
def test_recovers_block_structure(block_interactions, backend):
    model = BPR(8, max_iter=60 if backend != "numpy" else 40, learning_rate=0.1, backend=backend,
                random_state=0, n_jobs=1)
    model.fit(block_interactions)
    assert model.user_factors_.shape == (40, 9) and model.item_factors_.shape == (20, 9)
    assert np.all(model.user_factors_[:, -1] == 1)
    assert model.train_accuracy_ > 0.8
    assert _group_hits(model, block_interactions, [f"u{u}" for u in range(0, 40, 3)]) >= 0.9


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_reproducible_with_one_thread_and_matches_reference(block_interactions, backend):
    kw = dict(n_factors=4, max_iter=3, random_state=5, n_jobs=1)
    a = BPR(backend=backend, **kw).fit(block_interactions)
    b = BPR(backend=backend, **kw).fit(block_interactions)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    r = BPR(backend="numpy", **kw).fit(block_interactions)
    np.testing.assert_allclose(a.item_factors_, r.item_factors_, rtol=1e-3, atol=1e-5)


def test_two_threads_learn_too(block_interactions):
    m = BPR(8, max_iter=60, learning_rate=0.1, random_state=0, n_jobs=2).fit(block_interactions)
    assert _group_hits(m, block_interactions, [f"u{u}" for u in range(0, 40, 3)]) >= 0.9


def test_partial_fit_folds_in_new_user_with_bpr(block_interactions):
    model = BPR(8, max_iter=60, learning_rate=0.1, random_state=0, n_jobs=1).fit(block_interactions)
    items_before = model.item_factors_.copy()
    new = pd.DataFrame({"user": ["new"] * 6, "item": [f"i{i}" for i in range(10, 16)]})
    model.partial_fit(new)
    np.testing.assert_array_equal(model.item_factors_, items_before)
    ids, _ = model.recommend("new", n=3, output="numpy")
    assert all(16 <= int(i[1:]) < 20 for i in ids)


def test_partial_fit_new_item(block_interactions):
    model = BPR(8, max_iter=60, learning_rate=0.1, random_state=0, n_jobs=1).fit(block_interactions)
    new = pd.DataFrame({"user": [f"u{u}" for u in range(20, 35)], "item": ["fresh"] * 15})
    model.partial_fit(new)
    assert model.n_items_ == 21 and np.isfinite(model.item_factors_).all()
    s = model.predict(np.array([["u36", "fresh"], ["u3", "fresh"]], dtype=object))
    assert s[0] > s[1]


def test_save_load_round_trip(block_interactions):
    model = BPR(4, max_iter=3, random_state=0).fit(block_interactions)
    loaded = persistence.loads(persistence.dumps(model))
    assert isinstance(loaded, BPR) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.item_factors_, model.item_factors_)
    np.testing.assert_array_equal(model.recommend(["u1"], n=3, output="numpy")[0],
                                  loaded.recommend(["u1"], n=3, output="numpy")[0])


def test_params_and_clone():
    m = BPR(8, learning_rate=0.2, verify_negative_samples=False)
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert not any(k.endswith("_") for k in vars(c))


def test_similar_items_use_factors_without_bias(block_interactions):
    m = BPR(8, max_iter=60, learning_rate=0.1, random_state=0, n_jobs=1).fit(block_interactions)
    assert m._item_embeddings().shape == (20, 8)
    ids, _ = m.similar_items("i3", n=5, output="numpy")
    assert sum(int(i[1:]) < 10 for i in ids) >= 4


@pytest.mark.parametrize("params, match", [
    ({"learning_rate": 0.0}, "'learning_rate' parameter of BPR"),
    ({"verify_negative_samples": "yes"}, "'verify_negative_samples' parameter of BPR"),
    ({"max_iter": -1}, "'max_iter' parameter of BPR"),
])
def test_invalid_params(block_interactions, params, match):
    with pytest.raises(ValueError, match=match):
        BPR(**params).fit(block_interactions)


def test_divergence_raises(block_interactions):
    from maaskit.exceptions import ModelFitError

    with pytest.raises(ModelFitError, match="learning_rate"):
        BPR(4, learning_rate=1e30, max_iter=5, random_state=0).fit(block_interactions)
