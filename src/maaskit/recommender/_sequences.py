"""Ordered item sequences: reading them from input, and cutting them into padded windows.

A sequence store is CSR-like: ``indptr`` of shape ``(n_users + 1,)`` and ``items`` (item
indices, oldest first). Windows are *left*-padded with ``-1`` so that the newest item is
always the last column (see :mod:`maaskit.recommender._sasrec_net`).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ValidationError
from ..utils.validation import check_interactions

__all__ = ["ordered_interactions", "training_windows", "windows_per_user", "pick_windows", "last_windows",
           "split_histories"]


_SEQUENCE_TYPES = (list, tuple, np.ndarray, pd.Series, pd.Index)
_ID_TYPES = (str, bytes, numbers.Number, np.generic)
_NOT_ID_TYPES = (complex, np.complexfloating)


def _is_sequence(x: Any) -> bool:
    return isinstance(x, _SEQUENCE_TYPES)


def _bad_type(values: list) -> type | None:
    """The first element type that is not an id type (checked once per type, not per value)."""
    for t in set(map(type, values)):
        if not issubclass(t, _ID_TYPES) or issubclass(t, _NOT_ID_TYPES):
            return t
    return None


def _check_scalar_ids(seq: Any, where: str, what: str) -> np.ndarray:
    """``seq`` as a 1-D array of ids, refusing nested or unhashable elements."""
    arr = seq.to_numpy() if isinstance(seq, (pd.Series, pd.Index)) else seq
    if isinstance(arr, np.ndarray):
        if arr.ndim != 1:
            raise ValidationError(f"{where}: {what} must be a 1-D sequence of item ids; got an "
                                  f"array of shape {arr.shape}.")
        if arr.dtype != object:
            return arr
        values = list(arr)
    else:
        values = list(arr)
    bad = _bad_type(values)
    if bad is not None:
        raise ValidationError(f"{where}: {what} must hold item ids (int, str, ...); got an "
                              f"element of type {bad.__name__}.")
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def ordered_interactions(X: Any, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """User and item ids of every interaction, grouped by user and in time order.

    Parameters
    ----------
    X : DataFrame, dict or list
        A frame with user, item and timestamp columns (ties keep the row order); a dict
        mapping user id to a sequence of item ids, oldest first; or a list of such
        sequences (user ids are then the positions 0..n-1).
    where : str
        ``"<Estimator>.<method>"`` for messages.

    Returns
    -------
    users, items : ndarray of shape (n_interactions,)
        Raw ids; every user's interactions are contiguous, oldest first.
    was_pandas : bool
    """
    if isinstance(X, pd.DataFrame):
        inter = check_interactions(X, None, where=where, implicit=True)
        ts = inter.timestamps
        if ts is None:
            raise ValidationError(
                f"{where}: X must carry the order of the interactions; got a DataFrame without "
                f"a timestamp column (looked for 'timestamp', 'time', 'ts'). Add one, or pass "
                f"ordered sequences (a dict of user id -> item ids, oldest first)."
            )
        if ts.dtype.kind not in "iuf":
            try:
                ts = pd.to_numeric(pd.Series(ts)).to_numpy()
            except (TypeError, ValueError):
                raise ValidationError(f"{where}: the timestamp column must be numeric or datetime; "
                                      f"got values of type {type(ts[0]).__name__}.") from None
        ts = ts.astype(np.float64)
        if not np.all(np.isfinite(ts)):
            raise ValidationError(f"{where}: timestamps must be finite; got NaN or inf.")
        ucodes, _ = pd.factorize(inter.users)
        order = np.lexsort((np.arange(len(ts)), ts, ucodes))
        return inter.users[order], inter.items[order], True
    if isinstance(X, dict):
        keys, seqs = list(X.keys()), list(X.values())
    elif isinstance(X, (list, tuple)):
        keys, seqs = list(range(len(X))), list(X)
    else:
        raise ValidationError(
            f"{where}: X must be a DataFrame with user, item and timestamp columns, a dict of "
            f"user id -> item ids or a list of item-id sequences; got {type(X).__name__}."
        )
    users, items = [], []
    for key, seq in zip(keys, seqs):
        if not _is_sequence(seq):
            raise ValidationError(f"{where}: every sequence must be a list or 1-D array of item ids; "
                                  f"got {type(seq).__name__} for user {key!r}.")
        arr = _check_scalar_ids(seq, where, f"the sequence of user {key!r}")
        if len(arr) and pd.isna(arr).any():
            raise ValidationError(f"{where}: item ids must not be missing (None/NaN); user {key!r} has one.")
        users.append(np.full(len(arr), None, dtype=object) if len(arr) else np.empty(0, object))
        users[-1][:] = [key] * len(arr)
        items.append(arr)
    if not users or sum(len(u) for u in users) == 0:
        raise ValidationError(f"{where}: at least one interaction is required; got no items.")
    u = np.concatenate(users)
    it = np.concatenate([np.asarray(a, dtype=object) for a in items])
    # Homogeneous ids get their natural dtype back (object arrays of ints stay ints).
    u = pd.Series(u).infer_objects().to_numpy()
    it = pd.Series(it).infer_objects().to_numpy()
    return u, it, False


def training_windows(indptr: np.ndarray, items: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut every sequence into next-item windows of ``max_len`` positions.

    A sequence ``s`` of length ``n >= 2`` gives inputs ``s[:-1]`` and targets ``s[1:]``,
    cut from the newest end into chunks of ``max_len``; the oldest chunk is left-padded.
    So every interaction but a user's first is a target exactly once.

    Parameters
    ----------
    indptr : ndarray of shape (n_users + 1,)
    items : ndarray of shape (nnz,)
    max_len : int

    Returns
    -------
    ids, targets : ndarray of shape (n_windows, max_len), int64
        Left-padded with -1.
    """
    lengths = np.diff(indptr).astype(np.int64)
    n_in = np.maximum(lengths - 1, 0)
    n_win = (n_in + max_len - 1) // max_len
    first_win = np.concatenate([[0], np.cumsum(n_win)])
    total = int(first_win[-1])
    ids = np.full((total, max_len), -1, dtype=np.int64)
    targets = np.full((total, max_len), -1, dtype=np.int64)
    if total == 0:
        return ids, targets
    user = np.repeat(np.arange(len(lengths)), n_in)
    j = np.arange(int(n_in.sum())) - np.repeat(np.cumsum(n_in) - n_in, n_in)  # input position
    back = np.repeat(n_in, n_in) - 1 - j  # 0 for the newest input
    row = first_win[user] + back // max_len
    col = max_len - 1 - back % max_len
    src = indptr[user] + j
    ids[row, col] = items[src]
    targets[row, col] = items[src + 1]
    return ids, targets


def windows_per_user(indptr: np.ndarray, max_len: int) -> np.ndarray:
    """How many windows :func:`training_windows` cuts from each sequence (in its row order).

    Parameters
    ----------
    indptr : ndarray of shape (n_users + 1,)
    max_len : int

    Returns
    -------
    n_windows : ndarray of shape (n_users,), int64
        The rows of user ``u`` are ``first + k`` for ``k`` in ``range(n_windows[u])``, with
        ``first`` the sum of the earlier counts; ``k = 0`` is the newest window.
    """
    n_in = np.maximum(np.diff(indptr).astype(np.int64) - 1, 0)
    return (n_in + max_len - 1) // max_len


def pick_windows(n_windows: np.ndarray, mode: str, gen: np.random.Generator | None = None) -> np.ndarray:
    """Rows of :func:`training_windows` to train on for one epoch.

    Parameters
    ----------
    n_windows : ndarray of shape (n_users,)
        From :func:`windows_per_user`.
    mode : {"all", "last", "sample"}
        ``"all"``: every window. ``"last"``: each user's newest window. ``"sample"``: one
        window per user, the ``k``-th newest with probability proportional to ``2 ** -k``
        (a geometric draw wrapped around the user's windows), drawn afresh each call.
    gen : numpy Generator, optional
        Required for ``"sample"``.

    Returns
    -------
    rows : ndarray of shape (n_rows,), int64
    """
    total = int(n_windows.sum())
    if mode == "all":
        return np.arange(total, dtype=np.int64)
    has = np.flatnonzero(n_windows > 0)
    first = (np.cumsum(n_windows) - n_windows)[has]
    if mode == "last":
        return first.astype(np.int64)
    # Geometric(1/2) - 1 taken modulo n gives P(k) proportional to 2**-k on 0..n-1.
    k = (gen.geometric(0.5, size=len(has)) - 1) % n_windows[has]
    return (first + k).astype(np.int64)


def last_windows(indptr: np.ndarray, items: np.ndarray, rows: np.ndarray, max_len: int) -> np.ndarray:
    """The newest ``max_len`` items of the given sequences, left-padded with -1.

    Parameters
    ----------
    indptr : ndarray of shape (n_users + 1,)
    items : ndarray of shape (nnz,)
    rows : ndarray of shape (n,)
        Which sequences.
    max_len : int

    Returns
    -------
    ids : ndarray of shape (n, max_len), int64
    """
    ends = indptr[rows + 1].astype(np.int64)
    starts = np.maximum(indptr[rows].astype(np.int64), ends - max_len)
    counts = ends - starts
    out = np.full((len(rows), max_len), -1, dtype=np.int64)
    if counts.sum() == 0:
        return out
    r = np.repeat(np.arange(len(rows)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    out[r, max_len - counts[r] + k] = items[np.repeat(starts, counts) + k]
    return out


def split_histories(histories: Any, where: str) -> tuple[list[np.ndarray], bool]:
    """Read the ``histories`` argument of ``recommend_history``.

    Parameters
    ----------
    histories : sequence of sequences of item ids, or one flat sequence of item ids
        A flat sequence (its elements are ids, not sequences) is one history; an empty
        list is one empty history; a 2-D array is one history per row.
    where : str

    Returns
    -------
    histories : list of ndarray
    single : bool
        Whether the input was one flat history.
    """
    if isinstance(histories, (str, bytes)) or not _is_sequence(histories):
        raise ValidationError(
            f"{where}: histories must be a list of item-id sequences (or one flat sequence of item "
            f"ids); got {type(histories).__name__}."
        )
    if isinstance(histories, np.ndarray) and histories.ndim == 2:
        return [_check_scalar_ids(row, where, "a history") for row in histories], False
    elems = list(histories.to_numpy() if isinstance(histories, (pd.Series, pd.Index)) else histories)
    nested = [issubclass(t, _SEQUENCE_TYPES) for t in set(map(type, elems))]
    if not elems or not any(nested):
        flat = np.empty(len(elems), dtype=object)
        flat[:] = elems
        return [_check_scalar_ids(flat, where, "a history")], True
    if not all(nested):
        raise ValidationError(
            f"{where}: histories must be either one flat sequence of item ids or a list of "
            f"sequences; got a mix of ids and sequences."
        )
    return [_check_scalar_ids(h, where, f"history {i}") for i, h in enumerate(elems)], False
