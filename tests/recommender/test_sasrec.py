"""SASRec: input forms, next-item learning, recommend / recommend_history, persistence, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maaskit.exceptions import ColdStartWarning, MaaskitError, NotFittedError, ValidationError
from maaskit.persistence import dumps, loads
from maaskit.recommender import Recommender, SASRec

ITEMS = [f"i{k}" for k in range(8)]
SMALL = dict(n_factors=16, n_blocks=1, max_len=6, dropout=0.0, learning_rate=1e-2,
             early_stopping=False, random_state=0)


def _cycles(n_users=24, length=10, seed=0):
    """Each user walks the cycle i0 -> i1 -> ... -> i7 -> i0 from a random start: the next
    item is a function of the last one, which a sequence model must learn and a popularity
    or co-occurrence model cannot."""
    rng = np.random.RandomState(seed)
    rows = []
    for u in range(n_users):
        start = rng.randint(8)
        for t in range(length):
            rows.append((f"u{u}", ITEMS[(start + t) % 8], 1000 + 10 * t))
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # order is in the timestamps


@pytest.fixture(scope="module")
def cycles():
    return _cycles()


@pytest.fixture(scope="module")
def fitted(cycles):
    return SASRec(max_iter=25, **SMALL).fit(cycles)


def test_learns_the_next_item(fitted, cycles):
    # every user's next item is the successor of their newest one
    newest = cycles.sort_values("timestamp").groupby("user").item.last()
    users = newest.index.to_numpy()
    top, _ = fitted.recommend(users, n=1, exclude_seen=False, output="numpy")
    want = [ITEMS[(ITEMS.index(i) + 1) % 8] for i in newest]
    assert np.mean(top[:, 0] == np.array(want)) >= 0.9
    # an anonymous session, without refitting; the answer follows the history as it grows
    for k in range(8):
        ids, scores = fitted.recommend_history([ITEMS[(k + 7) % 8], ITEMS[k]], n=1, exclude_seen=False)
        assert ids.shape == (1,) and ids[0] == ITEMS[(k + 1) % 8]


def test_input_forms_agree(cycles):
    # a frame with timestamps (rows shuffled) and the same histories as a dict of sequences
    ordered = cycles.sort_values(["user", "timestamp"])
    seqs = {u: list(g.item) for u, g in ordered.groupby("user", sort=False)}
    a = SASRec(max_iter=2, **SMALL).fit(cycles)
    b = SASRec(max_iter=2, **SMALL).fit(seqs)
    assert a.input_was_pandas_ and not b.input_was_pandas_
    ua, ub = list(a.user_index_.ids), list(b.user_index_.ids)
    for u in ("u0", "u5"):
        np.testing.assert_array_equal(a.seq_items_[a.seq_indptr_[ua.index(u)]:a.seq_indptr_[ua.index(u) + 1]].size,
                                      b.seq_items_[b.seq_indptr_[ub.index(u)]:b.seq_indptr_[ub.index(u) + 1]].size)
        ha = a.item_index_.ids[a.seq_items_[a.seq_indptr_[ua.index(u)]:a.seq_indptr_[ua.index(u) + 1]]]
        np.testing.assert_array_equal(ha, seqs[u])
    # equal timestamps keep the row order
    tied = SASRec(max_iter=1, **SMALL).fit(pd.DataFrame({"user": ["a"] * 3, "item": ["x", "y", "z"],
                                                         "timestamp": [5, 5, 5]}))
    np.testing.assert_array_equal(tied.item_index_.ids[tied.seq_items_], ["x", "y", "z"])
    # a list of sequences: users are the positions
    c = SASRec(max_iter=1, **SMALL).fit([["a", "b", "c"], ["b", "c"]])
    assert list(c.user_index_.ids) == [0, 1]


def test_without_order_is_refused(cycles):
    with pytest.raises(ValidationError, match="timestamp") as info:
        SASRec(**SMALL).fit(cycles.drop(columns="timestamp"))
    assert isinstance(info.value, ValueError) and isinstance(info.value, MaaskitError)
    with pytest.raises(ValidationError, match="DataFrame with user, item and timestamp"):
        SASRec(**SMALL).fit(np.array([[0, 1], [1, 2]]))
    with pytest.raises(ValidationError, match="at least one interaction"):
        SASRec(**SMALL).fit({"u": []})
    with pytest.raises(ValidationError, match="numeric or datetime"):
        SASRec(**SMALL).fit(cycles.assign(timestamp="noon"))
    with pytest.raises(ValueError, match="divisible by n_heads"):
        SASRec(n_factors=6, n_heads=4).fit(cycles)
    with pytest.raises(NotFittedError):
        SASRec().recommend_history([["i0"]])
    with pytest.raises(NotImplementedError, match="recommend_history"):
        SASRec(max_iter=1, **SMALL).fit(cycles).partial_fit(cycles)


def test_datetime_timestamps(cycles):
    frame = cycles.assign(timestamp=pd.to_datetime(cycles.timestamp, unit="s"))
    a = SASRec(max_iter=1, **SMALL).fit(frame)
    b = SASRec(max_iter=1, **SMALL).fit(cycles)
    np.testing.assert_array_equal(a.params_, b.params_)


def test_recommend_output_matches_base_contract(fitted):
    frame = fitted.recommend(pd.Series(["u1", "u2"]), n=3, exclude_seen=False)
    assert list(frame.columns) == ["user", "item", "score", "rank", "fallback", "popularity"]
    assert len(frame) == 6 and not frame.fallback.any()
    with pytest.warns(ColdStartWarning, match="1 of 2 user"):
        ids, scores = fitted.recommend(["u1", "stranger"], n=3, exclude_seen=False, output="numpy")
    assert np.isnan(scores[1]).all() and np.isfinite(scores[0]).all()
    # exclude_seen: u1 saw all 8 items, so nothing is left to recommend
    assert len(fitted.recommend("u1", n=5)[0]) == 0
    ids, _ = fitted.recommend("u1", n=3, exclude_seen=False, items=["i2", "i3", "i4", "i5"])
    assert set(ids) <= {"i2", "i3", "i4", "i5"} and len(ids) == 3


def test_recommend_equals_recommend_history_of_the_user(fitted, cycles):
    hist = list(cycles[cycles.user == "u3"].sort_values("timestamp").item)
    a_ids, a_sc = fitted.recommend("u3", n=4, exclude_seen=False)
    b_ids, b_sc = fitted.recommend_history(hist, n=4, exclude_seen=False)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_allclose(a_sc, b_sc, rtol=1e-5, atol=1e-6)


def test_recommend_history_rules(fitted):
    # one flat history -> one row; a list of histories -> one row each, user = position
    ids, scores = fitted.recommend_history([["i0", "i1"], ["i4"]], n=3, exclude_seen=True)
    assert ids.shape == (2, 3)
    assert not {"i0", "i1"} & set(ids[0]) and "i4" not in ids[1]
    frame = fitted.recommend_history([["i0", "i1"], ["i4"]], n=3, output="pandas")
    assert list(frame.user.unique()) == [0, 1]
    # a 2-D array is one history per row; a Series of lists too
    two = fitted.recommend_history(np.array([["i0", "i1"], ["i3", "i4"]]), n=2)[0]
    three = fitted.recommend_history(pd.Series([["i0", "i1"], ["i3", "i4"]]), n=2)[0]
    np.testing.assert_array_equal(two, three)
    # unknown ids are dropped
    a = fitted.recommend_history(["i0", "nope", "i1", 42], n=3, exclude_seen=False)
    b = fitted.recommend_history(["i0", "i1"], n=3, exclude_seen=False)
    np.testing.assert_array_equal(a[0], b[0])
    # longer than max_len: the newest max_len items are used (all count as seen)
    long = [ITEMS[k % 8] for k in range(3 * fitted.max_len + 1)]
    a = fitted.recommend_history(long, n=3, exclude_seen=False)
    b = fitted.recommend_history(long[-fitted.max_len:], n=3, exclude_seen=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)
    # empty or all-unknown: popularity fallback, flagged
    with pytest.warns(ColdStartWarning, match="2 of 3 histories"):
        frame = fitted.recommend_history([[], ["nope"], ["i2"]], n=2, output="pandas")
    assert frame[frame.user < 2].fallback.all() and not frame[frame.user == 2].fallback.any()
    with pytest.raises(ValidationError, match="mix of ids and sequences"):
        fitted.recommend_history([["i0"], "i1"])
    with pytest.raises(ValidationError, match="histories must be"):
        fitted.recommend_history("i0")


def test_similar_items_and_predict(fitted):
    ids, scores = fitted.similar_items("i0", n=3)
    assert ids.shape == (3,) and "i0" not in ids
    pred = fitted.predict(pd.DataFrame({"user": ["u1", "u1"], "item": ["i0", "i1"]}))
    assert pred.shape == (2,) and np.isfinite(pred).all()


def test_persistence_round_trip(fitted):
    again = loads(dumps(fitted))
    a = fitted.recommend_history([["i0", "i1"], ["i5"]], n=3)
    b = again.recommend_history([["i0", "i1"], ["i5"]], n=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(fitted.recommend(["u1", "u2"], n=2, exclude_seen=False)[0],
                                  again.recommend(["u1", "u2"], n=2, exclude_seen=False)[0])


def test_early_stopping_keeps_the_best_epoch(cycles):
    est = SASRec(**{**SMALL, "early_stopping": True}, max_iter=6, n_iter_no_change=2).fit(cycles)
    h = est.history_
    assert len(h["loss"]) == len(h["val_ndcg"]) == est.n_iter_ <= 6
    assert est.best_epoch_ == int(np.nanargmax(h["val_ndcg"])) + 1
    assert all(np.isfinite(h["val_ndcg"]))


@pytest.mark.parametrize("loss", ["softmax", "sampled"])
def test_backends_train_alike(cycles, loss):
    # two epochs on each CPU backend: the same losses and rankings up to float32 rounding.
    # (Not the same weights to 1e-5: a parameter whose gradient is 0 in exact arithmetic,
    # e.g. the key bias under softmax, gets rounding noise of either sign, and Adam turns any
    # nonzero gradient into a step of about learning_rate.)
    runs = [SASRec(max_iter=2, **{**SMALL, "dropout": 0.2}, loss=loss, n_negatives=4,
                   backend=b).fit(cycles) for b in ("numpy", "numba", "cython")]
    for est in runs[1:]:
        np.testing.assert_allclose(est.history_["loss"], runs[0].history_["loss"], rtol=1e-4)
        np.testing.assert_allclose(est.recommend_history(["i1", "i2"], n=3)[1],
                                   runs[0].recommend_history(["i1", "i2"], n=3)[1], rtol=1e-2, atol=1e-3)


def test_recommender_front_door(cycles):
    est = Recommender("sasrec", max_iter=2, params={"n_factors": 8, "max_len": 5}, random_state=0).fit(cycles)
    assert est.algorithm_ == "sasrec" and isinstance(est.estimator_, SASRec)
    assert est.estimator_.max_iter == 2
    assert est.recommend("u1", n=2, exclude_seen=False)[0].shape == (2,)


def test_cuda_without_cuda_is_a_clear_error(cycles, monkeypatch):
    import maaskit._backend as backend

    monkeypatch.setattr(backend, "has_cuda", lambda: False)
    monkeypatch.setattr(backend, "has_torch", lambda: False)  # no torch import for the message
    with pytest.raises(ValueError, match="device='cuda' was requested but torch with CUDA is not available"):
        SASRec(device="cuda", **SMALL).fit(cycles)


_ids = st.one_of(st.sampled_from(ITEMS), st.text(max_size=3), st.integers(-5, 5),
                 st.floats(allow_nan=True), st.none(), st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.one_of(
    st.lists(_ids, max_size=20),
    st.lists(st.lists(_ids, max_size=12), max_size=4),
    st.lists(st.one_of(_ids, st.lists(_ids, max_size=3)), max_size=4),
    st.lists(st.sampled_from(ITEMS), min_size=40, max_size=60),
), n=st.integers(1, 12), exclude_seen=st.booleans())
def test_fuzz_recommend_history(fitted, histories, n, exclude_seen):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            ids, scores = fitted.recommend_history(histories, n=n, exclude_seen=exclude_seen, output="numpy")
    except MaaskitError as exc:
        assert "recommend_history" in str(exc)
        return
    ids2 = np.atleast_2d(ids)
    scores2 = np.atleast_2d(scores)
    assert ids2.shape == scores2.shape and ids2.shape[1] <= min(n, 8)
    real = [i for i in ids2.ravel() if i is not None]
    assert set(real) <= set(ITEMS)
    assert not np.isinf(scores2).any()


def test_verbose_shows_a_progress_bar(cycles, capsys):
    est = SASRec(max_iter=2, verbose=1, **SMALL).fit(cycles)
    err = capsys.readouterr().err
    assert "SASRec" in err and "loss" in err and "_bar" not in vars(est)


def test_pick_windows_modes():
    from maaskit.recommender._sequences import pick_windows, training_windows, windows_per_user

    # users of 1, 4 and 12 items, max_len 3: 0, 1 and 4 windows (rows 0 and 1..4)
    ptr = np.array([0, 1, 5, 17])
    items = np.arange(17)
    n_win = windows_per_user(ptr, 3)
    assert n_win.tolist() == [0, 1, 4]
    ids, _ = training_windows(ptr, items, 3)
    assert len(ids) == n_win.sum()
    assert pick_windows(n_win, "all").tolist() == [0, 1, 2, 3, 4]
    last = pick_windows(n_win, "last")
    assert last.tolist() == [0, 1]
    assert ids[last, -1].tolist() == [3, 15]  # each user's newest input item
    gen = np.random.default_rng(0)
    draws = np.array([pick_windows(n_win, "sample", gen) for _ in range(4000)])
    assert (draws[:, 0] == 0).all()  # a user with one window always gets it
    freq = np.bincount(draws[:, 1] - 1, minlength=4) / len(draws)
    # P(k-th newest) = 2**-k / (1 + 1/2 + 1/4 + 1/8): newest favoured, every window reachable
    np.testing.assert_allclose(freq, np.array([8, 4, 2, 1]) / 15, atol=0.03)


@pytest.mark.parametrize("windows", ["all", "last", "sample"])
def test_windows_modes_fit_and_persist(cycles, windows):
    model = SASRec(max_iter=2, windows=windows, **SMALL).fit(cycles)
    assert model.get_params()["windows"] == windows
    assert loads(dumps(model)).get_params()["windows"] == windows
    assert np.isfinite(model.history_["loss"]).all()


def test_windows_last_equals_all_for_short_histories(cycles):
    # every history fits in one window (10 items, max_len 12): "all" and "last" train on the same rows
    kw = {**SMALL, "max_len": 12}
    a = SASRec(max_iter=2, windows="all", **kw).fit(cycles)
    b = SASRec(max_iter=2, windows="last", **kw).fit(cycles)
    np.testing.assert_array_equal(a.params_, b.params_)
    # with max_len 6 they differ: "last" drops each user's older window
    c = SASRec(max_iter=2, windows="all", **SMALL).fit(cycles)
    d = SASRec(max_iter=2, windows="last", **SMALL).fit(cycles)
    assert not np.array_equal(c.params_, d.params_)


@pytest.mark.parametrize("bad", ["newest", 1, None])
def test_windows_is_validated(cycles, bad):
    with pytest.raises(ValueError, match="windows"):
        SASRec(windows=bad, **SMALL).fit(cycles)
