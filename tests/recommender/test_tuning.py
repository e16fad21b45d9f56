"""Recommender(tune=...): model selection on validation carved from the training data only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from maaskit import Recommender
from maaskit.datasets import make_interactions
from maaskit.recommender import MatrixFactorization, SVDpp, _tuning


@pytest.fixture(scope="module")
def ratings():
    return make_interactions(300, 200, 6000, kind="explicit", random_state=0)[["user", "item", "rating"]]


def test_carved_validation_is_inside_training_and_complete(ratings):
    train, val = _tuning._carve(ratings, True, np.random.RandomState(0))
    assert len(train) + len(val) == len(ratings) and len(val) > 0
    # Disjoint and together the input: nothing outside fit's data, nothing lost.
    assert set(train.index).isdisjoint(val.index)
    assert set(train.index) | set(val.index) == set(ratings.index)
    # Every validation row is scored by the model, not by the cold-start fallback.
    assert val["user"].isin(train["user"]).all() and val["item"].isin(train["item"]).all()


def test_explicit_search_records_candidates_and_refits_on_all(ratings):
    model = Recommender(random_state=0, tune=4).fit(ratings)
    res = model.cv_results_
    assert res["metric"] == "rmse"
    assert res["n_train"] + res["n_validation"] == len(ratings)
    # Successive halving: 4 candidates on a third of the epochs, the best 2 on all of them.
    assert res["rung"] == [0, 0, 0, 0, 1, 1]
    # Rung 0 gives every candidate the same epochs: a third of the shortest schedule.
    shortest = min(SVDpp().max_iter, MatrixFactorization().max_iter)
    assert set(res["max_iter"][:4]) == {max(2, shortest // 3)}
    assert len(set(map(len, (res["algorithm"], res["params"], res["validation_loss"],
                             res["fit_time"], res["max_iter"])))) == 1
    best = model.best_params_
    assert best["algorithm"] == model.algorithm_ in ("mf", "svdpp")
    final = [loss for loss, r in zip(res["validation_loss"], res["rung"]) if r == 1]
    winner = int(np.argmin(final)) + res["rung"].index(1)
    assert (res["algorithm"][winner], res["params"][winner]) == (
        best["algorithm"], {k: v for k, v in best.items() if k != "algorithm"})
    assert np.isfinite(final).all()
    # The refit saw every rating: all users and items are known to the final model.
    assert model.n_users_ == ratings["user"].nunique()
    assert model.n_items_ == ratings["item"].nunique()


def test_one_survivor_skips_the_full_length_validation_fit(ratings):
    model = Recommender(random_state=0, tune=3).fit(ratings)
    res = model.cv_results_
    assert res["rung"] == [0, 0, 0]
    best = int(np.argmin(res["validation_loss"]))
    assert res["algorithm"][best] == model.algorithm_


def test_search_is_reproducible(ratings):
    a = Recommender(random_state=3, tune=2).fit(ratings)
    b = Recommender(random_state=3, tune=2).fit(ratings)
    assert a.best_params_ == b.best_params_
    assert a.cv_results_["validation_loss"] == b.cv_results_["validation_loss"]
    pairs = ratings[["user", "item"]].head(50)
    np.testing.assert_array_equal(a.predict(pairs), b.predict(pairs))


def test_fixed_algorithm_searches_its_own_candidates(ratings):
    model = Recommender("mf", random_state=0, tune=6).fit(ratings)
    assert set(model.cv_results_["algorithm"]) == {"mf"}
    assert model.algorithm_ == "mf"


def test_user_settings_win_over_candidates(ratings):
    model = Recommender(random_state=0, tune=2, n_factors=5, max_iter=4).fit(ratings)
    assert model.estimator_.n_factors == 5 and model.estimator_.max_iter == 4
    assert set(model.cv_results_["max_iter"]) <= {2, 4}


def test_implicit_search_uses_ranking_loss():
    plays = make_interactions(200, 120, 3000, kind="implicit", random_state=1)[["user", "item"]]
    model = Recommender(random_state=0, tune=2).fit(plays)
    assert model.cv_results_["metric"] == "1 - ndcg@10"
    assert model.algorithm_ in ("als", "bpr")
    assert all(0 <= v <= 1 for v in model.cv_results_["validation_loss"])


def test_auto_searches_only_untouched_explicit_data_of_some_size(ratings):
    big = pd.DataFrame({"user": np.arange(30_000) % 500, "item": np.arange(30_000) % 300,
                        "rating": 1.0 + np.arange(30_000) % 5})
    assert Recommender()._tune_budget(ratings, None) == 0  # 6,000 ratings: defaults
    assert Recommender()._tune_budget(big, None) == _tuning.AUTO_SMALL_BUDGET
    huge = pd.DataFrame({"user": np.arange(200_000) % 500, "item": np.arange(200_000) % 300,
                         "rating": 1.0})
    assert Recommender()._tune_budget(huge, None) == _tuning.AUTO_BUDGET
    assert Recommender(n_factors=8)._tune_budget(big, None) == 0
    assert Recommender("mf")._tune_budget(big, None) == 0
    assert Recommender(tune=False)._tune_budget(big, None) == 0
    assert Recommender()._tune_budget(big[["user", "item"]], None) == 0  # implicit
    assert Recommender(tune=True)._tune_budget(ratings, None) == 4


def test_no_search_keeps_defaults_and_says_so(ratings):
    model = Recommender(random_state=0, tune=False).fit(ratings)
    assert model.cv_results_ is None and model.best_params_ == {"algorithm": "mf"}


@pytest.mark.parametrize("tune", [0, -1, "fast", 1.5])
def test_bad_tune_is_rejected(ratings, tune):
    with pytest.raises(ValueError, match="tune"):
        Recommender(tune=tune).fit(ratings)


def test_nothing_to_hold_out_means_no_search():
    # Every user and item seen once: no validation row can be scored by a trained model.
    tiny = pd.DataFrame({"user": ["a", "b", "c"], "item": ["x", "y", "z"], "rating": [1.0, 3.0, 5.0]})
    model = Recommender(random_state=0, tune=3).fit(tiny)
    assert model.cv_results_["n_validation"] == 0 and model.cv_results_["rung"] == []
    assert model.algorithm_ == "svdpp"


def test_tune_is_a_hyper_parameter(ratings):
    est = Recommender(tune=2)
    assert est.get_params()["tune"] == 2
    assert clone(est).tune == 2


def test_refit_continues_the_winning_validation_model(ratings):
    # Warm start: the winner's rung-0 fit (a third of the epochs on the training part)
    # continues on all the ratings for the epochs it has left, numbered as a cold fit would be.
    model = Recommender("mf", random_state=0, tune=2).fit(ratings)
    est = model.estimator_
    assert len(est.history_["loss"]) == est.max_iter
    assert est.random_state == 0  # the user's seed, not the search's
    cold = MatrixFactorization(random_state=0).fit(ratings)
    np.testing.assert_array_equal(est.user_index_.ids, cold.user_index_.ids)
    np.testing.assert_array_equal(est.item_popularity_, cold.item_popularity_)
    assert est.rating_range_ == cold.rating_range_
    # Close to a cold fit of the same configuration, not a different model.
    pairs = ratings[["user", "item"]]
    refit = MatrixFactorization(random_state=0, **{k: v for k, v in model.best_params_.items()
                                                   if k != "algorithm"}).fit(ratings)
    gap = np.sqrt(np.mean((est.predict(pairs) - refit.predict(pairs)) ** 2))
    assert gap < 0.3


@pytest.mark.parametrize("cls", [MatrixFactorization, SVDpp])
def test_resume_refuses_ids_it_has_not_seen(ratings, cls):
    part = ratings[ratings["user"] != ratings["user"].iloc[0]]
    model = cls(max_iter=2, random_state=0).fit(part)
    before = model.predict(part[["user", "item"]].head(20))
    rng, where = model._validate("fit")
    assert not model._resume(model._prepare(ratings, None, where), 2, rng, where)
    np.testing.assert_array_equal(model.predict(part[["user", "item"]].head(20)), before)


@pytest.mark.parametrize("cls", [MatrixFactorization, SVDpp])
def test_resume_with_no_epoch_left_only_renumbers(ratings, cls):
    model = cls(max_iter=3, random_state=0).fit(ratings)
    pairs = ratings[["user", "item"]].sample(200, random_state=0)
    before = model.predict(pairs)
    shuffled = ratings.sample(frac=1.0, random_state=1)  # ids first seen in another order
    rng, where = model._validate("fit")
    assert model._resume(model._prepare(shuffled, None, where), 3, rng, where)
    np.testing.assert_allclose(model.predict(pairs), before, rtol=1e-5, atol=1e-5)


def test_side_by_side_rung_gives_the_sequential_result(ratings):
    # set_config(n_threads=2) fits rung 0's candidates on two threads; each has its own seed,
    # so the search and the model are the same as one after the other.
    from maaskit import config_context

    seq = Recommender(random_state=0, tune=3).fit(ratings)
    with config_context(n_threads=2):
        par = Recommender(random_state=0, tune=3).fit(ratings)
    assert par.cv_results_["validation_loss"] == seq.cv_results_["validation_loss"]
    pairs = ratings[["user", "item"]].head(50)
    np.testing.assert_array_equal(par.predict(pairs), seq.predict(pairs))
