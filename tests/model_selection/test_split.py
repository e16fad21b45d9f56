import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score

from maaskit.exceptions import ValidationError
from maaskit.model_selection import (
    InteractionKFold,
    filter_test_to_train,
    leave_last_n_out,
    leave_last_out,
    per_user_split,
    random_split,
)


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    n = 2_000
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 100, n),
            "item": rng.integers(0, 300, n),
            "rating": rng.integers(1, 6, n).astype(float),
            "timestamp": rng.integers(1_000_000, 2_000_000, n).astype(np.int64),
        }
    )
    frame.index = frame.index * 3 + 7  # a non-default index must be preserved
    return frame


def _assert_partition(data, train, test):
    idx = np.concatenate([train.index.to_numpy(), test.index.to_numpy()])
    assert len(np.intersect1d(train.index, test.index)) == 0
    assert np.array_equal(np.sort(idx), np.sort(data.index.to_numpy()))
    # both parts keep the input's row order
    pos = data.index.get_indexer
    assert np.all(np.diff(pos(train.index)) > 0) and np.all(np.diff(pos(test.index)) > 0)
    pd.testing.assert_frame_equal(train, data.loc[train.index])


# --- random_split ----------------------------------------------------------------------
def test_random_split_sizes_and_reproducibility(df):
    train, test = random_split(df, test_size=0.25, random_state=1)
    assert len(test) == 500 and len(train) == 1500
    _assert_partition(df, train, test)
    again = random_split(df, test_size=0.25, random_state=1)
    pd.testing.assert_frame_equal(again[1], test)
    other = random_split(df, test_size=0.25, random_state=2)
    assert not other[1].index.equals(test.index)
    train, test = random_split(df, test_size=7, random_state=0)
    assert len(test) == 7
    # fractions round the test size up, like sklearn
    assert len(random_split(df.iloc[:11], test_size=0.25, random_state=0)[1]) == 3


def test_random_split_numpy_array():
    arr = np.arange(30).reshape(10, 3)
    train, test = random_split(arr, test_size=0.3, random_state=0)
    assert isinstance(train, np.ndarray) and train.shape == (7, 3) and test.shape == (3, 3)
    assert sorted(np.concatenate([train[:, 0], test[:, 0]]).tolist()) == arr[:, 0].tolist()


@pytest.mark.parametrize("bad", [0, 0.0, 1.0, -0.1, 2000, True, "0.2"])
def test_random_split_bad_test_size(df, bad):
    with pytest.raises(ValueError, match=r"random_split: test_size must be"):
        random_split(df, test_size=bad)


@pytest.mark.parametrize(
    "data, match",
    [
        (pd.DataFrame({"user": [1, 2]}), "must have columns \\['user', 'item'\\]"),
        (np.zeros((3, 5)), "2 to 4 columns"),
        ([[1, 2], [3, 4]], "DataFrame or a 2-D numpy array; got list"),
        (pd.DataFrame({"user": [1], "item": [2]}), "at least 2 rows"),
    ],
)
def test_random_split_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        random_split(data)


# --- per_user_split --------------------------------------------------------------------
def test_per_user_split_fractions(df):
    train, test = per_user_split(df, test_size=0.2, random_state=0)
    _assert_partition(df, train, test)
    counts = df.groupby("user").size()
    n_test = test.groupby("user").size().reindex(counts.index, fill_value=0)
    expected = np.minimum(np.floor(0.2 * counts + 0.5), counts - 1).clip(lower=0)
    assert np.array_equal(n_test.to_numpy(), expected.to_numpy())
    assert set(train["user"]) == set(df["user"])  # every user keeps train data


def test_per_user_split_min_train_and_int_size():
    data = pd.DataFrame({"user": [1] * 10 + [2] * 3 + [3], "item": range(14)})
    train, test = per_user_split(data, test_size=0.5, min_train=4, random_state=0)
    assert test.groupby("user").size().to_dict() == {1: 5}
    assert train.groupby("user").size().to_dict() == {1: 5, 2: 3, 3: 1}
    train, test = per_user_split(data, test_size=2, random_state=0)
    assert test.groupby("user").size().to_dict() == {1: 2, 2: 2}


def test_per_user_split_reproducible_and_random(df):
    a = per_user_split(df, random_state=3)[1]
    b = per_user_split(df, random_state=3)[1]
    c = per_user_split(df, random_state=4)[1]
    pd.testing.assert_frame_equal(a, b)
    assert not a.index.equals(c.index)


def test_per_user_split_string_ids_and_array():
    data = pd.DataFrame({"user": list("aaaabbbb"), "item": list("wxyzwxyz")})
    train, test = per_user_split(data, test_size=0.25, random_state=0)
    assert sorted(test["user"]) == ["a", "b"]
    arr = np.array([[0, 1], [0, 2], [1, 1], [1, 3]])
    train, test = per_user_split(arr, test_size=0.5, random_state=0)
    assert sorted(test[:, 0].tolist()) == [0, 1] and train.shape == (2, 2)


def test_per_user_split_errors(df):
    with pytest.raises(ValueError, match="per_user_split: min_train must be an int >= 0; got -1"):
        per_user_split(df, min_train=-1)
    with pytest.raises(ValueError, match="per_user_split: test_size"):
        per_user_split(df, test_size=1.5)
    with pytest.raises(ValueError, match="must not be missing"):
        per_user_split(pd.DataFrame({"user": [1.0, np.nan], "item": [1, 2]}))


# --- leave_last_n_out ------------------------------------------------------------------
def test_leave_last_n_out_time_order(df):
    train, test = leave_last_n_out(df, n=2)
    _assert_partition(df, train, test)
    counts = df.groupby("user").size()
    assert test.groupby("user").size().reindex(counts.index, fill_value=0).tolist() == \
        np.minimum(2, counts - 1).tolist()
    last_train = train.groupby("user")["timestamp"].max()
    first_test = test.groupby("user")["timestamp"].min()
    assert (first_test >= last_train.loc[first_test.index]).all()


def test_leave_last_n_out_ties_and_min_train():
    data = pd.DataFrame(
        {"user": [1, 1, 1, 2, 3, 3], "item": [1, 2, 3, 4, 5, 6], "timestamp": [5, 5, 1, 9, 2, 1]}
    )
    train, test = leave_last_n_out(data, n=1)
    assert test["item"].tolist() == [2, 5]  # tie at t=5: the later row is newer; user 2 kept
    train, test = leave_last_n_out(data, n=5, min_train=0)
    assert len(train) == 0 and len(test) == 6
    dates = data.assign(timestamp=pd.to_datetime(data["timestamp"], unit="D"))
    assert leave_last_n_out(dates)[1]["item"].tolist() == [2, 5]


def test_leave_last_n_out_array_and_errors():
    arr = np.array([[1, 1, 4.0, 10], [1, 2, 3.0, 20], [2, 1, 5.0, 5], [2, 3, 1.0, 1]])
    train, test = leave_last_n_out(arr)
    assert test[:, 1].tolist() == [2, 1]
    with pytest.raises(ValueError, match="needs event times|'timestamp'"):
        leave_last_n_out(pd.DataFrame({"user": [1], "item": [1]}))
    with pytest.raises(ValueError, match="4 columns"):
        leave_last_n_out(arr[:, :3])
    with pytest.raises(ValueError, match="leave_last_n_out: n must be an int >= 1; got 0"):
        leave_last_n_out(arr, n=0)


# --- leave_last_out --------------------------------------------------------------------
def _by_hand(data, n_valid, min_train):
    """Per user, sort by time with a stable sort, then peel the tail off one by one."""
    train, valid, test = [], [], []
    for _, g in data.groupby("user", sort=False):
        g = g.sort_values("timestamp", kind="stable")
        idx = list(g.index)
        if len(idx) > min_train:
            test.append(idx.pop())
            for _ in range(min(n_valid, len(idx) - min_train)):
                valid.append(idx.pop())
        train += idx
    return [data.loc[data.index.isin(part)] for part in (train, valid, test)]


@pytest.mark.parametrize("n_valid, min_train", [(1, 1), (0, 1), (2, 3), (1, 0)])
def test_leave_last_out_matches_hand_split(df, n_valid, min_train):
    data = df.assign(timestamp=df["timestamp"] // 50_000)  # many ties within a user
    parts = leave_last_out(data, n_valid=n_valid, min_train=min_train)
    for got, want in zip(parts, _by_hand(data, n_valid, min_train)):
        pd.testing.assert_frame_equal(got, want)
    train, valid, test = parts
    _assert_partition(data, train, pd.concat([valid, test]).sort_index())
    assert test["user"].is_unique
    assert valid.empty or valid.groupby("user").size().max() <= n_valid
    # per user: train <= valid <= test in time
    t = {name: part.groupby("user")["timestamp"] for name, part in zip("tvs", parts)}
    assert (t["s"].min() >= t["v"].max().reindex(t["s"].min().index).fillna(-1)).all()
    assert (t["v"].min() >= t["t"].max().reindex(t["v"].min().index)).all()


def test_leave_last_out_ties_history_rules_and_types():
    data = pd.DataFrame({"user": ["a"] * 4 + ["b"] * 2 + ["c"],
                         "item": [1, 2, 3, 4, 5, 6, 7],
                         "timestamp": [5, 5, 1, 5, 2, 2, 0]})
    train, valid, test = leave_last_out(data)
    # a: t=5 three times: rows keep their order, so item 4 is last and 2 before it;
    # b (2 interactions) gives a test item but no validation one; c (1) stays in train.
    assert test["item"].tolist() == [4, 6] and valid["item"].tolist() == [2]
    assert train["item"].tolist() == [1, 3, 5, 7]
    dates = data.assign(timestamp=pd.to_datetime(data["timestamp"], unit="D"))
    assert [p["item"].tolist() for p in leave_last_out(dates)] == [[1, 3, 5, 7], [2], [4, 6]]
    arr = np.array([[1, 1, 4.0, 10], [1, 2, 3.0, 20], [1, 3, 3.0, 15], [2, 1, 5.0, 5]])
    train, valid, test = leave_last_out(arr)
    assert test[:, 1].tolist() == [2] and valid[:, 1].tolist() == [3] and train[:, 1].tolist() == [1, 1]
    train, valid, test = leave_last_out(data, n_valid=0)
    assert valid.empty and list(valid.columns) == list(data.columns) and len(test) == 2


@pytest.mark.parametrize("data, kwargs, match", [
    (pd.DataFrame({"user": [1, 1], "item": [1, 2]}), {}, r"leave_last_out: data must have columns \['user', 'item', 'timestamp'\] \(sort-based splits need event times\)"),
    (np.array([[1, 1, 4.0], [1, 2, 3.0]]), {}, "leave_last_out: an array must have 4 columns"),
    (pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": [1.0, np.nan]}), {}, "timestamp must be finite"),
    (pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": pd.to_datetime([1, None])}), {}, "must not be missing; got NaT"),
    (pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": ["x", "y"]}), {}, "timestamp must be numeric or datetime"),
    (pd.DataFrame({"user": [1, 2], "item": [1, 2], "timestamp": [1, 2]}), {}, r"a user with more than min_train=1 interactions.*got at most 1"),
    (pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": [1, 2]}), {"n_valid": -1}, "n_valid must be an int >= 0; got -1"),
    (pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": [1, 2]}), {"n_valid": True}, "n_valid must be an int >= 0; got True"),
    (pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": [1, 2]}), {"min_train": 1.5}, "min_train must be an int >= 0; got 1.5"),
    (pd.DataFrame({"user": [1.0, np.nan], "item": [1, 2], "timestamp": [1, 2]}), {}, "user ids must not be missing"),
])
def test_leave_last_out_errors(data, kwargs, match):
    data_error = "n_valid" not in kwargs and "min_train" not in kwargs and "more than" not in match
    with pytest.raises(ValidationError if data_error else ValueError, match=match):
        leave_last_out(data, **kwargs)


# --- filter_test_to_train --------------------------------------------------------------
def test_filter_test_to_train():
    train = pd.DataFrame({"user": [1, 2], "item": ["x", "y"]})
    test = pd.DataFrame({"user": [1, 3, 2, 2], "item": ["y", "x", "z", "x"]}, index=[5, 6, 7, 8])
    out = filter_test_to_train(train, test)
    assert out.index.tolist() == [5, 8]
    arr_out = filter_test_to_train(np.array([[1, 1], [2, 2]]), np.array([[1, 2], [3, 1]]))
    assert arr_out.tolist() == [[1, 2]]


# --- InteractionKFold ------------------------------------------------------------------
@pytest.mark.parametrize("by", ["row", "user"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_partitions(df, by, shuffle):
    cv = InteractionKFold(n_splits=4, shuffle=shuffle, random_state=0, by=by)
    assert cv.get_n_splits(df) == 4
    tests = []
    for train, test in cv.split(df):
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == len(df)
        tests.append(test)
    all_test = np.concatenate(tests)
    assert np.array_equal(np.sort(all_test), np.arange(len(df)))
    sizes = [len(t) for t in tests]
    if by == "row":
        assert max(sizes) - min(sizes) <= 1


def test_kfold_by_user_spreads_each_user(df):
    cv = InteractionKFold(n_splits=5, random_state=0, by="user")
    counts = df.groupby("user").size()
    for train, test in cv.split(df):
        per_user = df["user"].iloc[test].value_counts().reindex(counts.index, fill_value=0)
        assert ((per_user - counts / 5).abs() <= 1).all()
        assert set(df["user"].iloc[train]) == set(df["user"][df["user"].map(counts) > 1])


def test_kfold_reproducible(df):
    a = [t for _, t in InteractionKFold(3, random_state=5).split(df)]
    b = [t for _, t in InteractionKFold(3, random_state=5).split(df)]
    c = [t for _, t in InteractionKFold(3, random_state=6).split(df)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_kfold_groups_and_arrays(df):
    cv = InteractionKFold(3, random_state=0, by="user")
    from_groups = [t for _, t in cv.split(df[["item"]], groups=df["user"])]
    from_frame = [t for _, t in cv.split(df)]
    assert all(np.array_equal(x, y) for x, y in zip(from_groups, from_frame))
    arr = df.to_numpy()
    from_array = [t for _, t in cv.split(arr)]
    assert all(np.array_equal(x, y) for x, y in zip(from_array, from_frame))


def test_kfold_errors(df):
    with pytest.raises(ValueError, match="'n_splits' parameter of InteractionKFold"):
        list(InteractionKFold(1).split(df))
    with pytest.raises(ValueError, match="'by' parameter"):
        list(InteractionKFold(by="item").split(df))
    with pytest.raises(ValueError, match="by='user' needs user ids"):
        list(InteractionKFold(by="user").split(df[["item"]]))
    with pytest.raises(ValueError, match="at least n_splits=5 rows"):
        list(InteractionKFold(5).split(df.iloc[:3]))


class _MeanRating(BaseEstimator):
    """Tiny estimator for GridSearchCV: predicts a shrunk mean rating."""

    def __init__(self, shrink=0.0):
        self.shrink = shrink

    def fit(self, X, y=None):
        self.mean_ = float(X["rating"].mean()) * (1 - self.shrink)
        return self

    def score(self, X, y=None):
        return -float(np.sqrt(np.mean((X["rating"].to_numpy() - self.mean_) ** 2)))


def test_kfold_in_grid_search(df):
    cv = InteractionKFold(n_splits=3, random_state=0, by="user")
    assert "InteractionKFold(" in repr(cv) and "by='user'" in repr(cv)
    search = GridSearchCV(_MeanRating(), {"shrink": [0.0, 0.5]}, cv=cv).fit(df)
    assert search.best_params_ == {"shrink": 0.0}
    scores = cross_val_score(_MeanRating(), df, cv=InteractionKFold(4, random_state=0))
    assert scores.shape == (4,)
