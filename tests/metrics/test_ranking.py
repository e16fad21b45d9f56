import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from maaskit.metrics import (
    coverage,
    hr_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    relevant_items_by_user,
)


# ---------------------------------------------------------------------------------------
# Naive pure-Python reference
# ---------------------------------------------------------------------------------------
def _missing(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def naive_metrics(y_true, y_pred, k, mask=None):
    out = {"precision": [], "recall": [], "hr": [], "ndcg": [], "map": []}
    for u, rel in enumerate(y_true):
        rel = set(rel)
        if not rel:
            continue
        seen, hits = set(), []
        for j in range(k):
            x = y_pred[u][j]
            valid = (mask is None or mask[u][j]) and not _missing(x)
            hits.append(bool(valid and x in rel and x not in seen))
            if valid:
                seen.add(x)
        n_hit = sum(hits)
        out["precision"].append(n_hit / k)
        out["recall"].append(n_hit / len(rel))
        out["hr"].append(float(n_hit > 0))
        dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
        idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(rel))))
        out["ndcg"].append(dcg / idcg)
        ap, cum = 0.0, 0
        for j, h in enumerate(hits):
            if h:
                cum += 1
                ap += cum / (j + 1)
        out["map"].append(ap / min(k, len(rel)))
    if not out["precision"]:
        return None
    return {key: sum(v) / len(v) for key, v in out.items()}


FUNCS = {"precision": precision_at_k, "recall": recall_at_k, "hr": hr_at_k, "ndcg": ndcg_at_k,
         "map": map_at_k}


# ---------------------------------------------------------------------------------------
# Hand-computed examples
# ---------------------------------------------------------------------------------------
def test_hand_computed_single_user():
    y_true = [[1, 2, 3]]
    y_pred = [[1, 9, 3, 8, 2]]  # hits at positions 1, 3, 5
    assert precision_at_k(y_true, y_pred, k=5) == pytest.approx(3 / 5)
    assert recall_at_k(y_true, y_pred, k=2) == pytest.approx(1 / 3)
    dcg = 1 + 1 / math.log2(4) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(y_true, y_pred, k=5) == pytest.approx(dcg / idcg)
    assert map_at_k(y_true, y_pred, k=5) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # k smaller than |relevant|: MAP normalised by k.
    assert map_at_k(y_true, y_pred, k=2) == pytest.approx(1 / 2)


def test_perfect_and_zero():
    y_true = [{1, 2}, {3}]
    perfect = [[1, 2, 7], [3, 5, 6]]
    assert ndcg_at_k(y_true, perfect, k=3) == pytest.approx(1.0)
    assert map_at_k(y_true, perfect, k=3) == pytest.approx(1.0)
    assert recall_at_k(y_true, perfect, k=3) == pytest.approx(1.0)
    none = [[4, 5, 6], [7, 8, 9]]
    assert ranking_metrics(y_true, none, k=3) == {
        "precision@3": 0.0, "recall@3": 0.0, "hr@3": 0.0, "ndcg@3": 0.0, "map@3": 0.0,
    }


def test_users_without_relevant_items_are_skipped():
    y_true = [[1], [], np.array([], dtype=np.int64)]
    y_pred = [[1, 2], [1, 2], [1, 2]]
    assert precision_at_k(y_true, y_pred, k=2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least one relevant item"):
        precision_at_k([[], []], [[1], [2]], k=1)


def test_duplicates_count_once():
    # y_true duplicates are ignored; a repeated recommendation is a hit only once.
    assert recall_at_k([[1, 1, 2]], [[1, 1, 3]], k=3) == pytest.approx(0.5)
    assert precision_at_k([[1]], [[1, 1, 1]], k=3) == pytest.approx(1 / 3)


def test_string_and_object_ids():
    y_true = [["a", "b"], {"c"}]
    y_pred = np.array([["b", "x"], ["y", "c"]])
    assert precision_at_k(y_true, y_pred, k=2) == pytest.approx(0.5)
    mixed = np.array([[1, "b"], ["c", 2]], dtype=object)
    assert recall_at_k([[1], ["c", 3]], mixed, k=2) == pytest.approx((1 + 0.5) / 2)
    # an int 1 must not match the string "1"
    assert precision_at_k([["1"]], [[1]], k=1) == 0.0


def test_mask_and_nan_padding():
    y_true = [[1, 2], [3]]
    y_pred = np.array([[1, 2, 0], [3, 0, 0]])
    mask = np.array([[True, True, False], [True, False, False]])
    assert precision_at_k(y_true, y_pred, k=3, mask=mask) == pytest.approx((2 / 3 + 1 / 3) / 2)
    # padding item 0 being "relevant" does not make it a hit when masked out
    assert precision_at_k([[0]], [[0]], k=1, mask=np.array([[False]])) == 0.0
    floats = np.array([[1.0, np.nan], [np.nan, np.nan]])
    assert recall_at_k([[1], [2]], floats, k=2) == pytest.approx(0.5)
    objs = np.array([[None, "a"]], dtype=object)
    assert precision_at_k([["a"]], objs, k=2) == pytest.approx(0.5)


def test_only_first_k_columns_count():
    assert precision_at_k([[5]], [[1, 2, 5]], k=2) == 0.0
    assert precision_at_k([[5]], [[1, 2, 5]], k=3) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y_true=[[1]], y_pred=[[1]], k=0), "k must be an int >= 1; got 0"),
        (dict(y_true=[[1]], y_pred=[[1]], k=2), "at least k=2 columns; got 1"),
        (dict(y_true=[[1], [2]], y_pred=[[1]], k=1), "same users; got 2 entries"),
        (dict(y_true=[[1]], y_pred=[1, 2], k=1), "y_pred must be a 2-D array"),
        (dict(y_true=[1], y_pred=[[1]], k=1), "each entry of y_true must be a collection"),
        (dict(y_true=[[1]], y_pred=[[1]], k=1, mask=np.ones((1, 2), bool)), "mask must be a boolean"),
        (dict(y_true=5, y_pred=[[1]], k=1), "y_true must be a sequence"),
    ],
)
@pytest.mark.parametrize("name", list(FUNCS))
def test_errors(name, kwargs, match):
    with pytest.raises(ValueError, match=match) as exc:
        FUNCS[name](**kwargs)
    assert str(exc.value).startswith(f"{FUNCS[name].__name__}: ")


# ---------------------------------------------------------------------------------------
# Random cases against the reference
# ---------------------------------------------------------------------------------------
@st.composite
def ranking_case(draw):
    n_users = draw(st.integers(1, 8))
    k = draw(st.integers(1, 6))
    n_cols = k + draw(st.integers(0, 2))
    item = st.integers(0, 9)
    y_true = [draw(st.lists(item, max_size=6)) for _ in range(n_users)]
    y_pred = np.array([[draw(item) for _ in range(n_cols)] for _ in range(n_users)])
    mask = None
    if draw(st.booleans()):
        mask = np.array([[draw(st.booleans()) for _ in range(n_cols)] for _ in range(n_users)])
    as_sets = draw(st.booleans())
    if as_sets:
        y_true = [set(r) for r in y_true]
    elif draw(st.booleans()):
        y_true = [np.asarray(r, dtype=np.int64) for r in y_true]
    return y_true, y_pred, k, mask


@settings(max_examples=200, deadline=None)
@given(ranking_case())
def test_matches_naive_reference(case):
    y_true, y_pred, k, mask = case
    expected = naive_metrics(y_true, y_pred.tolist(), k, None if mask is None else mask.tolist())
    if expected is None:
        with pytest.raises(ValueError, match="relevant"):
            ranking_metrics(y_true, y_pred, k=k, mask=mask)
        return
    got = ranking_metrics(y_true, y_pred, k=k, mask=mask)
    for name, func in FUNCS.items():
        assert got[f"{name}@{k}"] == pytest.approx(expected[name], abs=1e-12)
        assert func(y_true, y_pred, k=k, mask=mask) == pytest.approx(expected[name], abs=1e-12)
    # string ids give the same answer
    got_str = ranking_metrics([[str(x) for x in r] for r in y_true], y_pred.astype(str), k=k, mask=mask)
    assert got_str == pytest.approx(got)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_ndcg_matches_sklearn(seed, k):
    rng = np.random.default_rng(seed)
    n_users, n_items = 6, 12
    relevance = (rng.random((n_users, n_items)) < 0.3).astype(float)
    relevance[relevance.sum(1) == 0, 0] = 1.0  # sklearn scores an all-zero row as 0
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items).astype(float)
    ranking = np.argsort(-scores, axis=1)
    y_true = [np.flatnonzero(r) for r in relevance]
    assert ndcg_at_k(y_true, ranking, k=k) == pytest.approx(ndcg_score(relevance, scores, k=k))


# ---------------------------------------------------------------------------------------
# coverage, ranking_metrics, relevant_items_by_user
# ---------------------------------------------------------------------------------------
def test_coverage():
    y_pred = np.array([[1, 2, 3], [1, 4, 5]])
    assert coverage(y_pred, n_items=10) == pytest.approx(0.5)
    assert coverage(y_pred, n_items=10, k=1) == pytest.approx(0.1)
    mask = np.array([[True, False, False], [True, True, False]])
    assert coverage(y_pred, n_items=10, mask=mask) == pytest.approx(0.2)
    assert coverage(np.array([[1.0, np.nan]]), n_items=4) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="n_items must be an int >= 1"):
        coverage(y_pred, n_items=0)
    with pytest.raises(ValueError, match="at least the number of distinct"):
        coverage(y_pred, n_items=3)


def test_ranking_metrics_with_coverage_matches_single_functions():
    rng = np.random.default_rng(0)
    y_pred = rng.integers(0, 30, size=(20, 8))
    y_true = [rng.choice(30, size=rng.integers(0, 6), replace=False) for _ in range(20)]
    got = ranking_metrics(y_true, y_pred, k=5, n_items=30)
    assert got["precision@5"] == precision_at_k(y_true, y_pred, k=5)
    assert got["recall@5"] == recall_at_k(y_true, y_pred, k=5)
    assert got["hr@5"] == hr_at_k(y_true, y_pred, k=5)
    assert got["ndcg@5"] == ndcg_at_k(y_true, y_pred, k=5)
    assert got["map@5"] == map_at_k(y_true, y_pred, k=5)
    assert got["coverage@5"] == coverage(y_pred, 30, k=5)


def test_relevant_items_by_user():
    test = pd.DataFrame(
        {"user": ["b", "a", "b", "c"], "item": [3, 1, 2, 9], "rating": [5.0, 4.0, 2.0, 1.0]}
    )
    users, items = relevant_items_by_user(test)
    assert users.tolist() == ["a", "b", "c"]
    assert [i.tolist() for i in items] == [[1], [3, 2], [9]]
    users, items = relevant_items_by_user(test, users=["c", "z", "b"])
    assert users.tolist() == ["c", "z", "b"]
    assert [i.tolist() for i in items] == [[9], [], [3, 2]]
    users, items = relevant_items_by_user(test, threshold=4)
    assert [i.tolist() for i in items] == [[1], [3]]
    with pytest.raises(ValueError, match="columns"):
        relevant_items_by_user(test[["user"]])
    with pytest.raises(ValueError, match="rating"):
        relevant_items_by_user(test[["user", "item"]], threshold=3)


def test_end_to_end_with_grouped_test_set():
    test = pd.DataFrame({"user": [1, 1, 2, 3], "item": [10, 11, 12, 13]})
    users, rel = relevant_items_by_user(test)
    recs = {1: [10, 5, 11], 2: [1, 2, 3], 3: [13, 4, 4]}
    y_pred = np.array([recs[u] for u in users])
    assert precision_at_k(rel, y_pred, k=3) == pytest.approx((2 / 3 + 0 + 1 / 3) / 3)


def test_handles_100k_users():
    rng = np.random.default_rng(0)
    n_users, n_items = 100_000, 5_000
    test = pd.DataFrame(
        {"user": rng.integers(0, n_users, 500_000), "item": rng.integers(0, n_items, 500_000)}
    )
    users, rel = relevant_items_by_user(test)
    y_pred = rng.integers(0, n_items, size=(len(users), 10))
    out = ranking_metrics(rel, y_pred, k=10)
    # random guesses among 5,000 items: about 10/5,000 of them hit
    assert 0 <= out["precision@10"] < 0.01


# ---------------------------------------------------------------------------------------
# Leave-one-out, full ranking: HR@k and NDCG@k against a hand computation
# ---------------------------------------------------------------------------------------
def _full_ranking_topk(scores, seen, k):
    """Top-k over the whole catalogue with each user's seen items filtered out."""
    masked = np.where(seen, -np.inf, scores)
    return np.argsort(-masked, axis=1, kind="stable")[:, :k]


def test_leave_one_out_hand_computed():
    # 3 users, 6 items; one held-out item per user.
    scores = np.array([[0.9, 0.1, 0.8, 0.3, 0.2, 0.0],
                       [0.5, 0.9, 0.8, 0.7, 0.1, 0.2],
                       [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    seen = np.zeros((3, 6), dtype=bool)
    seen[0, [0]] = seen[1, [1]] = seen[2, [5]] = True
    held_out = [[2], [0], [0]]
    # user 0: unseen ranking 2, 3, 4, 1, 5 -> item 2 at position 1
    # user 1: unseen ranking 2, 3, 0, ... -> item 0 at position 3
    # user 2: unseen ranking 4, 3, 2, 1, 0 -> item 0 at position 5
    top = _full_ranking_topk(scores, seen, 5)
    assert top.tolist() == [[2, 3, 4, 1, 5], [2, 3, 0, 5, 4], [4, 3, 2, 1, 0]]
    assert hr_at_k(held_out, top, k=1) == pytest.approx(1 / 3)
    assert hr_at_k(held_out, top, k=2) == pytest.approx(1 / 3)
    assert hr_at_k(held_out, top, k=3) == pytest.approx(2 / 3)
    assert hr_at_k(held_out, top, k=5) == pytest.approx(1.0)
    assert ndcg_at_k(held_out, top, k=2) == pytest.approx(1 / 3)
    assert ndcg_at_k(held_out, top, k=3) == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert ndcg_at_k(held_out, top, k=5) == pytest.approx(
        (1 + 1 / math.log2(4) + 1 / math.log2(6)) / 3)
    # one held-out item: HR@k is recall@k
    assert hr_at_k(held_out, top, k=3) == recall_at_k(held_out, top, k=3)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 15))
def test_leave_one_out_matches_rank_formula(seed, k):
    # The papers' formula: with r the 0-based rank of the held-out item among the items
    # the user has not seen, HR@k = mean(r < k) and NDCG@k = mean([r < k] / log2(r + 2)).
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 30
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items).astype(float)
    seen = rng.random((n_users, n_items)) < 0.3
    target = np.array([rng.choice(np.flatnonzero(~row)) if (~row).any() else -1 for row in seen])
    seen[target < 0, 0] = False
    target[target < 0] = 0
    t_score = scores[np.arange(n_users), target]
    rank = ((scores > t_score[:, None]) & ~seen).sum(axis=1)
    top = _full_ranking_topk(scores, seen, k)
    held_out = [[t] for t in target]
    assert hr_at_k(held_out, top, k=k) == pytest.approx(np.mean(rank < k))
    assert ndcg_at_k(held_out, top, k=k) == pytest.approx(np.mean((rank < k) / np.log2(rank + 2)))


def test_leave_last_out_with_a_recommender_hand_computed():
    from maaskit.model_selection import leave_last_out
    from maaskit.recommender import Popularity

    # Train (all but each user's latest play) makes item counts a=5, b=4, c=3, d=2, e=1.
    train_sets = {1: "abc", 2: "abd", 3: "abc", 4: "ac", 5: "abd", 6: "e"}
    latest = {1: "d", 2: "e", 3: "d", 4: "e", 5: "e", 6: "a"}
    rows = [(u, latest[u], 100) for u in train_sets]  # the latest play comes first in the rows
    rows += [(u, it, t) for u, s in train_sets.items() for t, it in enumerate(s)]
    plays = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    train, valid, test = leave_last_out(plays, n_valid=0)
    assert valid.empty and test.set_index("user")["item"].to_dict() == latest
    model = Popularity().fit(train[["user", "item"]])
    users, truth = relevant_items_by_user(test)
    top, _ = model.recommend(users, n=2, exclude_seen=True, output="numpy")
    # The two most popular unseen items: 1: d e (hit at 1), 2: c e (hit at 2), 3: d e (1),
    # 4: b d (miss), 5: c e (2), 6: a b (1).
    assert top.tolist() == [list("de"), list("ce"), list("de"), list("bd"), list("ce"), list("ab")]
    assert hr_at_k(truth, top, k=1) == pytest.approx(3 / 6)
    assert hr_at_k(truth, top, k=2) == pytest.approx(5 / 6)
    assert ndcg_at_k(truth, top, k=2) == pytest.approx((3 + 2 / math.log2(3)) / 6)
    # the model-selection scorer takes the same path
    from maaskit.metrics import get_scorer

    assert get_scorer("hr@2")(model, test[["user", "item"]]) == pytest.approx(5 / 6)
