import re
import time

import numpy as np
import pandas as pd
import pytest

from maaskit.datasets import load_default_catalogue, make_interactions
from maaskit.datasets._synthetic import _alias_table
from maaskit.metrics import ndcg_at_k, recall_at_k, relevant_items_by_user, rmse
from maaskit.model_selection import per_user_split


def test_shapes_dtypes_and_uniqueness():
    df = make_interactions(n_users=200, n_items=150, n_interactions=5_000, random_state=0)
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]
    assert len(df) == 5_000
    assert not df.duplicated(["user", "item"]).any()
    assert df["user"].between(0, 199).all() and df["item"].between(0, 149).all()
    assert df["user"].nunique() == 200  # every user gets at least one interaction
    assert set(np.unique(df["rating"])) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert df["rating"].nunique() >= 4
    assert df["timestamp"].is_monotonic_increasing
    assert df["timestamp"].between(1_577_836_800, 1_577_836_800 + 3 * 365 * 86_400).all()
    assert df.index.equals(pd.RangeIndex(len(df)))


def test_reproducible_and_seed_dependent():
    a = make_interactions(100, 80, 2_000, random_state=1)
    b = make_interactions(100, 80, 2_000, random_state=1)
    c = make_interactions(100, 80, 2_000, random_state=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    gen = make_interactions(100, 80, 2_000, random_state=np.random.default_rng(1))
    assert len(gen) == 2_000


def test_implicit_play_counts():
    df = make_interactions(300, 200, 6_000, kind="implicit", random_state=0)
    counts = df["rating"].to_numpy()
    assert counts.min() >= 1 and np.all(counts == np.round(counts))
    assert counts.max() > 3  # some repeat plays
    assert df["rating"].dtype == np.float64


def test_items_frame():
    df, items = make_interactions(50, 40, 500, n_genres=5, random_state=0, return_items=True)
    assert list(items.columns) == ["item", "title", "genres"]
    assert items["item"].tolist() == list(range(40))
    assert items["title"].iloc[17] == "Title 17"
    primary = items["genres"].str.split("|").str[0]
    assert primary.nunique() == 5  # every genre has an item
    assert items["genres"].str.split("|").map(len).max() <= 2


def test_exact_count_edge_cases():
    # fewer interactions than users; a completely dense matrix; a single user
    assert len(make_interactions(100, 50, 30, random_state=0)) == 30
    dense = make_interactions(20, 15, 300, random_state=0)
    assert len(dense) == 300 and not dense.duplicated(["user", "item"]).any()
    one = make_interactions(1, 30, 30, n_genres=3, random_state=0)
    assert sorted(one["item"]) == list(range(30))
    skewed = make_interactions(50, 1000, 20_000, popularity_skew=3.0, random_state=0)
    assert len(skewed) == 20_000 and not skewed.duplicated(["user", "item"]).any()


def test_popularity_skew_controls_concentration():
    def top_share(skew):
        df = make_interactions(500, 400, 20_000, popularity_skew=skew, random_state=0)
        counts = np.sort(df["item"].value_counts().to_numpy())[::-1]
        return counts[:40].sum() / counts.sum()

    flat, skewed = top_share(0.0), top_share(1.2)
    assert skewed > flat + 0.1
    assert skewed > 0.25


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_users=10, n_items=10, n_interactions=101), "n_interactions must be <= n_users \\* n_items \\(100\\)"),
        (dict(n_users=0), "n_users must be an int >= 1; got 0"),
        (dict(n_items=2.5), "n_items must be an int"),
        (dict(n_items=5, n_genres=8, n_interactions=10), "n_genres must be <= n_items"),
        (dict(kind="ordinal"), "kind must be 'explicit' or 'implicit'; got 'ordinal'"),
        (dict(popularity_skew=-1), "popularity_skew must be"),
        (dict(noise=np.nan), "noise must be"),
        (dict(random_state="x"), "random_state must be"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match) as exc:
        make_interactions(**kwargs)
    assert str(exc.value).startswith("make_interactions: ")


def test_alias_table_samples_the_weights():
    rng = np.random.default_rng(0)
    weights = np.array([5.0, 1.0, 0.0, 3.0, 1.0])
    prob, alias = _alias_table(weights)
    slot = rng.integers(0, len(weights), 200_000)
    draws = np.where(rng.random(len(slot)) < prob[slot], slot, alias[slot])
    freq = np.bincount(draws, minlength=len(weights)) / len(draws)
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.005)


def _recall_pop_vs_svd(df, rank=8, k=10):
    train, test = per_user_split(df, test_size=0.2, random_state=0)
    n_users, n_items = df["user"].max() + 1, df["item"].max() + 1
    X = np.zeros((n_users, n_items))
    X[train["user"], train["item"]] = 1.0
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    scores_svd = (X @ vt[:rank].T) @ vt[:rank]  # PureSVD
    scores_pop = np.broadcast_to(X.sum(0), X.shape).copy()
    users, rel = relevant_items_by_user(test)
    out = []
    for scores in (scores_pop, scores_svd):
        scores = scores.copy()
        scores[X > 0] = -np.inf  # do not recommend what was seen in train
        top = np.argsort(-scores[users], axis=1)[:, :k]
        out.append((recall_at_k(rel, top, k=k), ndcg_at_k(rel, top, k=k)))
    return out


def test_matrix_factorisation_beats_popularity():
    df = make_interactions(600, 400, 30_000, random_state=0)
    (pop_recall, pop_ndcg), (svd_recall, svd_ndcg) = _recall_pop_vs_svd(df)
    assert svd_recall > 1.3 * pop_recall
    assert svd_ndcg > 1.3 * pop_ndcg


def test_explicit_ratings_carry_signal():
    # user + item bias baseline beats the global mean on held-out ratings
    df = make_interactions(400, 300, 30_000, random_state=0)
    train, test = per_user_split(df, test_size=0.2, random_state=0)
    mu = train["rating"].mean()
    bu = (train["rating"] - mu).groupby(train["user"]).mean()
    bi = (train["rating"] - mu).groupby(train["item"]).mean()
    pred = mu + test["user"].map(bu).fillna(0).to_numpy() + test["item"].map(bi).fillna(0).to_numpy()
    pred = np.clip(pred, 1, 5)
    assert rmse(test["rating"], pred) < rmse(test["rating"], np.full(len(test), mu)) - 0.05


def test_medium_scale_is_fast():
    start = time.perf_counter()
    df = make_interactions(n_users=20_000, n_items=5_000, n_interactions=500_000, random_state=0)
    elapsed = time.perf_counter() - start
    assert len(df) == 500_000
    assert elapsed < 5.0, f"make_interactions took {elapsed:.1f}s for 500k interactions"


@pytest.mark.slow
def test_large_interaction_set():
    # Speed is measured in benchmarks/, not asserted here; this checks the large-size path.
    df = make_interactions(n_users=200_000, n_items=50_000, n_interactions=2_000_000, random_state=0)
    assert len(df) == 2_000_000
    assert df["user"].between(0, 199_999).all() and df["item"].between(0, 49_999).all()
    assert not df.duplicated(["user", "item"]).any()


def test_default_catalogue():
    ratings, items = load_default_catalogue()
    assert ratings.shape == (100_000, 4) and items.shape == (1682, 3)
    assert ratings["user"].nunique() == 943
    assert items["title"].is_unique
    pattern = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+( \d+)? \((.+)\)$")
    for title, genres in zip(items["title"], items["genres"]):
        match = pattern.match(title)
        assert match, title
        assert match.group(2) == genres.split("|")[0]
    again_ratings, again_items = load_default_catalogue()
    pd.testing.assert_frame_equal(ratings, again_ratings)
    pd.testing.assert_frame_equal(items, again_items)
    assert not load_default_catalogue(random_state=1)[0].equals(ratings)


# --- sequential structure ---------------------------------------------------------------
@pytest.fixture(scope="module")
def sequential_log():
    return make_interactions(1_000, 1_500, 40_000, random_state=0, return_items=True, sequential=True)


def _histories(df, shuffle_seed=None):
    """(user, item) of each history in time order, or shuffled within users."""
    key = df["timestamp"].to_numpy()
    if shuffle_seed is not None:
        key = np.random.default_rng(shuffle_seed).random(len(df))
    order = np.lexsort((key, df["user"].to_numpy()))
    return df["user"].to_numpy()[order], df["item"].to_numpy()[order]


def _next_in_series_rate(df, items, shuffle_seed=None):
    """Among consecutive plays whose first item has a next part, how often it comes next."""
    user, item = _histories(df, shuffle_seed)
    same = user[1:] == user[:-1]
    cur, nxt = item[:-1][same], item[1:][same]
    last_part = items.groupby("series")["part"].transform("max").to_numpy()
    has_next = items["part"].to_numpy() < last_part
    m = has_next[cur]
    return float(np.mean(nxt[m] == cur[m] + 1)), int(m.sum())


def test_sequential_contract(sequential_log):
    df, items = sequential_log
    assert len(df) == 40_000 and not df.duplicated(["user", "item"]).any()
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df["timestamp"].is_monotonic_increasing
    assert df["timestamp"].between(1_577_836_800, 1_577_836_800 + 3 * 365 * 86_400 + 1_500).all()
    # time orders each history without ties
    assert not df.duplicated(["user", "timestamp"]).any()
    assert list(items.columns) == ["item", "title", "genres", "series", "part"]
    # a series is a contiguous id range, its parts numbered from 0, one primary genre
    first = items.groupby("series")["item"].transform("min")
    assert (items["part"] == items["item"] - first).all()
    assert items["series"].is_monotonic_increasing and items["series"].nunique() < 0.6 * len(items)
    primary = items["genres"].str.split("|").str[0]
    assert (primary.groupby(items["series"]).nunique() == 1).all()
    assert primary.nunique() == 8
    # the default call draws no sequential randomness: same output as before the option
    plain = make_interactions(1_000, 1_500, 40_000, random_state=0)
    assert not plain.equals(df)
    pd.testing.assert_frame_equal(plain, make_interactions(1_000, 1_500, 40_000, random_state=0,
                                                           sequential=False))


def test_sequential_series_are_watched_in_order(sequential_log):
    df, items = sequential_log
    rate, n = _next_in_series_rate(df, items)
    shuffled, _ = _next_in_series_rate(df, items, shuffle_seed=0)
    # chance would be about 1 / 1,500; within-user shuffling keeps the item sets
    assert n > 5_000 and rate > 0.6 and shuffled < 0.05
    plain = make_interactions(1_000, 1_500, 40_000, random_state=0)
    user, item = _histories(plain)
    same = user[1:] == user[:-1]
    assert np.mean(item[1:][same] == item[:-1][same] + 1) < 0.01


def _early_late_genre_distance(df, items, shuffle_seed=None):
    """Mean total-variation distance between the genre mix of the first and last third of
    each long history (one count per series, so binge runs do not weigh)."""
    user, item = _histories(df, shuffle_seed)
    genre = items["genres"].str.split("|").str[0].astype("category").cat.codes.to_numpy()
    frame = pd.DataFrame({"user": user, "series": items["series"].to_numpy()[item],
                          "genre": genre[item]}).drop_duplicates(["user", "series"])
    size = frame.groupby("user")["genre"].transform("size").to_numpy()
    frame = frame[size >= 30]
    pos = frame.groupby("user").cumcount().to_numpy() / size[size >= 30]
    hist = []
    for part in (frame[pos < 1 / 3], frame[pos >= 2 / 3]):
        h = pd.crosstab(part["user"], part["genre"]).reindex(columns=range(genre.max() + 1), fill_value=0)
        hist.append(h.div(h.sum(axis=1), axis=0))
    return float(0.5 * (hist[0] - hist[1]).abs().sum(axis=1).mean()), len(hist[0])


def test_sequential_tastes_drift(sequential_log):
    df, items = sequential_log
    ordered, n_users = _early_late_genre_distance(df, items)
    shuffled, _ = _early_late_genre_distance(df, items, shuffle_seed=0)
    assert n_users > 100
    assert ordered > shuffled + 0.2  # early and late genre mixes differ beyond sampling noise


def test_sequential_small_catalogue_and_errors():
    df, items = make_interactions(5, 4, 12, n_genres=4, random_state=0, return_items=True,
                                  sequential=True)
    assert len(df) == 12 and items["genres"].str.split("|").str[0].nunique() == 4
    with pytest.raises(ValueError, match="make_interactions: sequential must be a bool; got 1"):
        make_interactions(10, 10, 20, sequential=1)
