"""HybridMF: cold items and users placed by their features, add_items/add_users, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from maaskit.persistence import dumps, loads
from maaskit.recommender import HybridMF

N_USERS, N_ITEMS = 40, 30


@pytest.fixture(scope="module")
def world():
    """Two tastes: users with feature 0 play items of genre 0, users with feature 1 genre 1.

    Items 24..29 and users 36..39 have features but no plays (the cold ones).
    """
    rng = np.random.RandomState(0)
    item_genre = np.arange(N_ITEMS) % 2
    user_taste = np.arange(N_USERS) % 2
    rows = []
    for u in range(36):
        liked = [i for i in range(24) if item_genre[i] == user_taste[u]]
        for i in rng.choice(liked, 6, replace=False):
            rows.append((f"u{u}", f"i{i}"))
    plays = pd.DataFrame(rows, columns=["user", "item"])
    # genre one-hot plus a noise feature
    IF = np.zeros((N_ITEMS, 3), np.float32)
    IF[np.arange(N_ITEMS), item_genre] = 1
    IF[:, 2] = rng.rand(N_ITEMS) < 0.5
    UF = np.zeros((N_USERS, 2), np.float32)
    UF[np.arange(N_USERS), user_taste] = 1
    items = (sp.csr_matrix(IF), [f"i{i}" for i in range(N_ITEMS)])
    users = (UF, [f"u{u}" for u in range(N_USERS)])
    return plays, items, users, item_genre, user_taste


def _fit(world, **kw):
    plays, items, users, _, _ = world
    params = dict(n_factors=8, max_iter=20, random_state=0, n_jobs=1)
    params.update(kw)
    return HybridMF(**params).fit(plays, item_features=items, user_features=users)


@pytest.mark.parametrize("loss", ["warp", "bpr"])
def test_cold_items_and_users_are_placed_by_features(world, loss):
    _, _, _, genre, taste = world
    m = _fit(world, loss=loss)
    assert m.n_items_ == N_ITEMS and m.n_users_ == N_USERS
    cold_items = [f"i{i}" for i in range(24, 30)]
    warm_users = [f"u{u}" for u in range(36)]
    top, _ = m.recommend(warm_users, n=3, items=cold_items)
    hits = [genre[int(i[1:])] == taste[int(u[1:])] for u, row in zip(warm_users, top) for i in row]
    assert np.mean(hits) > 0.9
    # users with features only, already in the model
    top, _ = m.recommend([f"u{u}" for u in range(36, 40)], n=5)
    hits = [genre[int(i[1:])] == taste[u] for u, row in zip(range(36, 40), top) for i in row]
    assert np.mean(hits) > 0.9


def test_add_items_add_users_and_new_user_recommendations(world):
    m = _fit(world)
    m.add_items((sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], np.float32)), ["new0", "new1"]))
    m.add_users((np.array([[0, 1]], np.float32), ["fresh"]))
    assert m.n_items_ == N_ITEMS + 2 and m.n_users_ == N_USERS + 1
    top, _ = m.recommend(["u0", "u1", "fresh"], n=2, items=["new0", "new1"])
    assert list(top[:, 0]) == ["new0", "new1", "new1"]
    ids, scores = m.similar_items("new0", n=5)
    assert all(int(i[1:]) % 2 == 0 for i in ids if i.startswith("i"))
    frame = pd.DataFrame({"taste": [0, 1]}, index=["a", "b"])
    got = m.recommend_new_user((np.eye(2, dtype=np.float32), frame.index), n=4, output="pandas")
    assert set(got.user) == {"a", "b"} and got.groupby("user").size().tolist() == [4, 4]
    assert all(int(i[1:]) % 2 == (u == "b") for u, i in zip(got.user, got.item) if i.startswith("i"))
    back = loads(dumps(m))
    a, b = m.recommend(["u0", "fresh"], n=5), back.recommend(["u0", "fresh"], n=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)
    np.testing.assert_array_equal(m.similar_items("new1", n=3)[0], back.similar_items("new1", n=3)[0])


def test_threads_and_backends_agree_on_quality(world):
    # n_jobs=1 is reproducible; every backend learns the same structure
    a = _fit(world, backend="numba")
    b = _fit(world, backend="cython")
    np.testing.assert_allclose(a.item_embeddings_, b.item_embeddings_, rtol=1e-3, atol=1e-5)
    c = _fit(world, n_jobs=2)
    assert np.isfinite(c.item_embeddings_).all()


def test_squared_loss_and_mean_normalisation(world):
    plays, items, users, genre, taste = world
    rated = plays.assign(rating=[5.0 if genre[int(i[1:])] == taste[int(u[1:])] else 1.0
                                 for u, i in zip(plays.user, plays.item)])
    # add some dislikes so the ratings vary
    bad = pd.DataFrame({"user": [f"u{u}" for u in range(36)],
                        "item": [f"i{(u + 1) % 2}" for u in range(36)], "rating": 1.0})
    rated = pd.concat([rated, bad], ignore_index=True)
    m = HybridMF(n_factors=4, loss="squared", max_iter=30, normalize="mean", random_state=0,
                 learning_rate=0.1).fit(rated, item_features=items, user_features=users)
    pred = m.predict(rated[["user", "item"]])
    assert np.corrcoef(pred, rated.rating)[0, 1] > 0.8
    assert m.rating_range_ == [1.0, 5.0]
    np.testing.assert_allclose(m._csr_of("item").sum(axis=1), 1.0, rtol=1e-5)


def test_interactions_without_features_get_identity_only(world):
    plays = world[0]
    m = HybridMF(n_factors=4, max_iter=2, random_state=0, played_feature=False).fit(plays)
    assert m.n_item_features_in_ == 0 and m.item_embeddings_.shape == (24, 4)
    assert (m._csr_of("item").getnnz(axis=1) == 1).all() and m.item_played_col_ == -1
    # the default adds the shared 'has plays' column 0 before the identities
    m = HybridMF(n_factors=4, max_iter=2, random_state=0).fit(plays)
    assert m.item_played_col_ == 0 and m.item_embeddings_.shape == (25, 4)
    F = m._csr_of("item")
    assert (F.getnnz(axis=1) == 2).all() and (F[:, 0].toarray() > 0).all()


@pytest.mark.parametrize("features, error, match", [
    ([[1, 0]], TypeError, "must be a pandas DataFrame indexed by item id or a tuple"),
    ((np.ones((2, 2)), ["a"]), ValueError, "2 rows but 1 ids"),
    ((np.ones((2, 2)), ["a", "a"]), ValueError, "ids must be unique"),
    ((np.array([[1.0, np.nan]]), ["a"]), ValueError, "NaN or inf"),
    ((np.array([[1.0, np.inf]]), ["a"]), ValueError, "NaN or inf"),
    ((np.ones((2, 0)), ["a", "b"]), ValueError, r"0 feature\(s\)"),
    ((np.ones(3), ["a", "b", "c"]), ValueError, "must be 2-D"),
    ((np.array([["x"]]), ["a"]), TypeError, "must hold numbers"),
    ((np.ones((1, 1)), [[1, 2]]), TypeError, "1-D sequence of hashable"),
    ((np.ones((2, 1)), [[1], [2, 3]]), TypeError, "hashable"),
])
def test_bad_features_raise_clear_errors(world, features, error, match):
    with pytest.raises(error, match=match):
        HybridMF(max_iter=1).fit(world[0], item_features=features)


def test_add_items_checks_its_input(world):
    m = _fit(world, max_iter=1)
    with pytest.raises(ValueError, match="has 2 features, but HybridMF is expecting 3"):
        m.add_items((np.ones((1, 2)), ["z"]))
    with pytest.raises(ValueError, match=r"must be new; already known: \['i0'\]"):
        m.add_items((np.ones((1, 3)), ["i0"]))
    with pytest.raises(ValueError, match="has 1 features, but HybridMF is expecting 2"):
        m.recommend_new_user((np.ones((1, 1)), ["z"]))
    plays = pd.DataFrame({"user": [0, 1], "item": [1, 2]})
    with pytest.raises(ValueError, match="none of the 2 item_features ids is an? item"):
        HybridMF(max_iter=1).fit(plays, item_features=(np.ones((2, 1)), ["1", "2"]))


def test_dataframe_features_go_through_the_encoder_and_are_saved(world):
    plays, _, _, genre, taste = world
    items = pd.DataFrame({"genre": np.where(genre == 0, "drama", "comedy"),
                          "tags": [["x"] if i % 3 else ["x", "y"] for i in range(N_ITEMS)]},
                         index=[f"i{i}" for i in range(N_ITEMS)])
    users = pd.DataFrame({"taste": np.where(np.arange(N_USERS) % 2 == 0, "a", "b")},
                         index=[f"u{u}" for u in range(N_USERS)])
    m = HybridMF(n_factors=8, max_iter=20, random_state=0, n_jobs=1).fit(
        plays, item_features=items, user_features=users)
    assert list(m.item_encoder_.get_feature_names_out()) == ["genre=comedy", "genre=drama", "tags=x", "tags=y"]
    m.add_items(pd.DataFrame({"genre": ["drama"], "tags": [["y"]]}, index=["new"]))
    back = loads(dumps(m))
    got = back.recommend_new_user(pd.DataFrame({"taste": ["a", "b"]}, index=["p", "q"]), n=3,
                                  items=[f"i{i}" for i in range(24, 30)] + ["new"])
    assert isinstance(got, pd.DataFrame)
    assert all(int(i[1:]) % 2 == (u == "q") for u, i in zip(got.user, got.item) if i.startswith("i"))
    with pytest.raises(TypeError, match="must be a DataFrame"):
        back.add_items((np.ones((1, 4)), ["z"]))
    with pytest.raises(Exception, match="nope"):
        back.add_items(pd.DataFrame({"nope": [1]}, index=["z"]))


def test_recommender_chooses_the_hybrid_model_when_features_are_given(world):
    from maaskit.recommender import Recommender

    plays, items, users, _, _ = world
    rec = Recommender(max_iter=2, random_state=0).fit(plays, item_features=items)
    assert rec.algorithm_ == "hybrid" and rec.estimator_.loss == "warp"
    rec.add_items((np.ones((1, 3)), ["fresh"]))
    assert "fresh" in set(rec.item_index_.ids)
    back = loads(dumps(rec))
    np.testing.assert_array_equal(back.recommend(["u0"], n=3)[0], rec.recommend(["u0"], n=3)[0])
    rated = plays.assign(rating=3.0)
    assert Recommender(max_iter=2).fit(rated, user_features=users).estimator_.loss == "squared"
    with pytest.raises(ValueError, match="need algorithm='hybrid' or 'auto'"):
        Recommender("als").fit(plays, item_features=items)
    with pytest.raises(AttributeError, match="needs the hybrid model"):
        Recommender("bpr", max_iter=1).fit(plays).recommend_new_user((np.ones((1, 2)), ["x"]))


def test_catalogue_negatives_rank_items_without_plays_lower(world):
    def gap(model):
        # mean score of warm items minus that of the cold ones, over the warm users
        S = model._user_vectors(np.arange(36)) @ model._item_vectors().T
        cold = model.item_index_.get_codes([f"i{i}" for i in range(24, 30)])
        return S[:, np.setdiff1d(np.arange(N_ITEMS), cold)].mean() - S[:, cold].mean()

    # the negatives alone: without the shared played feature, summed rows
    gaps = [gap(_fit(world, negatives=n, played_feature=False, normalize="sum"))
            for n in ("interacted", 0.5, "catalogue")]
    assert gaps[2] > gaps[0] + 0.2  # measured 0.31 vs 0.02
    # a share of the unplayed items in the pool lands in between
    assert gaps[0] + 0.05 < gaps[1] < gaps[2] - 0.05


@pytest.mark.parametrize("bad", [-0.1, 1.5, "all", True])
def test_negatives_share_is_checked(world, bad):
    with pytest.raises((ValueError, TypeError), match="negatives"):
        _fit(world, negatives=bad, max_iter=1)


def test_partial_fit_gives_new_ids_identity_and_their_features(world):
    m = _fit(world, max_iter=3)
    n_cols = m.item_embeddings_.shape[0]
    m.partial_fit(pd.DataFrame({"user": ["u0", "late"], "item": ["z", "z"]}),
                  item_features=(sp.csr_matrix(np.array([[0, 1, 0]], np.float32)), ["z"]))
    assert m.item_embeddings_.shape[0] == n_cols + 1 and m.n_users_ == N_USERS + 1
    # its given feature, the shared 'has plays' feature and its new identity
    played = m.item_played_col_
    np.testing.assert_array_equal(m._csr_of("item")[m.item_index_.get_codes(["z"])].indices,
                                  [1, played, n_cols])
    # cold items (features only) do not have it
    cold = m._csr_of("item")[m.item_index_.get_codes(["i24"])].indices
    assert played == m.n_item_features_in_ and played not in cold
    assert "z" not in set(m.recommend("late", n=3)[0])


@pytest.mark.parametrize("normalize", ["mean", "sum"])
def test_partial_fit_gives_cold_ids_that_gain_plays_their_identity(world, normalize):
    # a cold item (features only) and an added user gain interactions: each gets an identity
    # feature (the item also 'has plays'), as if it had been in the interactions at fit
    m = _fit(world, max_iter=3, normalize=normalize)
    m.add_users((np.array([[1, 0]], np.float32), ["signup"]))
    n_items_cols, n_user_cols = m.item_embeddings_.shape[0], m.user_embeddings_.shape[0]
    (i24,), (signup,) = m.item_index_.get_codes(["i24"]), m.user_index_.get_codes(["signup"])
    given_item = m._csr_of("item")[i24].toarray().ravel()
    before_other = m._csr_of("item")[m.item_index_.get_codes(["i25"])].toarray()
    m.partial_fit(pd.DataFrame({"user": ["u0", "signup", "u2"], "item": ["i24", "i24", "i0"]}))
    assert m.item_embeddings_.shape[0] == n_items_cols + 1
    assert m.user_embeddings_.shape[0] == n_user_cols + 1
    row = m._csr_of("item")[i24]
    assert set(row.indices) == set(np.flatnonzero(given_item)) | {m.item_played_col_, n_items_cols}
    urow = m._csr_of("user")[signup]
    assert n_user_cols in set(urow.indices) and 0 in set(urow.indices)
    if normalize == "mean":  # given part, 'has plays', identity: one unit of weight each
        np.testing.assert_allclose(row.toarray().ravel()[[m.item_played_col_, n_items_cols]], 1 / 3, rtol=1e-6)
        np.testing.assert_allclose(urow.sum(), 1.0, rtol=1e-6)
    else:
        np.testing.assert_allclose(row.toarray().ravel()[:n_items_cols], given_item + np.eye(1, n_items_cols,
                                   m.item_played_col_).ravel(), rtol=1e-6)
    # the other cold items are untouched, warm ids get no second identity
    np.testing.assert_array_equal(m._csr_of("item")[m.item_index_.get_codes(["i25"])].toarray()[:, :n_items_cols],
                                  before_other)
    assert m._csr_of("item")[m.item_index_.get_codes(["i0"])].nnz == _fit(world, max_iter=1, normalize=normalize) \
        ._csr_of("item")[m.item_index_.get_codes(["i0"])].nnz
    # the identity is trained and saved: the item's vector moved off its features' vector
    assert np.abs(m.item_embeddings_[n_items_cols]).sum() > 0
    back = loads(dumps(m))
    np.testing.assert_array_equal(back.recommend(["signup"], n=5)[0], m.recommend(["signup"], n=5)[0])
    # a second partial_fit does not add another identity
    m.partial_fit(pd.DataFrame({"user": ["u1"], "item": ["i24"]}))
    assert m.item_embeddings_.shape[0] == n_items_cols + 1


def test_encoder_parameters_are_cloned_at_fit_and_saved(world):
    from types import SimpleNamespace

    from maaskit.recommender import FeatureEncoder, Recommender

    plays = world[0]
    items = pd.DataFrame({"title": [f"the {'red' if i % 2 else 'blue'} film number {i}" for i in range(N_ITEMS)],
                          "year": np.arange(N_ITEMS) + 1990.0}, index=[f"i{i}" for i in range(N_ITEMS)])
    enc = FeatureEncoder(columns={"title": "text"}, max_features=3, n_bins=2)
    wv = SimpleNamespace(key_to_index={"red": 0, "blue": 1}, vectors=np.eye(2, dtype=np.float32))
    m = HybridMF(n_factors=4, max_iter=2, random_state=0, item_encoder=enc).fit(
        plays, item_features=items, word_vectors=wv)
    assert m.item_encoder is enc and not hasattr(enc, "n_features_out_")  # stored as given, never fitted
    assert m.item_encoder_ is not enc and m.item_encoder_.kinds_ == {"title": "text", "year": "numeric"}
    # 3 words, 2 word-vector components, 2 bins
    assert m.n_item_features_in_ == 3 + 2 + 2 and m.item_encoder_.word_vector_size_ == 2
    # the dict form is the same encoder
    d = HybridMF(n_factors=4, max_iter=2, random_state=0, n_jobs=1, item_encoder=enc.get_params()).fit(
        plays, item_features=items)
    e = HybridMF(n_factors=4, max_iter=2, random_state=0, n_jobs=1, item_encoder=enc).fit(plays, item_features=items)
    np.testing.assert_array_equal(d.item_embeddings_, e.item_embeddings_)
    back = loads(dumps(m))
    assert isinstance(back.item_encoder, FeatureEncoder) and back.item_encoder.get_params() == enc.get_params()
    assert back.user_encoder is None and back.item_encoder_.word_vector_size_ == 2
    new = pd.DataFrame({"title": ["a red one"], "year": [2030.0]}, index=["new"])
    np.testing.assert_array_equal(back.item_encoder_.transform(new).toarray(), m.item_encoder_.transform(new).toarray())
    # through Recommender, and saved there too
    rec = Recommender(max_iter=1, random_state=0, params={"user_encoder": FeatureEncoder(n_bins=2)}).fit(
        plays, user_features=pd.DataFrame({"age": np.arange(N_USERS) * 1.0}, index=[f"u{u}" for u in range(N_USERS)]))
    assert rec.estimator_.user_encoder_.n_features_out_ == 2
    assert loads(dumps(rec)).estimator_.user_encoder.get_params() == FeatureEncoder(n_bins=2).get_params()


@pytest.mark.parametrize("bad, error, match", [
    ("l1", ValueError, "'item_encoder' parameter of HybridMF must be"),
    ({"nope": 1}, ValueError, r"item_encoder must hold FeatureEncoder parameters .* \['nope'\]"),
    ({"n_bins": 0}, ValueError, "'n_bins' parameter of FeatureEncoder"),
])
def test_bad_encoder_parameters_are_refused(world, bad, error, match):
    items = pd.DataFrame({"g": ["a", "b"]}, index=["i0", "i1"])
    with pytest.raises(error, match=match):
        HybridMF(max_iter=1, item_encoder=bad).fit(world[0], item_features=items)


@pytest.mark.parametrize("normalize", ["mean", "sum"])
def test_user_feature_ridge_keeps_warm_users_and_places_cold_ones_by_regression(world, normalize):
    a = _fit(world, normalize=normalize)
    b = _fit(world, normalize=normalize, user_feature_ridge=0.5)
    warm, cold = np.arange(36), np.arange(36, 40)
    np.testing.assert_allclose(b._user_vectors(warm), a._user_vectors(warm), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(b.item_embeddings_, a.item_embeddings_)
    # the cold users' vectors are the ridge prediction from the warm users' (unit-sum) rows
    F = a._csr_of("user").toarray()
    G = F[warm, :2]
    G = G / G.sum(axis=1, keepdims=True)
    T = F[warm] @ np.hstack([a.user_embeddings_, a.user_biases_[:, None]])
    W = np.linalg.solve(G.T @ G + 0.5 * np.eye(2), G.T @ T)
    got = b._csr_of("user")[cold] @ np.hstack([b.user_embeddings_, b.user_biases_[:, None]])
    np.testing.assert_allclose(got, F[cold, :2] @ W, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, F[cold] @ np.hstack([a.user_embeddings_, a.user_biases_[:, None]]), atol=1e-3)
    _, _, _, genre, taste = world
    top, _ = b.recommend([f"u{u}" for u in cold], n=5)
    assert np.mean([genre[int(i[1:])] == taste[u] for u, row in zip(cold, top) for i in row]) > 0.9
    new = b.recommend_new_user((np.array([[0.0, 1.0]]), ["x"]), n=5)[0]
    assert all(genre[int(i[1:])] == 1 for i in new[0])
    # partial_fit refits again, and the state saves
    b.partial_fit(pd.DataFrame({"user": ["u36"], "item": ["i0"]}))
    back = loads(dumps(b))
    np.testing.assert_array_equal(back.recommend(["u37"], n=5)[0], b.recommend(["u37"], n=5)[0])
