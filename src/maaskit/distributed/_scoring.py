"""Batch scoring on Dask: top-k recommendations and ``predict`` partition by partition.

The fitted model is shipped to the cluster once (``client.scatter(model, broadcast=True)``
when a ``distributed`` client is active, else one ``dask.delayed`` leaf that every partition
task depends on), never once per partition. Each partition is scored by the model's own
in-process method, so the answers are those of the in-process call.
"""

from __future__ import annotations

import copy
import numbers
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

import dask
import dask.array as da
import dask.dataframe as dd

__all__ = ["recommend_batch", "predict_batch"]

#: Rows per partition when the input is an in-memory array or frame. Top-10 for 100k users
#: x 10k items is seconds of work, so scheduling overhead (milliseconds per task) is
#: negligible, while 1M users still make 10 partitions to spread; 25k was no faster in
#: ``benchmarks/bench_distributed.py`` (see its output for the measured table).
DEFAULT_PARTITION_SIZE = 100_000


def _active_client(client: Any) -> Any:
    """Return ``client``, else the default ``distributed`` client, else None."""
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except ValueError:  # no client: fall back to dask's local scheduler
        return None


def _ship(model: Any, client: Any) -> Any:
    """Put ``model`` on the cluster once; return a handle usable as a task argument."""
    client = _active_client(client)
    if client is not None:
        # broadcast: every worker gets its copy now, so no partition task waits for a transfer.
        return client.scatter(model, broadcast=True, hash=False)
    return dask.delayed(model, pure=False, traverse=False)


def _check_partition_size(partition_size: Any, where: str) -> int:
    if (isinstance(partition_size, bool) or not isinstance(partition_size, numbers.Integral)
            or partition_size < 1):
        raise ValueError(f"{where}: partition_size must be a positive int; got {partition_size!r}.")
    return int(partition_size)


def _write_parquet(frame: dd.DataFrame, output: Any) -> str:
    path = os.fspath(output)
    frame.to_parquet(path, write_index=False)
    return path


# ---------------------------------------------------------------------- recommend_batch
def _users_series(users: Any, user_column: str, partition_size: int, where: str) -> dd.Series:
    if isinstance(users, dd.DataFrame):
        cols = list(users.columns)
        if user_column in cols:
            return users[user_column]
        if len(cols) == 1:
            return users[cols[0]]
        raise ValueError(
            f"{where}: users must have a {user_column!r} column (or a single column); got {cols!r}."
        )
    if isinstance(users, dd.Series):
        return users
    if isinstance(users, da.Array):
        if users.ndim != 1:
            raise ValueError(f"{where}: users must be 1-D; got an array of shape {users.shape}.")
        return dd.from_dask_array(users, columns=user_column)
    if isinstance(users, pd.DataFrame):
        return _users_series(dd.from_pandas(users, chunksize=partition_size), user_column,
                             partition_size, where)
    values = users if isinstance(users, (pd.Series, pd.Index)) else np.asarray(users)
    if np.ndim(values) != 1:
        raise ValueError(f"{where}: users must be 1-D; got shape {np.shape(values)}.")
    series = pd.Series(np.asarray(values), name=user_column)
    return dd.from_pandas(series, chunksize=partition_size, sort=False)


def _recommend_partition(part: pd.Series, model: Any, n: int, exclude_seen: bool, items: Any,
                         item_dtype: np.dtype) -> pd.DataFrame:
    """Top-``n`` for one partition, as ``model.recommend(part, output="pandas")`` would give.

    Unknown users are answered here with the model's popularity fallback instead of by
    ``recommend``, so that no ``ColdStartWarning`` is raised on the workers (the ``fallback``
    column flags those users, and warnings raised in worker threads are either lost in
    worker logs or, under ``-W error``, fail the task).
    """
    user_ids = part.to_numpy()
    uidx = model.user_index_.lookup(user_ids)
    cold = uidx < 0
    m = len(user_ids)
    n = min(n, model.n_items_ if items is None else len(items))  # capped, as recommend does
    ids = np.empty((m, n), dtype=object)
    scores = np.full((m, n), np.nan, dtype=np.float32)
    popularity = np.full((m, n), np.nan)
    valid = np.zeros((m, n), dtype=bool)
    if (~cold).any():
        kid, ksc = model.recommend(user_ids[~cold], n=n, exclude_seen=exclude_seen, items=items,
                                   output="numpy")
        kid, ksc = np.atleast_2d(kid), np.atleast_2d(ksc)
        # recommend drops empty columns and pads short rows with NaN scores.
        rows, cols = np.flatnonzero(~cold)[:, None], np.arange(kid.shape[1])
        ids[rows, cols], scores[rows, cols] = kid, ksc
        valid[rows, cols] = np.isfinite(ksc)
    if cold.any():
        # As recommend: ranked by popularity, score NaN, the counts in their own column.
        pop = model.item_popularity_
        cand = None
        if items is not None:
            cand = model.item_index_.get_codes(items)
            pop = pop[cand]
        order = np.argsort(-pop, kind="stable")[:n]
        codes = order if cand is None else cand[order]
        ids[cold] = model.item_index_.ids[codes]
        popularity[cold] = pop[order]
        valid[cold] = True
    rows = np.repeat(np.arange(m), n).reshape(m, n)
    frame = pd.DataFrame({
        "user": user_ids[rows[valid]],
        "item": pd.Series(ids[valid]).astype(item_dtype),
        "score": scores[valid].astype(np.float64),
        "rank": np.tile(np.arange(1, n + 1), m).reshape(m, n)[valid],
        "fallback": np.repeat(cold, n).reshape(m, n)[valid],
        "popularity": popularity[valid],
    })
    if part.dtype != object:
        frame["user"] = frame["user"].astype(part.dtype)
    return frame


def recommend_batch(model: Any, users: Any, n: int = 10, *, exclude_seen: bool = True,
                    items: Any = None, output: Any = None, client: Any = None,
                    partition_size: int = DEFAULT_PARTITION_SIZE,
                    user_column: str = "user", n_jobs: int | None = 1) -> Any:
    """Top-``n`` recommendations for many users on a Dask cluster, partition by partition.

    Each partition gets exactly the rows ``model.recommend(users, output="pandas")`` gives
    for its users. The model is shipped once per worker. Unknown users get the popularity
    fallback, flagged in the ``fallback`` column (no ``ColdStartWarning`` is raised on the
    workers).

    Parameters
    ----------
    model : fitted maaskit recommender
        Any :class:`~maaskit.recommender` model (``ALS``, ``MatrixFactorization``, ...).
    users : dask DataFrame, dask Series, 1-D dask array, or array-like of user ids
        The users to score. A frame must have a ``user_column`` column (or a single
        column). In-memory input is split into partitions of ``partition_size`` users.
    n : int, default=10
        Items per user.
    exclude_seen : bool, default=True
        Leave out items the user interacted with in training.
    items : array-like of item ids, default=None
        Restrict recommendations to these candidate items.
    output : str or path-like, default=None
        A Parquet path (a directory, one file per partition): the recommendations are
        computed and written there. ``None`` returns the lazy dask DataFrame.
    client : distributed.Client, default=None
        Client to ship the model with; ``None`` uses the default client if one exists,
        else dask's local scheduler.
    partition_size : int, default=100_000
        Users per partition for in-memory ``users``.
    user_column : str, default="user"
        Column holding the user ids in a frame ``users``.
    n_jobs : int or None, default=1
        Kernel threads per partition task, set on the shipped copy of the model. Dask
        already runs one task per worker thread, so 1 avoids oversubscribing the cores;
        ``None`` keeps the model's own ``n_jobs``.

    Returns
    -------
    recommendations : dask DataFrame or str
        Columns ``user``, ``item``, ``score``, ``rank``, ``fallback``, ``popularity`` (one row per
        recommendation, as :meth:`~maaskit.recommender.ALS.recommend` with pandas output);
        or the Parquet path when ``output`` is given.
    """
    where = "recommend_batch"
    if not hasattr(model, "recommend") or not hasattr(model, "user_index_"):
        raise TypeError(
            f"{where}: model must be a fitted maaskit recommender; got {type(model).__name__}."
        )
    partition_size = _check_partition_size(partition_size, where)
    series = _users_series(users, user_column, partition_size, where)
    # Validates n, items and exclude_seen with the model's own messages, and yields the
    # output schema.
    meta = model.recommend(pd.Series(series._meta.to_numpy(), name="user"), n=n,
                           exclude_seen=exclude_seen, items=items, output="pandas")
    meta["user"] = meta["user"].astype(series._meta.dtype)
    # An empty frame cannot tell string ids from other objects; one id can (Parquet needs it).
    item_dtype = pd.Series(model.item_index_.ids[:1]).dtype
    meta["item"] = meta["item"].astype(item_dtype)
    if n_jobs is not None and "n_jobs" in model.get_params():
        # A shallow copy shares the fitted arrays; only the thread setting differs.
        model = copy.copy(model)
        model.n_jobs = n_jobs
    handle = _ship(model, client)
    frame = series.map_partitions(_recommend_partition, handle, n, exclude_seen, items, item_dtype,
                                  meta=meta, align_dataframes=False)
    if output is None:
        return frame
    return _write_parquet(frame, output)


# ---------------------------------------------------------------------- predict_batch
def _apply(model: Any, method: str, X: Any) -> np.ndarray:
    return np.asarray(getattr(model, method)(X))


def _array_block(block: np.ndarray, model: Any, method: str, two_d: bool) -> np.ndarray:
    out = _apply(model, method, block)
    return out if two_d else out.reshape(len(block))


def _frame_partition(part: pd.DataFrame, model: Any, method: str, meta: Any) -> Any:
    out = _apply(model, method, part)
    if isinstance(meta, pd.Series):
        return pd.Series(out.reshape(len(part)), index=part.index, name=meta.name, dtype=meta.dtype)
    return pd.DataFrame(out, index=part.index, columns=meta.columns).astype(meta.dtypes.to_dict())


def _sample_output(model: Any, method: str, sample: Any) -> np.ndarray:
    # Runs on the client to learn the output's dtype and width; cold-start or conversion
    # warnings about the fake sample rows mean nothing to the caller.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _apply(model, method, sample)


def _frame_meta(out: np.ndarray, method: str) -> Any:
    if out.ndim == 1:
        name = "prediction" if method == "predict" else method
        return pd.Series(np.empty(0, dtype=out.dtype), name=name)
    cols = [f"{method}_{j}" for j in range(out.shape[1])]
    return pd.DataFrame(np.empty((0, out.shape[1]), dtype=out.dtype), columns=cols)


def predict_batch(estimator: Any, X: Any, *, method: str = "predict", output: Any = None,
                  client: Any = None, partition_size: int = DEFAULT_PARTITION_SIZE) -> Any:
    """Apply a fitted estimator's ``predict`` (or another method) to a Dask collection.

    Each block or partition is passed to the estimator's own in-process method, so the
    result equals the in-process call on the concatenated data. The estimator is shipped
    once per worker. Works for every estimator with the method: maaskit's and
    scikit-learn's alike.

    Parameters
    ----------
    estimator : fitted estimator
        Anything with ``method``: a classifier, regressor, transformer, or a maaskit
        recommender (whose ``predict`` takes user/item pairs).
    X : dask Array, dask DataFrame, or array-like / DataFrame
        Samples. A dask array is rechunked to whole rows (one chunk along the columns).
        In-memory input is split into partitions of ``partition_size`` rows.
    method : str, default="predict"
        Method to call, e.g. ``"predict_proba"``, ``"decision_function"``, ``"transform"``.
    output : str or path-like, default=None
        A Parquet path: the results are computed and written there (column
        ``prediction`` for a 1-D ``predict``, ``<method>_<j>`` for 2-D outputs). ``None``
        returns the lazy dask collection.
    client : distributed.Client, default=None
        Client to ship the estimator with; ``None`` uses the default client if one
        exists, else dask's local scheduler.
    partition_size : int, default=100_000
        Rows per partition for in-memory ``X``.

    Returns
    -------
    result : dask Array, dask Series, dask DataFrame or str
        A dask array for array input, a Series (1-D results) or DataFrame (2-D) aligned
        with the input's index for frame input, or the Parquet path when ``output`` is
        given.
    """
    where = "predict_batch"
    if not isinstance(method, str) or not callable(getattr(estimator, method, None)):
        raise TypeError(
            f"{where}: estimator must have a {method!r} method; got {type(estimator).__name__}."
        )
    partition_size = _check_partition_size(partition_size, where)
    if isinstance(X, pd.DataFrame):
        X = dd.from_pandas(X, chunksize=partition_size, sort=False)
    elif not isinstance(X, (da.Array, dd.DataFrame)):
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"{where}: X must be 2-D; got shape {arr.shape}.")
        X = da.from_array(arr, chunks=(partition_size, arr.shape[1]))

    if isinstance(X, dd.DataFrame):
        try:
            sample = _sample_output(estimator, method, X._meta_nonempty)
        except Exception:  # dask's fake sample rows may be invalid input: use real ones
            sample = _sample_output(estimator, method, X.head(2, npartitions=-1))
        meta = _frame_meta(sample, method)
        handle = _ship(estimator, client)
        result = X.map_partitions(_frame_partition, handle, method, meta, meta=meta,
                                  align_dataframes=False)
        if output is None:
            return result
        return _write_parquet(result.to_frame() if isinstance(meta, pd.Series) else result, output)

    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D; got shape {X.shape}.")
    X = X.rechunk({1: -1})
    sample = _sample_output(estimator, method, X[:2].compute())
    two_d = sample.ndim == 2
    handle = _ship(estimator, client)
    if two_d:
        result = X.map_blocks(_array_block, handle, method, True, dtype=sample.dtype,
                              chunks=(X.chunks[0], (sample.shape[1],)))
    else:
        result = X.map_blocks(_array_block, handle, method, False, dtype=sample.dtype,
                              drop_axis=1)
    if output is None:
        return result
    meta = _frame_meta(sample, method)
    if two_d:
        frame = dd.from_dask_array(result, columns=list(meta.columns))
    else:
        frame = dd.from_dask_array(result, columns=meta.name).to_frame()
    return _write_parquet(frame, output)
