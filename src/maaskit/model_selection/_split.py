"""Train/test splitters and a cross-validator for interaction data.

Every splitter takes interactions as a :class:`pandas.DataFrame` with columns ``user``,
``item`` and optionally ``rating`` and ``timestamp``, or as a 2-D NumPy array whose
columns are, in that order, ``user, item[, rating[, timestamp]]``. The splits come back
in the same type. DataFrame rows keep their index, and both parts keep the input's row
order.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterator

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ..exceptions import ValidationError

__all__ = [
    "random_split",
    "per_user_split",
    "leave_last_n_out",
    "leave_last_out",
    "filter_test_to_train",
    "InteractionKFold",
]

_ARRAY_COLUMNS = ("user", "item", "rating", "timestamp")

Data = Any  # pandas.DataFrame or numpy.ndarray of shape (n, 2..4)


def _columns(data: Data, func: str, need: tuple[str, ...] = ("user", "item")) -> dict[str, np.ndarray]:
    """Return the named columns of ``data`` as arrays, raising the contract messages."""
    if isinstance(data, pd.DataFrame):
        missing = [c for c in need if c not in data.columns]
        if missing:
            hint = " (sort-based splits need event times)" if "timestamp" in missing else ""
            raise ValidationError(
                f"{func}: data must have columns {list(need)}{hint}; got columns "
                f"{list(data.columns)!r}, missing {missing!r}."
            )
        return {c: data[c].to_numpy() for c in need}
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or not 2 <= data.shape[1] <= 4:
            raise ValidationError(
                f"{func}: data must be a DataFrame or a 2-D array with 2 to 4 columns "
                f"(user, item[, rating[, timestamp]]); got an array of shape {data.shape!r}."
            )
        if len(need) > data.shape[1]:
            raise ValidationError(
                f"{func}: an array must have {len(need)} columns ({', '.join(need)}) here; "
                f"got {data.shape[1]!r}. Pass a DataFrame with a '{need[-1]}' column instead."
            )
        return {c: data[:, _ARRAY_COLUMNS.index(c)] for c in need}
    raise ValidationError(
        f"{func}: data must be a pandas DataFrame or a 2-D numpy array; got "
        f"{type(data).__name__}."
    )


def _take(data: Data, idx: np.ndarray) -> Data:
    return data.iloc[idx] if isinstance(data, pd.DataFrame) else data[idx]


def _split_by_mask(data: Data, test_mask: np.ndarray) -> tuple[Data, Data]:
    return _take(data, np.flatnonzero(~test_mask)), _take(data, np.flatnonzero(test_mask))


def _check_test_size(test_size: object, n: int | None, func: str) -> float | int:
    if isinstance(test_size, bool):
        pass
    elif isinstance(test_size, numbers.Integral):
        if test_size >= 1 and (n is None or test_size < n):
            return int(test_size)
    elif isinstance(test_size, numbers.Real) and 0.0 < test_size < 1.0:
        return float(test_size)
    upper = f"an int in [1, {n - 1}]" if n is not None else "an int >= 1"
    raise ValueError(f"{func}: test_size must be a float in (0, 1) or {upper}; got {test_size!r}.")


def _user_codes(users: np.ndarray, func: str) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(users)
    if (codes < 0).any():
        raise ValidationError(
            f"{func}: user ids must not be missing; got {int((codes < 0).sum())} NaN/None value(s)."
        )
    return codes.astype(np.int64), len(uniques)


def _rank_within_user(codes: np.ndarray, n_users: int, order_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each row within its user by ``order_key`` (0 = smallest), and user sizes."""
    order = np.lexsort((order_key, codes))
    counts = np.bincount(codes, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    return rank, counts


def random_split(
    data: Data, test_size: float | int = 0.2, random_state: int | np.random.RandomState | None = None
) -> tuple[Data, Data]:
    """Split interactions into train and test uniformly at random.

    Parameters
    ----------
    data : pandas.DataFrame or ndarray of shape (n_interactions, 2..4)
        Interactions (``user``, ``item`` and optional ``rating``, ``timestamp``).
    test_size : float or int, default=0.2
        Fraction in ``(0, 1)`` of the rows that go to test (rounded up, as in
        :func:`sklearn.model_selection.train_test_split`), or their number.
    random_state : int, RandomState instance or None, default=None
        Seed for a reproducible split.

    Returns
    -------
    train, test : same type as ``data``
        Disjoint parts that together hold every row, each in the input's row order.

    Raises
    ------
    ValueError
        If ``data`` has no rows or ``test_size`` is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.model_selection import random_split
    >>> df = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 3, 2]})
    >>> train, test = random_split(df, test_size=0.4, random_state=0)
    >>> len(train), len(test)
    (3, 2)
    """
    func = "random_split"
    n = len(_columns(data, func)["user"])
    if n < 2:
        raise ValueError(f"{func}: data must have at least 2 rows to split; got {n!r}.")
    test_size = _check_test_size(test_size, n, func)
    n_test = int(np.ceil(test_size * n)) if isinstance(test_size, float) else test_size
    n_test = min(n_test, n - 1)
    rng = check_random_state(random_state)
    test_mask = np.zeros(n, dtype=bool)
    test_mask[rng.permutation(n)[:n_test]] = True
    return _split_by_mask(data, test_mask)


def per_user_split(
    data: Data,
    test_size: float | int = 0.2,
    min_train: int = 1,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[Data, Data]:
    """Split each user's interactions at random, so every user appears in train.

    A user with ``c`` interactions sends ``round(test_size * c)`` of them (rounding
    halves up) to test, or exactly ``test_size`` when it is an int, but never so many
    that fewer than ``min_train`` stay in train. Users with ``c <= min_train``
    interactions are kept whole in train.

    Parameters
    ----------
    data : pandas.DataFrame or ndarray of shape (n_interactions, 2..4)
        Interactions (``user``, ``item`` and optional ``rating``, ``timestamp``).
    test_size : float or int, default=0.2
        Fraction in ``(0, 1)`` of each user's interactions that go to test, or (int >= 1)
        how many of each user's interactions go to test.
    min_train : int, default=1
        Minimum number of each user's interactions kept in train.
    random_state : int, RandomState instance or None, default=None
        Seed for a reproducible split.

    Returns
    -------
    train, test : same type as ``data``
        Disjoint parts that together hold every row, each in the input's row order.

    Raises
    ------
    ValueError
        If ``test_size`` or ``min_train`` is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.model_selection import per_user_split
    >>> df = pd.DataFrame({"user": [1] * 5 + [2] * 5, "item": list(range(10))})
    >>> train, test = per_user_split(df, test_size=0.4, random_state=0)
    >>> test.groupby("user").size().tolist()
    [2, 2]
    """
    func = "per_user_split"
    users = _columns(data, func)["user"]
    test_size = _check_test_size(test_size, None, func)
    if isinstance(min_train, bool) or not isinstance(min_train, numbers.Integral) or min_train < 0:
        raise ValueError(f"{func}: min_train must be an int >= 0; got {min_train!r}.")
    codes, n_users = _user_codes(users, func)
    rng = check_random_state(random_state)
    rank, counts = _rank_within_user(codes, n_users, rng.random_sample(len(codes)))
    if isinstance(test_size, float):
        n_test = np.floor(test_size * counts + 0.5).astype(np.int64)
    else:
        n_test = np.full(n_users, test_size, dtype=np.int64)
    n_test = np.clip(np.minimum(n_test, counts - min_train), 0, None)
    return _split_by_mask(data, rank < n_test[codes])


def leave_last_n_out(data: Data, n: int = 1, *, min_train: int = 1) -> tuple[Data, Data]:
    """Send each user's ``n`` most recent interactions to test (temporal hold-out).

    Interactions are ordered by ``timestamp``; ties keep the input's row order (a later
    row counts as more recent). A user keeps at least ``min_train`` interactions in
    train, so users with ``c <= min_train`` interactions contribute nothing to test.

    Parameters
    ----------
    data : pandas.DataFrame or ndarray of shape (n_interactions, 4)
        Interactions with a ``timestamp`` column (for an array: the 4th column).
    n : int, default=1
        Number of most recent interactions per user that go to test.
    min_train : int, default=1
        Minimum number of each user's interactions kept in train.

    Returns
    -------
    train, test : same type as ``data``
        Disjoint parts that together hold every row, each in the input's row order.
        Every test interaction of a user is at least as recent as all their train ones.

    Raises
    ------
    ValueError
        If there is no timestamp column, or ``n``/``min_train`` is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.model_selection import leave_last_n_out
    >>> df = pd.DataFrame({"user": [1, 1, 1, 2, 2], "item": [1, 2, 3, 1, 2],
    ...                    "timestamp": [30, 10, 20, 5, 6]})
    >>> train, test = leave_last_n_out(df, n=1)
    >>> test["item"].tolist()
    [1, 2]
    """
    func = "leave_last_n_out"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{func}: n must be an int >= 1; got {n!r}.")
    min_train = _check_min_train(min_train, func)
    codes, rank_newest, counts = _newest_first(data, func)
    n_test = np.clip(np.minimum(n, counts - min_train), 0, None)
    return _split_by_mask(data, rank_newest < n_test[codes])


def _check_min_train(min_train: object, func: str) -> int:
    if isinstance(min_train, bool) or not isinstance(min_train, numbers.Integral) or min_train < 0:
        raise ValueError(f"{func}: min_train must be an int >= 0; got {min_train!r}.")
    return int(min_train)


def _newest_first(data: Data, func: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's user code, its rank within the user newest first (0 = most recent), and
    the users' sizes. Rows are ordered by ``timestamp``; ties keep the input's row order,
    a later row counting as more recent (a stable sort)."""
    cols = _columns(data, func, ("user", "item", "rating", "timestamp")
                    if not isinstance(data, pd.DataFrame) else ("user", "item", "timestamp"))
    ts = cols["timestamp"]
    try:
        ts = ts.astype(np.float64) if ts.dtype.kind not in "iuM" else ts
    except (TypeError, ValueError):
        raise ValidationError(
            f"{func}: timestamp must be numeric or datetime; got dtype {ts.dtype}."
        ) from None
    if ts.dtype.kind == "f" and not np.isfinite(ts).all():
        raise ValidationError(f"{func}: timestamp must be finite; got NaN or inf values.")
    if ts.dtype.kind == "M" and np.isnat(ts).any():
        raise ValidationError(f"{func}: timestamp must not be missing; got NaT values.")
    codes, n_users = _user_codes(cols["user"], func)
    order_key = np.empty(len(codes), dtype=np.int64)
    order_key[np.lexsort((np.arange(len(codes)), ts))] = np.arange(len(codes))
    rank_newest, counts = _rank_within_user(codes, n_users, -order_key)
    return codes, rank_newest, counts


def leave_last_out(
    data: Data, *, n_valid: int = 1, min_train: int = 1
) -> tuple[Data, Data, Data]:
    """Leave-one-out by time: each user's last interaction is the test item.

    The protocol of sequential recommendation (SASRec, BERT4Rec): per user, ordered by
    ``timestamp``, the most recent interaction goes to test and the ``n_valid`` before it
    to validation (carved from what would otherwise be training). Ties in ``timestamp``
    keep the input's row order: of two interactions of a user with the same time, the
    later row counts as the more recent (a stable sort, the rule of
    :func:`leave_last_n_out`).

    History rules: a user keeps at least ``min_train`` interactions in train. So a user
    with ``c`` interactions gives a test item only when ``c > min_train``, and
    ``min(n_valid, c - 1 - min_train)`` validation items (the test item comes first);
    users with ``c <= min_train`` stay whole in train and are not evaluated.

    Parameters
    ----------
    data : pandas.DataFrame or ndarray of shape (n_interactions, 4)
        Interactions with a ``timestamp`` column (for an array: the 4th column, after
        ``user, item, rating``). Timestamps are numbers or datetimes.
    n_valid : int, default=1
        How many interactions before each user's test item go to validation; ``0`` gives
        an empty validation part (same columns).
    min_train : int, default=1
        Minimum number of each user's interactions kept in train.

    Returns
    -------
    train, valid, test : same type as ``data``
        Disjoint parts that together hold every row, each in the input's row order. Per
        user, every validation interaction is at least as recent as all train ones, and
        the test interaction at least as recent as both. To evaluate a model fitted on
        train and valid together, pass ``pd.concat([train, valid])`` to ``fit``.

    Raises
    ------
    maaskit.exceptions.ValidationError
        If there is no timestamp column (the message names the columns found), or a
        timestamp or user id is missing, or a timestamp is not numeric or datetime. It is
        a ``ValueError``.
    ValueError
        If ``n_valid``/``min_train`` is out of range, or no user has more than
        ``min_train`` interactions (the test part would be empty).

    See Also
    --------
    leave_last_n_out : the ``n`` most recent interactions of each user to test.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.model_selection import leave_last_out
    >>> df = pd.DataFrame({"user": [1, 1, 1, 1, 2, 2],
    ...                    "item": [10, 11, 12, 13, 20, 21],
    ...                    "timestamp": [4, 1, 3, 2, 7, 5]})
    >>> train, valid, test = leave_last_out(df, n_valid=1)
    >>> train["item"].tolist(), valid["item"].tolist(), test["item"].tolist()
    ([11, 13, 21], [12], [10, 20])
    """
    func = "leave_last_out"
    if isinstance(n_valid, bool) or not isinstance(n_valid, numbers.Integral) or n_valid < 0:
        raise ValueError(f"{func}: n_valid must be an int >= 0; got {n_valid!r}.")
    min_train = _check_min_train(min_train, func)
    codes, rank_newest, counts = _newest_first(data, func)
    has_test = counts > min_train
    if not has_test.any():
        raise ValueError(
            f"{func}: data must have a user with more than min_train={min_train} "
            f"interactions, or the test part is empty; got at most "
            f"{int(counts.max()) if counts.size else 0} per user."
        )
    n_val = np.clip(np.minimum(n_valid, counts - 1 - min_train), 0, None)
    test_mask = (rank_newest == 0) & has_test[codes]
    valid_mask = (rank_newest >= 1) & (rank_newest <= n_val[codes])
    train_mask = ~(test_mask | valid_mask)
    return (_take(data, np.flatnonzero(train_mask)), _take(data, np.flatnonzero(valid_mask)),
            _take(data, np.flatnonzero(test_mask)))


def filter_test_to_train(train: Data, test: Data) -> Data:
    """Drop the test interactions whose user or item never appears in train.

    Most offline protocols evaluate only users and items the model could have learnt;
    this is that step. Cold-start users and items are what is dropped: evaluate them
    separately if they matter.

    Parameters
    ----------
    train : pandas.DataFrame or ndarray of shape (n_train, 2..4)
        Training interactions.
    test : pandas.DataFrame or ndarray of shape (n_test, 2..4)
        Held-out interactions.

    Returns
    -------
    test : same type as ``test``
        The rows of ``test`` whose user and item both occur in ``train``, in order.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.model_selection import filter_test_to_train
    >>> train = pd.DataFrame({"user": [1, 2], "item": [10, 20]})
    >>> test = pd.DataFrame({"user": [1, 2, 3], "item": [20, 30, 10]})
    >>> filter_test_to_train(train, test).to_dict("list")
    {'user': [1], 'item': [20]}
    """
    func = "filter_test_to_train"
    tr = _columns(train, func)
    te = _columns(test, func)
    keep = pd.Index(pd.unique(tr["user"])).get_indexer(te["user"]) >= 0
    keep &= pd.Index(pd.unique(tr["item"])).get_indexer(te["item"]) >= 0
    return _take(test, np.flatnonzero(keep))


class InteractionKFold(BaseCrossValidator):
    """K-fold cross-validator for interaction data, usable as ``cv=`` in scikit-learn.

    ``by="row"`` splits the rows like :class:`sklearn.model_selection.KFold`.
    ``by="user"`` stratifies by user: each user's interactions are dealt round-robin
    over the folds (after shuffling, when ``shuffle=True``, from a random first fold),
    so every user with at least ``n_splits`` interactions has about ``1 / n_splits`` of
    them in every test fold and the rest in train. For cold-start evaluation, where a
    user's interactions all fall in one fold, use
    :class:`sklearn.model_selection.GroupKFold` with ``groups=data["user"]``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=True
        Shuffle the rows (``by="row"``) or each user's interactions (``by="user"``)
        before dealing them into folds.
    random_state : int, RandomState instance or None, default=None
        Seed used when ``shuffle=True``; pass an int for the same folds on every call.
    by : {"row", "user"}, default="row"
        How to form folds; see above.

    Examples
    --------
    >>> import pandas as pd
    >>> from maaskit.model_selection import InteractionKFold
    >>> df = pd.DataFrame({"user": [1, 1, 1, 2, 2, 2], "item": [1, 2, 3, 1, 2, 3]})
    >>> cv = InteractionKFold(n_splits=3, random_state=0, by="user")
    >>> [sorted(df["user"].iloc[test]) for _, test in cv.split(df)]
    [[1, 2], [1, 2], [1, 2]]
    """

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True,
                 random_state: int | np.random.RandomState | None = None, by: str = "row") -> None:
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state
        self.by = by

    def _check_params(self) -> None:
        name = type(self).__name__
        n = self.n_splits
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
            raise ValueError(f"The 'n_splits' parameter of {name} must be an int in the range [2, inf). Got {n!r} instead.")
        if self.by not in ("row", "user"):
            raise ValueError(f"The 'by' parameter of {name} must be a str among {{'row', 'user'}}. Got {self.by!r} instead.")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise ValueError(f"The 'shuffle' parameter of {name} must be an instance of 'bool'. Got {self.shuffle!r} instead.")

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of folds.

        Parameters
        ----------
        X : object, default=None
            Ignored; present for API compatibility.
        y : object, default=None
            Ignored.
        groups : object, default=None
            Ignored.

        Returns
        -------
        n_splits : int
            ``self.n_splits``.
        """
        return int(self.n_splits)

    def _fold_of_rows(self, X: Any, groups: Any) -> np.ndarray:
        self._check_params()
        name = type(self).__name__
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        if n < self.n_splits:
            raise ValueError(
                f"{name}.split: X must have at least n_splits={self.n_splits} rows; got {n!r}."
            )
        rng = check_random_state(self.random_state) if self.shuffle else None
        if self.by == "row":
            order = rng.permutation(n) if rng is not None else np.arange(n)
            sizes = np.full(self.n_splits, n // self.n_splits)
            sizes[: n % self.n_splits] += 1
            fold = np.empty(n, dtype=np.int64)
            fold[order] = np.repeat(np.arange(self.n_splits), sizes)
            return fold
        if groups is not None:
            users = np.asarray(groups)
            if users.shape != (n,):
                raise ValueError(
                    f"{name}.split: groups must have shape ({n},) to match X; got {users.shape!r}."
                )
        else:
            try:
                users = _columns(X, f"{name}.split")["user"]
            except ValueError:
                raise ValueError(
                    f"{name}.split: by='user' needs user ids: X must be a DataFrame with a "
                    f"'user' column or an array whose first column is the user; got "
                    f"{type(X).__name__}. Or pass groups=<user ids>."
                ) from None
        codes, n_users = _user_codes(users, f"{name}.split")
        key = rng.random_sample(n) if rng is not None else np.arange(n)
        rank, _ = _rank_within_user(codes, n_users, key)
        offset = rng.randint(self.n_splits, size=n_users) if rng is not None else np.zeros(n_users, dtype=np.int64)
        return (rank + offset[codes]) % self.n_splits

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate train and test row indices for each fold.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_interactions, n_columns)
            Interactions; with ``by="user"``, a ``user`` column (or first array column).
        y : array-like of shape (n_interactions,), default=None
            Ignored; present for API compatibility.
        groups : array-like of shape (n_interactions,), default=None
            With ``by="user"``: the user id of each row, used instead of reading it from
            ``X``. Ignored with ``by="row"``.

        Yields
        ------
        train : ndarray of int
            Positional indices of the training rows, sorted.
        test : ndarray of int
            Positional indices of the test rows, sorted.
        """
        fold = self._fold_of_rows(X, groups)
        for f in range(self.n_splits):
            test = fold == f
            yield np.flatnonzero(~test), np.flatnonzero(test)
