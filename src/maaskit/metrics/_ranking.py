"""Top-k ranking metrics for recommendations: precision, recall, hit rate, NDCG, MAP, coverage.

All metrics take ``y_true``, one collection of relevant items per user, and ``y_pred``, a
2-D array whose row ``u`` holds the items recommended to user ``u`` best first. Items may
be any hashable ids (ints, strings). Hits are found with one vectorized membership test
over ``(row, item)`` codes, not with a Python set per user, so 100k users at ``k=10`` take
a fraction of a second.

Conventions (the same as Microsoft Recommenders for binary relevance):

* Users with no relevant items are skipped; the mean is over the remaining users.
* Repeated items in ``y_true`` count once; an item repeated in a row of ``y_pred`` counts
  as a hit only at its first position.
* Slots marked ``False`` in ``mask``, and ``NaN``/``None`` entries, never count as hits
  (padding), but still occupy a position, so ``precision@k`` divides by ``k``.
"""

from __future__ import annotations

import numbers
from itertools import chain
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "precision_at_k",
    "recall_at_k",
    "hr_at_k",
    "ndcg_at_k",
    "map_at_k",
    "coverage",
    "ranking_metrics",
    "relevant_items_by_user",
]


def _check_k(k: object, func: str) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{func}: k must be an int >= 1; got {k!r}.")
    return int(k)


def _check_pred(y_pred: Any, k: int | None, mask: Any, func: str) -> tuple[np.ndarray, np.ndarray | None]:
    pred = np.asarray(y_pred)
    if pred.ndim != 2:
        raise ValueError(
            f"{func}: y_pred must be a 2-D array of shape (n_users, n_recommended); got an "
            f"array of shape {pred.shape!r}."
        )
    if k is not None and pred.shape[1] < k:
        raise ValueError(
            f"{func}: y_pred must have at least k={k} columns; got {pred.shape[1]!r}. Pass a "
            f"smaller k, or pad the rows and mark the padding with mask=."
        )
    valid = None
    if mask is not None:
        valid = np.asarray(mask)
        if valid.dtype != bool or valid.shape != pred.shape:
            raise ValueError(
                f"{func}: mask must be a boolean array of the same shape as y_pred "
                f"{pred.shape!r}; got dtype {valid.dtype} and shape {valid.shape!r}."
            )
    if k is not None:
        pred = pred[:, :k]
        valid = valid[:, :k] if valid is not None else None
    return pred, valid


def _flatten_true(y_true: Any, n_users: int, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (row of each relevant item, the items) for a sequence of collections."""
    if isinstance(y_true, (str, bytes)) or not hasattr(y_true, "__len__"):
        raise ValueError(
            f"{func}: y_true must be a sequence with one collection of relevant items per "
            f"user; got {type(y_true).__name__}."
        )
    if len(y_true) != n_users:
        raise ValueError(
            f"{func}: y_true and y_pred must describe the same users; got {len(y_true)!r} "
            f"entries in y_true and {n_users!r} rows in y_pred."
        )
    rows = list(y_true)
    bad = next((j for j, row in enumerate(rows)
                if isinstance(row, (str, bytes)) or not hasattr(row, "__len__")), None)
    if bad is not None:
        raise ValueError(
            f"{func}: each entry of y_true must be a collection of item ids (list, set or "
            f"array); got {rows[bad]!r} for user row {bad}."
        )
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    all_arrays = all(type(row) is np.ndarray and row.ndim == 1 for row in rows)
    if all_arrays:
        parts = [row for row in rows if len(row)]
        flat = np.concatenate(parts) if parts else np.empty(0)
        if len({p.dtype.kind for p in parts}) > 1:
            flat = np.concatenate([p.astype(object) for p in parts])
    else:
        flat = pd.Series(list(chain.from_iterable(rows)), dtype=None if lengths.sum() else object).to_numpy()
    return np.repeat(np.arange(len(rows), dtype=np.int64), lengths), flat


def _common_codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Factorize two id arrays into one code space (``-1`` for NaN/None)."""
    numeric = "biuf"
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        # Integer ids: offset them instead of hashing (much faster) when the range is small.
        lo = min(int(a.min()) if a.size else 0, int(b.min()) if b.size else 0)
        hi = max(int(a.max()) if a.size else 0, int(b.max()) if b.size else 0)
        if hi - lo < 2**31:
            return a.astype(np.int64) - lo, b.astype(np.int64) - lo, hi - lo + 1
    if a.dtype.kind not in numeric or b.dtype.kind not in numeric:
        if a.dtype != b.dtype:
            a, b = a.astype(object), b.astype(object)
    codes, uniques = pd.factorize(np.concatenate([a, b]))
    return codes[: len(a)].astype(np.int64), codes[len(a):].astype(np.int64), len(uniques)


def _hits(y_true: Any, y_pred: Any, k: int, mask: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Boolean hit matrix (n_eval, k) and relevant counts (n_eval,) for users with relevants."""
    k = _check_k(k, func)
    pred, valid = _check_pred(y_pred, k, mask, func)
    n_users = pred.shape[0]
    true_rows, true_items = _flatten_true(y_true, n_users, func)
    true_codes, pred_codes, n_codes = _common_codes(true_items, pred.ravel())
    n_codes = max(n_codes, 1)
    ok = true_codes >= 0
    true_keys = _sorted_unique(true_rows[ok] * n_codes + true_codes[ok])
    n_rel = np.bincount(true_keys // n_codes, minlength=n_users)

    pred_codes = pred_codes.reshape(pred.shape)
    ok = pred_codes >= 0
    if valid is not None:
        ok &= valid
    pred_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_codes + pred_codes
    hit = ok & _first_in_row(np.where(ok, pred_codes, -1 - np.arange(k)))
    flat_keys = np.where(hit, pred_keys, -1).ravel()
    hit = hit.ravel()
    if true_keys.size:
        pos = np.minimum(np.searchsorted(true_keys, flat_keys), true_keys.size - 1)
        hit &= true_keys[pos] == flat_keys
    else:
        hit[:] = False
    hit = hit.reshape(pred.shape)
    users = n_rel > 0
    if not users.any():
        raise ValueError(
            f"{func}: y_true must hold at least one relevant item for some user; got none "
            f"(users with no relevant items are skipped)."
        )
    return hit[users], n_rel[users]


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    if keys.size:
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    return keys


def _first_in_row(codes: np.ndarray) -> np.ndarray:
    """True where an entry is the first occurrence of its value in its row."""
    order = np.argsort(codes, axis=1, kind="stable")
    ranked = np.take_along_axis(codes, order, axis=1)
    first_sorted = np.ones(codes.shape, dtype=bool)
    first_sorted[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    out = np.empty(codes.shape, dtype=bool)
    np.put_along_axis(out, order, first_sorted, axis=1)
    return out


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _precision(hit: np.ndarray, n_rel: np.ndarray) -> float:
    return float(np.mean(hit.sum(axis=1) / hit.shape[1]))


def _recall(hit: np.ndarray, n_rel: np.ndarray) -> float:
    return float(np.mean(hit.sum(axis=1) / n_rel))


def _hr(hit: np.ndarray, n_rel: np.ndarray) -> float:
    return float(np.mean(hit.any(axis=1)))


def _ndcg(hit: np.ndarray, n_rel: np.ndarray) -> float:
    k = hit.shape[1]
    disc = _discounts(k)
    dcg = hit @ disc
    idcg = np.cumsum(disc)[np.minimum(n_rel, k) - 1]
    return float(np.mean(dcg / idcg))


def _map(hit: np.ndarray, n_rel: np.ndarray) -> float:
    k = hit.shape[1]
    prec = np.cumsum(hit, axis=1) / np.arange(1, k + 1)
    ap = (prec * hit).sum(axis=1) / np.minimum(n_rel, k)
    return float(np.mean(ap))


_PARAMS_DOC = """
    Parameters
    ----------
    y_true : sequence of array-like, of length n_users
        Relevant items of each user (lists, sets or arrays of ids), aligned with the rows
        of ``y_pred``. Users with no relevant items are skipped.
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended items per user, best first; ``n_recommended >= k``. Any id dtype.
    k : int, default=10
        Cut-off: only the first ``k`` recommendations count.
    mask : array-like of bool of shape (n_users, n_recommended), default=None
        ``False`` marks padding slots, which never count as hits. ``NaN`` and ``None``
        entries are treated as padding too.
"""


def precision_at_k(y_true: Sequence[Any], y_pred: Any, k: int = 10, *, mask: Any = None) -> float:
    """Mean fraction of the top-``k`` recommendations that are relevant.

    For each user, ``precision@k = hits in the top k / k``; the result is the mean over
    the users that have at least one relevant item.
    {params}
    Returns
    -------
    precision : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the shapes disagree, ``k`` is invalid, or no user has a relevant item.

    Examples
    --------
    >>> from maaskit.metrics import precision_at_k
    >>> precision_at_k([[1, 2], [3]], [[1, 5, 2], [4, 6, 7]], k=2)
    0.25
    """
    return _precision(*_hits(y_true, y_pred, k, mask, "precision_at_k"))


def recall_at_k(y_true: Sequence[Any], y_pred: Any, k: int = 10, *, mask: Any = None) -> float:
    """Mean fraction of each user's relevant items found in the top ``k``.

    For each user, ``recall@k = hits in the top k / number of relevant items``; the result
    is the mean over the users that have at least one relevant item.
    {params}
    Returns
    -------
    recall : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the shapes disagree, ``k`` is invalid, or no user has a relevant item.

    Examples
    --------
    >>> from maaskit.metrics import recall_at_k
    >>> recall_at_k([[1, 2], [3]], [[1, 5, 2], [4, 6, 7]], k=3)
    0.5
    """
    return _recall(*_hits(y_true, y_pred, k, mask, "recall_at_k"))


def hr_at_k(y_true: Sequence[Any], y_pred: Any, k: int = 10, *, mask: Any = None) -> float:
    """Hit rate at ``k``: the fraction of users with a relevant item in their top ``k``.

    For each user, ``HR@k = 1`` if any of the first ``k`` recommendations is relevant,
    else ``0``; the result is the mean over users with at least one relevant item. With
    one held-out item per user (leave-one-out, :func:`maaskit.model_selection.leave_last_out`)
    it equals ``recall@k``, and it is the "HR@k" of the sequential-recommendation papers
    when ``y_pred`` ranks the full catalogue.
    {params}
    Returns
    -------
    hr : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the shapes disagree, ``k`` is invalid, or no user has a relevant item.

    Examples
    --------
    >>> from maaskit.metrics import hr_at_k
    >>> hr_at_k([[1], [3], [8]], [[1, 5, 2], [4, 6, 3], [4, 6, 7]], k=2)
    0.3333333333333333
    """
    return _hr(*_hits(y_true, y_pred, k, mask, "hr_at_k"))


def ndcg_at_k(y_true: Sequence[Any], y_pred: Any, k: int = 10, *, mask: Any = None) -> float:
    """Mean normalised discounted cumulative gain at ``k`` (binary relevance).

    ``DCG@k = sum_{{j<k}} hit_j / log2(j + 2)``, divided by the ideal DCG, in which the
    first ``min(k, n_relevant)`` positions are hits. Mean over users with at least one
    relevant item.
    {params}
    Returns
    -------
    ndcg : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the shapes disagree, ``k`` is invalid, or no user has a relevant item.

    Examples
    --------
    >>> from maaskit.metrics import ndcg_at_k
    >>> round(ndcg_at_k([[1, 2]], [[5, 1, 2]], k=3), 4)
    0.6934
    """
    return _ndcg(*_hits(y_true, y_pred, k, mask, "ndcg_at_k"))


def map_at_k(y_true: Sequence[Any], y_pred: Any, k: int = 10, *, mask: Any = None) -> float:
    """Mean average precision at ``k``.

    For each user, ``AP@k = sum_{{j<k}} hit_j * precision@(j + 1) / min(k, n_relevant)``
    (the normalisation used by Microsoft Recommenders); the result is the mean over users
    with at least one relevant item.
    {params}
    Returns
    -------
    map : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the shapes disagree, ``k`` is invalid, or no user has a relevant item.

    Examples
    --------
    >>> from maaskit.metrics import map_at_k
    >>> round(map_at_k([[1, 2]], [[5, 1, 2]], k=3), 4)
    0.5833
    """
    return _map(*_hits(y_true, y_pred, k, mask, "map_at_k"))


for _f in (precision_at_k, recall_at_k, hr_at_k, ndcg_at_k, map_at_k):
    _f.__doc__ = _f.__doc__.replace("{params}", _PARAMS_DOC.rstrip() + "\n").replace("{{", "{").replace("}}", "}")


def coverage(y_pred: Any, n_items: int, k: int | None = None, *, mask: Any = None) -> float:
    """Fraction of the catalogue recommended to at least one user.

    Parameters
    ----------
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended items per user. ``NaN``/``None`` entries are ignored.
    n_items : int
        Size of the catalogue.
    k : int, default=None
        Only count the first ``k`` recommendations of each row; ``None`` counts all.
    mask : array-like of bool of shape (n_users, n_recommended), default=None
        ``False`` marks padding slots, which are ignored.

    Returns
    -------
    coverage : float
        ``number of distinct recommended items / n_items``, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``n_items`` is not a positive int or is smaller than the number of distinct
        recommended items.

    Examples
    --------
    >>> from maaskit.metrics import coverage
    >>> coverage([[1, 2], [2, 3]], n_items=10)
    0.3
    """
    func = "coverage"
    if isinstance(n_items, bool) or not isinstance(n_items, numbers.Integral) or n_items < 1:
        raise ValueError(f"{func}: n_items must be an int >= 1; got {n_items!r}.")
    if k is not None:
        k = _check_k(k, func)
    pred, valid = _check_pred(y_pred, k, mask, func)
    values = pred.ravel() if valid is None else pred[valid]
    codes, uniques = pd.factorize(values)
    n_seen = len(uniques)
    if n_seen > n_items:
        raise ValueError(
            f"{func}: n_items must be at least the number of distinct recommended items "
            f"({n_seen}); got {n_items!r}."
        )
    return n_seen / int(n_items)


def ranking_metrics(
    y_true: Sequence[Any], y_pred: Any, k: int = 10, *, mask: Any = None, n_items: int | None = None
) -> dict[str, float]:
    """Compute precision, recall, hit rate, NDCG and MAP at ``k`` in one pass.

    The hit matrix is built once and shared, so this is about four times faster than
    calling the metrics one by one.

    Parameters
    ----------
    y_true : sequence of array-like, of length n_users
        Relevant items of each user, aligned with the rows of ``y_pred``. Users with no
        relevant items are skipped.
    y_pred : array-like of shape (n_users, n_recommended)
        Recommended items per user, best first; ``n_recommended >= k``.
    k : int, default=10
        Cut-off.
    mask : array-like of bool of shape (n_users, n_recommended), default=None
        ``False`` marks padding slots.
    n_items : int, default=None
        Catalogue size; when given, ``coverage@k`` is included.

    Returns
    -------
    metrics : dict of str to float
        Keys ``"precision@k"``, ``"recall@k"``, ``"hr@k"``, ``"ndcg@k"``, ``"map@k"`` (with the value
        of ``k`` in place of ``k``) and, with ``n_items``, ``"coverage@k"``.

    Examples
    --------
    >>> from maaskit.metrics import ranking_metrics
    >>> m = ranking_metrics([[1, 2], [3]], [[1, 5], [3, 4]], k=2)
    >>> sorted(m)
    ['hr@2', 'map@2', 'ndcg@2', 'precision@2', 'recall@2']
    >>> m["precision@2"]
    0.5
    """
    hit, n_rel = _hits(y_true, y_pred, k, mask, "ranking_metrics")
    out = {
        f"precision@{k}": _precision(hit, n_rel),
        f"recall@{k}": _recall(hit, n_rel),
        f"hr@{k}": _hr(hit, n_rel),
        f"ndcg@{k}": _ndcg(hit, n_rel),
        f"map@{k}": _map(hit, n_rel),
    }
    if n_items is not None:
        out[f"coverage@{k}"] = coverage(y_pred, n_items, k, mask=mask)
    return out


def relevant_items_by_user(
    df: pd.DataFrame, users: Any = None, *, threshold: float | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group held-out interactions into one array of relevant items per user.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions with columns ``user`` and ``item`` (and ``rating`` if ``threshold``
        is given).
    users : array-like of shape (n_users,), default=None
        Users to return, in this order (users absent from ``df`` get an empty array).
        ``None`` returns every user of ``df``, sorted when the ids are sortable.
    threshold : float, default=None
        Only interactions with ``rating >= threshold`` are relevant.

    Returns
    -------
    users : ndarray of shape (n_users,)
        The user ids, aligned with ``items``.
    items : list of ndarray
        ``items[j]`` holds the relevant items of ``users[j]``, in ``df`` order.

    Raises
    ------
    ValueError
        If ``df`` lacks the required columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.metrics import relevant_items_by_user
    >>> test = pd.DataFrame({"user": [2, 1, 2], "item": [10, 11, 12]})
    >>> users, items = relevant_items_by_user(test)
    >>> users.tolist(), [i.tolist() for i in items]
    ([1, 2], [[11], [10, 12]])
    """
    func = "relevant_items_by_user"
    needed = ["user", "item"] + (["rating"] if threshold is not None else [])
    if not isinstance(df, pd.DataFrame) or any(c not in df.columns for c in needed):
        got = list(df.columns) if isinstance(df, pd.DataFrame) else type(df).__name__
        raise ValueError(f"{func}: df must be a DataFrame with columns {needed}; got {got!r}.")
    if threshold is not None:
        df = df[df["rating"].to_numpy() >= threshold]
    try:
        codes, uniques = pd.factorize(df["user"], sort=True)
    except TypeError:  # ids of mixed, unorderable types
        codes, uniques = pd.factorize(df["user"], sort=False)
    order = np.argsort(codes, kind="stable")
    items = df["item"].to_numpy()[order]
    counts = np.bincount(codes, minlength=len(uniques))
    groups = np.split(items, np.cumsum(counts)[:-1]) if len(uniques) else []
    known = np.asarray(uniques)
    if users is None:
        return known, groups
    users = np.asarray(users)
    if users.ndim != 1:
        raise ValueError(f"{func}: users must be 1-D; got an array of shape {users.shape!r}.")
    idx = pd.Index(uniques).get_indexer(users) if len(uniques) else np.full(len(users), -1)
    empty = items[:0]
    return users, [groups[i] if i >= 0 else empty for i in idx]
