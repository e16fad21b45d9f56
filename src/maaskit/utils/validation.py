"""Validation of interaction data, ids and devices, raising the contract messages."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["Interactions", "check_interactions", "check_is_fitted", "USER_COLUMNS", "ITEM_COLUMNS", "RATING_COLUMNS"]

# Accepted column names, first one canonical. Anything else in a frame is an error so that a
# typo ("ratings") never silently turns explicit data into implicit data.
USER_COLUMNS = ("user", "user_id", "userId")
ITEM_COLUMNS = ("item", "item_id", "itemId", "movieId")
RATING_COLUMNS = ("rating", "weight", "value", "count")
TIMESTAMP_COLUMNS = ("timestamp", "time", "ts")


@dataclass
class Interactions:
    """Interactions in coordinate form, ids as given.

    Attributes
    ----------
    users, items : ndarray of shape (n,)
        External ids (or row/column positions for sparse input).
    values : ndarray of shape (n,), dtype float64
        Ratings or weights (ones when the input had none).
    timestamps : ndarray of shape (n,) or None
    has_values : bool
        Whether the input carried ratings/weights.
    source : {"pandas", "array", "sparse"}
    shape : tuple of int or None
        ``(n_users, n_items)`` for sparse input.
    """

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray | None
    has_values: bool
    source: str
    shape: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.values)


def _pick(columns: list, names: tuple[str, ...]) -> str | None:
    found = [c for c in names if c in columns]
    return found[0] if found else None


def check_interactions(
    X: Any,
    y: Any = None,
    *,
    where: str,
    implicit: bool,
    require_values: bool = False,
    allow_empty: bool = False,
) -> Interactions:
    """Validate user/item interactions given as a DataFrame, an array or a sparse matrix.

    Parameters
    ----------
    X : DataFrame, array-like of shape (n, 2) or (n, 3), or sparse matrix
        A frame with ``user`` and ``item`` columns (plus optional ``rating`` and
        ``timestamp``); an array whose columns are user, item[, rating]; or a scipy.sparse
        matrix of shape (n_users, n_items), rows always users.
    y : array-like of shape (n,), default=None
        Ratings, when not part of ``X``.
    where : str
        ``"<Estimator>.<method>"``, the prefix of every message.
    implicit : bool
        Whether values are implicit-feedback weights (must be >= 0).
    require_values : bool, default=False
        Raise when no ratings are given (explicit models).
    allow_empty : bool, default=False
        Accept zero interactions.

    Returns
    -------
    interactions : Interactions
    """
    timestamps = None
    shape = None
    has_values = True
    if X is None:
        raise TypeError(f"{where}: X must be a DataFrame, an (n, 2)/(n, 3) array or a sparse matrix; got None.")
    if isinstance(X, pd.DataFrame):
        source = "pandas"
        cols = list(X.columns)
        ucol, icol, rcol, tcol = check_columns(cols, where)
        users = X[ucol].to_numpy()
        items = X[icol].to_numpy()
        if rcol is not None:
            values = _numeric(X[rcol].to_numpy(), f"{where}: column {rcol!r}")
        else:
            values, has_values = np.ones(len(X)), False
        if tcol is not None:
            timestamps = X[tcol].to_numpy()
            if np.issubdtype(timestamps.dtype, np.datetime64):
                timestamps = timestamps.astype("datetime64[s]").astype(np.int64)
    elif sp.issparse(X):
        source = "sparse"
        coo = sp.coo_matrix(X)
        coo.sum_duplicates()
        shape = (int(coo.shape[0]), int(coo.shape[1]))
        users, items = coo.row.astype(np.int64), coo.col.astype(np.int64)
        values = _numeric(coo.data, f"{where}: sparse matrix data")
        # Explicit zeros stored in a sparse matrix carry no interaction for implicit data.
        if implicit:
            keep = values != 0
            users, items, values = users[keep], items[keep], values[keep]
    else:
        source = "array"
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(
                f"{where}: X must be a DataFrame, an (n, 2)/(n, 3) array or a sparse matrix; "
                f"got {type(X).__name__}."
            )
        arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise ValueError(
                f"{where}: an array X must have shape (n, 2) [user, item] or (n, 3) "
                f"[user, item, rating]; got shape {arr.shape}."
            )
        users, items = arr[:, 0], arr[:, 1]
        if arr.dtype != object:
            users, items = users.copy(), items.copy()
        if arr.shape[1] == 3:
            values = _numeric(arr[:, 2], f"{where}: the rating column of X")
        else:
            values, has_values = np.ones(len(arr)), False
    if y is not None:
        if has_values:
            raise ValueError(f"{where}: ratings were given both in X and as y; give them once.")
        values = _numeric(np.asarray(y).ravel(), f"{where}: y")
        if len(values) != len(users):
            raise ValueError(
                f"{where}: y must have one rating per interaction; got {len(values)} ratings "
                f"for {len(users)} interactions."
            )
        has_values = True
    if len(values) == 0 and not allow_empty:
        raise ValueError(f"{where}: at least one interaction is required; got an empty input.")
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise ValueError(
            f"{where}: ratings must be finite; got {bad} NaN or inf value(s). Drop or impute them."
        )
    if implicit and len(values) and values.min() < 0:
        raise ValueError(
            f"{where}: implicit-feedback weights must be >= 0; got minimum {values.min()!r}."
        )
    if require_values and not has_values:
        raise ValueError(
            f"{where}: this model needs explicit ratings (a 'rating' column, a third array "
            f"column or y); got user/item pairs only."
        )
    for name, col in (("user", users), ("item", items)):
        if col.dtype == object and len(col) and pd.isna(col).any():
            raise ValueError(f"{where}: {name} ids must not be missing (None/NaN).")
        if col.dtype.kind == "f":
            if not np.all(np.isfinite(col)):
                raise ValueError(f"{where}: {name} ids must not be NaN or inf.")
            if np.all(col == np.round(col)):
                col = col.astype(np.int64)
                if name == "user":
                    users = col
                else:
                    items = col
    return Interactions(users, items, values.astype(np.float64, copy=False), timestamps, has_values, source, shape)


# Column names users give to ratings, and what the rename should be.
_RATING_LIKE = ("score", "stars", "star", "ratings", "grade", "note", "points", "preference",
                "like", "likes", "plays", "play_count", "views", "clicks", "watches")
_ROLE_NAMES = ("user", "item", "rating", "timestamp")


def _rename_help(cols: list, where: str) -> str:
    """The fix for a frame whose columns we do not recognise: a rename, or ``columns=``."""
    front_door = where.split(".")[0].startswith("Recommender")
    if all(isinstance(c, numbers.Integral) for c in cols) and 2 <= len(cols) <= 4:
        # A headerless frame (pd.read_csv(header=None), a NumPy array turned frame).
        names = list(_ROLE_NAMES[: len(cols)])
        mapping = dict(zip(names, cols))
        fix = f"name them: df.columns = {names!r}"
        if front_door:
            fix += f", or pass Recommender(columns={mapping!r})"
        return f"the DataFrame has no column names (columns {cols!r}); {fix}."
    rename = {}
    for c in cols:
        if not isinstance(c, str) or c in USER_COLUMNS + ITEM_COLUMNS + RATING_COLUMNS + TIMESTAMP_COLUMNS:
            continue
        low = c.lower()
        if low in _RATING_LIKE or "rating" in low or "score" in low:
            rename[c] = "rating"
        elif low.startswith(("user", "customer", "member", "viewer", "account", "profile")):
            rename[c] = "user"
        elif low.startswith(("item", "movie", "film", "title", "show", "song", "track", "product")):
            rename[c] = "item"
        elif low in ("date", "datetime", "when", "time_stamp", "created_at", "watched_at"):
            rename[c] = "timestamp"
    if rename:
        fix = f"rename: df.rename(columns={rename!r})"
        if front_door:
            fix += f", or pass Recommender(columns={ {v: k for k, v in rename.items()}!r})"
        return fix + "."
    fix = "select the columns to use, e.g. df[['user', 'item', 'rating']]"
    if front_door:
        fix += ", or map yours with Recommender(columns={'user': ..., 'item': ..., 'rating': ...})"
    return fix + "."


def check_columns(cols: list, where: str) -> tuple[Any, Any, Any, Any]:
    """Find the user, item, rating and timestamp columns of an interactions frame.

    Parameters
    ----------
    cols : list
        The frame's column labels.
    where : str
        Message prefix; ``"Recommender (auto).fit"`` adds the ``columns=`` fix.

    Returns
    -------
    user, item, rating, timestamp : column label or None
        ``rating`` and ``timestamp`` are None when absent.

    Raises
    ------
    ValueError
        When the user or item column is missing or a column is not recognised; the message
        suggests the rename (``score`` -> ``rating``) or the ``columns=`` mapping.
    """
    ucol, icol = _pick(cols, USER_COLUMNS), _pick(cols, ITEM_COLUMNS)
    rcol, tcol = _pick(cols, RATING_COLUMNS), _pick(cols, TIMESTAMP_COLUMNS)
    if ucol is None or icol is None:
        raise ValueError(
            f"{where}: the DataFrame must have a user column ({'/'.join(USER_COLUMNS)}) and "
            f"an item column ({'/'.join(ITEM_COLUMNS)}); got columns {cols!r}. "
            + _rename_help(cols, where)[:1].upper() + _rename_help(cols, where)[1:]
        )
    unknown = [c for c in cols if c not in (ucol, icol, rcol, tcol)]
    if unknown:
        raise ValueError(
            f"{where}: unknown column(s) {unknown!r}; expected user, item and optionally "
            f"rating ({'/'.join(RATING_COLUMNS)}) and timestamp. "
            + _rename_help(unknown, where)[:1].upper() + _rename_help(unknown, where)[1:]
        )
    return ucol, icol, rcol, tcol


def _numeric(values: np.ndarray, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric; got values like {values[:3]!r}.") from None


def check_pairs(X: Any, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate user/item pairs for ``predict``.

    Parameters
    ----------
    X : DataFrame with user and item columns, or array-like of shape (n, 2)
        Extra columns (rating, timestamp) in a frame are ignored so that a test split can be
        passed as is.
    where : str
        Message prefix.

    Returns
    -------
    users, items : ndarray of shape (n,)
    was_pandas : bool
    """
    if isinstance(X, pd.DataFrame):
        cols = list(X.columns)
        ucol, icol = _pick(cols, USER_COLUMNS), _pick(cols, ITEM_COLUMNS)
        if ucol is None or icol is None:
            raise ValueError(f"{where}: the DataFrame must have user and item columns; got {cols!r}.")
        return X[ucol].to_numpy(), X[icol].to_numpy(), True
    arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{where}: X must have shape (n, 2) [user, item]; got shape {arr.shape}.")
    users, items = arr[:, 0], arr[:, 1]
    if arr.dtype.kind == "f":
        users, items = users.astype(np.int64), items.astype(np.int64)
    return users, items, False


def check_is_fitted(estimator: Any, attributes: Any = None, *, where: str | None = None) -> None:
    """scikit-learn's ``check_is_fitted``, raising maaskit's :class:`~maaskit.exceptions.NotFittedError`.

    maaskit's error is a subclass of scikit-learn's, so code catching either keeps working,
    and every maaskit estimator raises the same class before ``fit``.

    Parameters
    ----------
    estimator : estimator
    attributes : str or list of str, default=None
        Fitted attributes to look for; ``None`` looks for any attribute ending in ``_``.
    where : str, default=None
        ``"<Estimator>.<method>"`` for the message.

    Raises
    ------
    NotFittedError
    """
    from sklearn.exceptions import NotFittedError as SkNotFittedError
    from sklearn.utils.validation import check_is_fitted as sk_check_is_fitted

    from ..exceptions import NotFittedError

    try:
        sk_check_is_fitted(estimator, attributes)
    except SkNotFittedError:
        name = type(estimator).__name__
        prefix = f"{where}: " if where else ""
        raise NotFittedError(f"{prefix}this {name} instance is not fitted yet. Call 'fit' with "
                             "appropriate arguments before using this estimator.") from None
