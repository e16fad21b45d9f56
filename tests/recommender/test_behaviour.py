"""Issue 16: one behaviour for ids, columns, scores and shapes, whatever the algorithm."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from maaskit import Recommender
from maaskit.exceptions import ColdStartWarning, UnknownIdError
from maaskit.recommender import ALS, MatrixFactorization


@pytest.fixture
def int_ratings() -> pd.DataFrame:
    rng = np.random.RandomState(0)
    users = rng.randint(1, 31, size=400)
    items = rng.randint(100, 140, size=400)
    return pd.DataFrame({"user": users, "item": items,
                         "rating": rng.randint(1, 6, size=400).astype(float)}).drop_duplicates(["user", "item"])


# ---------------------------------------------------------------- 2: one id rule
def test_str_id_on_int_model_is_unknown_and_the_warning_says_why(int_ratings):
    model = MatrixFactorization(max_iter=2, random_state=0).fit(int_ratings)
    with pytest.warns(ColdStartWarning, match=r"'1' is a str; the model's user ids are int\."):
        model.recommend("1", n=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.recommend(1, n=3)  # the int id is known: no warning
    with pytest.warns(ColdStartWarning) as record:
        model.recommend(99999, n=3)
    assert "is a str" not in str(record[0].message)  # no hint when no type would match
    with pytest.warns(ColdStartWarning):
        frame = model.recommend(pd.Series(["1"]), n=3, output="pandas")
    assert frame["fallback"].all()


def test_int_id_on_str_model_says_why(block_interactions):
    model = ALS(n_factors=4, max_iter=2, random_state=0).fit(
        block_interactions.assign(user=block_interactions.user.str[1:]))
    with pytest.warns(ColdStartWarning, match=r"^ALS.recommend: .*3 is an int; the model's user ids are str\."):
        model.recommend([3], n=2)
    with pytest.raises(UnknownIdError) as info:
        model.similar_items("i99", n=2)
    assert "is a" not in str(info.value)  # no other type would match: the plain message
    items_int = block_interactions.assign(item=block_interactions.item.str[1:].astype(int))
    model = ALS(n_factors=4, max_iter=2, random_state=0).fit(items_int)
    with pytest.raises(UnknownIdError, match=r"'3' is a str; the model's item ids are int\."):
        model.similar_items("3", n=2)
    with pytest.warns(ColdStartWarning, match=r"'3' is a str; the model's item ids are int\."):
        model.predict(pd.DataFrame({"user": ["u1"], "item": ["3"]}))


def test_a_bool_is_not_an_int_id(int_ratings):
    model = MatrixFactorization(max_iter=1, random_state=0).fit(int_ratings)
    assert model.user_index_.lookup([True, 1]).tolist()[0] == -1
    assert model.user_index_.lookup([True, 1]).tolist()[1] >= 0


# ---------------------------------------------------------------- 12: n is capped
def test_n_is_capped_to_the_recommendable_items(int_ratings):
    model = MatrixFactorization(max_iter=2, random_state=0).fit(int_ratings)
    n_items = model.n_items_
    seen = int((int_ratings.user == 1).sum())
    ids, scores = model.recommend(1, n=5000)
    assert ids.shape == scores.shape == (n_items - seen,)  # one user: only real items
    assert np.isfinite(scores).all() and None not in list(ids)
    assert not set(ids) & set(int_ratings.item[int_ratings.user == 1])
    ids, scores = model.recommend(1, n=n_items, exclude_seen=False)
    assert ids.shape == (n_items,) and np.isfinite(scores).all()
    # A batch is a padded rectangle: short rows end in (None, NaN), never -inf.
    counts = int_ratings.groupby("user").size()
    few, many = counts.idxmin(), counts.idxmax()
    ids, scores = model.recommend([few, many], n=5000)
    assert ids.shape == scores.shape == (2, n_items - counts.min())
    assert not np.isneginf(scores).any()
    short = n_items - counts.max()
    assert np.isnan(scores[1, short:]).all() and all(i is None for i in ids[1, short:])
    assert np.isfinite(scores[1, :short]).all() and np.isfinite(scores[0]).all()
    frame = model.recommend(pd.Series([few, many]), n=5000)
    assert len(frame) == (n_items - counts.min()) + short  # ragged: real rows only
    assert frame["score"].notna().all()


# ---------------------------------------------------------------- 11: one meaning per column
def test_fallback_rows_do_not_put_counts_in_the_score_column(int_ratings):
    model = MatrixFactorization(max_iter=2, random_state=0).fit(int_ratings)
    with pytest.warns(ColdStartWarning):
        frame = model.recommend(pd.Series([1, 12345]), n=5)
    known, cold = frame[~frame.fallback], frame[frame.fallback]
    assert known["score"].between(0, 10).all() and known["popularity"].isna().all()
    assert cold["score"].isna().all()
    counts = int_ratings.item.value_counts()
    assert cold["popularity"].tolist() == counts.loc[cold["item"]].astype(float).tolist()
    assert cold["popularity"].is_monotonic_decreasing
    with pytest.warns(ColdStartWarning):
        ids, scores = model.recommend(12345, n=5)
    assert np.isnan(scores).all() and list(ids) == cold["item"].tolist()


def test_partial_fit_user_scores_are_not_clipped_into_ties(int_ratings):
    model = MatrixFactorization(max_iter=5, random_state=0).fit(int_ratings)
    # A newcomer who gives 5 to everything is predicted above 5 for many items.
    items = int_ratings.item.unique()[:15]
    model.partial_fit(pd.DataFrame({"user": 999, "item": items, "rating": 5.0}))
    _, scores = model.recommend(999, n=20)
    assert len(np.unique(scores)) == len(scores)
    pred = model.predict(pd.DataFrame({"user": 999, "item": items[:3]}))
    assert pred.max() <= 5.0  # predict still answers in the rating range


# ---------------------------------------------------------------- 9: column names
def test_a_score_column_names_the_front_door_and_the_fix(int_ratings):
    frame = int_ratings.rename(columns={"rating": "score"})
    with pytest.raises(ValueError, match=r"^Recommender \(auto\)\.fit: unknown column\(s\) \['score'\]") as info:
        Recommender(random_state=0).fit(frame)
    assert "df.rename(columns={'score': 'rating'})" in str(info.value)
    assert "Recommender(columns={'rating': 'score'})" in str(info.value)
    # Used directly, an algorithm says its own name and still suggests the rename.
    with pytest.raises(ValueError, match=r"^ALS\.fit: .*df\.rename\(columns=\{'stars': 'rating'\}\)"):
        ALS().fit(int_ratings.rename(columns={"rating": "stars"}))


def test_columns_mapping_is_accepted_everywhere(int_ratings):
    mine = int_ratings.rename(columns={"user": "customer", "item": "film", "rating": "stars"})
    model = Recommender(max_iter=2, random_state=0,
                        columns={"user": "customer", "item": "film", "rating": "stars"}).fit(mine)
    assert model.algorithm_ == "mf"  # the renamed column still means explicit ratings
    ref = Recommender(max_iter=2, random_state=0).fit(int_ratings)
    np.testing.assert_allclose(model.predict(mine.head(5)), ref.predict(int_ratings.head(5)))
    assert np.isfinite(model.score(mine))
    model.partial_fit(mine.head(3))
    with pytest.raises(ValueError, match=r"columns maps to \['nope'\]"):
        Recommender(columns={"rating": "nope"}).fit(mine)


def test_headerless_frame_gets_the_same_help(int_ratings):
    bare = pd.DataFrame(int_ratings.assign(ts=0).to_numpy())
    with pytest.raises(ValueError, match=r"^Recommender \(auto\)\.fit: .*no column names \(columns \[0, 1, 2, 3\]\)") as info:
        Recommender().fit(bare)
    assert "df.columns = ['user', 'item', 'rating', 'timestamp']" in str(info.value)
    fixed = {"user": 0, "item": 1, "rating": 2, "timestamp": 3}
    assert f"Recommender(columns={fixed!r})" in str(info.value)
    model = Recommender(max_iter=1, random_state=0, columns=fixed).fit(bare)
    assert model.algorithm_ == "mf"


# ---------------------------------------------------------------- 6: model selection by name
def test_set_params_by_algorithm_name_keeps_the_sklearn_contract():
    from sklearn.base import clone

    model = Recommender("als").set_params(regularization=0.5, n_factors=8)
    assert model.params == {"regularization": 0.5} and model.n_factors == 8
    assert model.get_params()["regularization"] == 0.5
    assert "regularization" not in model.get_params(deep=False)
    again = clone(model)
    assert again.params == {"regularization": 0.5} and again.params is not model.params
    with pytest.raises(ValueError, match=r"Invalid parameter 'regularisation' for estimator Recommender\('als'\)"):
        Recommender("als").set_params(regularisation=0.5)
    with pytest.raises(ValueError, match="Invalid parameter 'reg_all'"):
        Recommender().set_params(reg_all=0.5)  # auto: a parameter of no algorithm


def test_grid_search_by_name_with_a_ranking_scorer(block_interactions):
    from sklearn.model_selection import GridSearchCV, KFold

    from maaskit.metrics import get_scorer

    plays = block_interactions[["user", "item"]]
    search = GridSearchCV(Recommender("als", n_factors=4, max_iter=3, random_state=0),
                          {"regularization": [0.01, 10.0]},
                          scoring=get_scorer(["ndcg@5", "precision@3"]), refit="ndcg@5",
                          cv=KFold(3, shuffle=True, random_state=0))
    search.fit(plays)
    ndcg = search.cv_results_["mean_test_ndcg@5"]
    assert np.all((ndcg >= 0) & (ndcg <= 1)) and ndcg.max() > 0.2
    assert search.best_estimator_.estimator_.regularization in (0.01, 10.0)


def test_rating_scorers_are_negated_errors(int_ratings):
    from sklearn.model_selection import cross_val_score

    from maaskit.metrics import get_scorer, rmse

    model = Recommender(max_iter=3, random_state=0).fit(int_ratings)
    assert get_scorer("rmse")(model, int_ratings) == pytest.approx(
        -rmse(int_ratings.rating, model.predict(int_ratings)))
    assert get_scorer("rmse")(model, int_ratings) == pytest.approx(model.score(int_ratings))
    scores = cross_val_score(Recommender(max_iter=3, random_state=0), int_ratings,
                             scoring=get_scorer("neg_mae"), cv=3)
    assert np.all(scores < 0) and np.all(scores > -3)
    with pytest.raises(ValueError, match=r"name must be one of .*got 'ndcg@0'"):
        get_scorer("ndcg@0")


# ---------------------------------------------------------------- 10: any rating scale
@pytest.fixture(scope="module")
def movielens(shared_data_home):
    from maaskit.datasets import load_movielens, make_interactions

    home = shared_data_home
    if home is not None and (home / "ml-100k" / "u.data").exists():
        df = load_movielens("100k", data_home=home)
    else:
        df = make_interactions(943, 1682, 100_000, random_state=0)
    return df[["user", "item", "rating"]]


@pytest.mark.parametrize("cls, kw", [(MatrixFactorization, {}), ("SVDpp", {"max_iter": 4})],
                         ids=["MatrixFactorization", "SVDpp"])
def test_training_is_invariant_to_the_rating_scale(cls, kw, movielens):
    from maaskit.metrics import rmse
    from maaskit.model_selection import filter_test_to_train, random_split
    from maaskit.recommender import SVDpp

    cls = SVDpp if cls == "SVDpp" else cls
    train, test = random_split(movielens, test_size=0.2, random_state=0)
    test = filter_test_to_train(train, test)
    errs = []
    for factor in (1, 20):  # 1-5 stars, then 20-100 points
        model = cls(random_state=0, n_jobs=1, **kw).fit(train.assign(rating=train.rating * factor))
        assert model.rating_unit_ == factor
        errs.append(rmse(test.rating.to_numpy() * factor, model.predict(test)) / factor)
    assert errs[0] < 1.0
    assert errs[1] == pytest.approx(errs[0], rel=1e-3)
    # partial_fit trains in the same units: a newcomer on the 0-100 scale stays finite.
    model.partial_fit(pd.DataFrame({"user": -1, "item": test.item.iloc[:5], "rating": 100.0}))
    assert np.isfinite(model.recommend(-1, n=5)[1]).all()


def test_als_on_a_100_point_scale_stays_finite(movielens):
    scaled = movielens.head(20_000).assign(rating=movielens.rating.head(20_000) * 20)
    model = ALS(n_factors=8, max_iter=3, random_state=0).fit(scaled)
    assert np.isfinite(model.user_factors_).all() and np.isfinite(model.item_factors_).all()


def test_the_id_hint_works_on_plain_collections_too():
    # The server keeps its ids in dicts: the same sentence from the same helper.
    from maaskit.utils._ids import id_type_hint

    assert id_type_hint({1: 0, 2: 1}, ["1"], "user") == "'1' is a str; the model's user ids are int."
    assert id_type_hint({"7", "8"}, [7], "item") == "7 is an int; the model's item ids are str."
    assert id_type_hint({1, 2}, ["3"], "user") == ""


def test_score_when_users_have_fewer_unseen_items_than_k():
    # recommend caps n, so score's top-10 may be narrower than 10 (4 items, 3 seen).
    plays = pd.DataFrame({"user": ["a"] * 3 + ["b"] * 3 + ["c"],
                          "item": ["w", "x", "y", "x", "y", "z", "w"]})
    model = ALS(n_factors=2, max_iter=2, random_state=0).fit(plays)
    assert 0.0 <= model.score(pd.DataFrame({"user": ["a", "c"], "item": ["z", "x"]})) <= 1.0
