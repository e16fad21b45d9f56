"""Block helpers shared by the distributed ALS and MF: validation, id encoding, splits, finish.

Both :mod:`._als` and :mod:`._mf` import from here, and :mod:`._fit` (the entry point)
imports them: the arrows point one way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import dask.dataframe as dd

from ..utils._ids import IdIndex
from ..utils.validation import (
    ITEM_COLUMNS,
    RATING_COLUMNS,
    TIMESTAMP_COLUMNS,
    USER_COLUMNS,
    _pick,
    check_interactions,
)

WHERE = "fit_distributed"


# ---------------------------------------------------------------------- worker-side tasks
def _validate_partition(df: pd.DataFrame, implicit: bool, require_values: bool) -> tuple:
    """Validate one partition with the in-process rules; return ``(users, items, values)``."""
    inter = check_interactions(df, where=WHERE, implicit=implicit, require_values=require_values,
                               allow_empty=True)
    return inter.users, inter.items, inter.values.astype(np.float32)


def _partition_summary(part: tuple) -> dict:
    users, items, values = part
    return {
        "users": pd.unique(users), "items": pd.unique(items), "n": len(values),
        "sum": float(values.astype(np.float64).sum()),
        "min": float(values.min()) if len(values) else np.inf,
        "max": float(values.max()) if len(values) else -np.inf,
    }


def _merge_summaries(summaries: list[dict]) -> dict:
    # Concatenating the per-partition first-appearance orders and de-duplicating again gives
    # the first-appearance order of the whole frame: the codes of the in-process ``fit``.
    def _unique(key: str) -> np.ndarray:
        parts = [s[key] for s in summaries if len(s[key])]
        return pd.unique(np.concatenate(parts)) if parts else np.empty(0)

    return {
        "users": _unique("users"), "items": _unique("items"),
        "n": sum(s["n"] for s in summaries), "sum": sum(s["sum"] for s in summaries),
        "min": min(s["min"] for s in summaries), "max": max(s["max"] for s in summaries),
    }


def _encode(part: tuple, user_index: pd.Index, item_index: pd.Index) -> tuple:
    users, items, values = part
    u = user_index.get_indexer(users).astype(np.int32)
    i = item_index.get_indexer(items).astype(np.int32)
    return u, i, values


def _split(coded: tuple, keys: np.ndarray, n_keys: int) -> list[tuple]:
    """Split ``(u, i, r)`` by ``keys`` into ``n_keys`` pieces, keeping the row order."""
    u, i, r = coded
    order = np.argsort(keys, kind="stable")
    cuts = np.searchsorted(keys[order], np.arange(n_keys + 1))
    return [(u[order[a:b]], i[order[a:b]], r[order[a:b]]) for a, b in zip(cuts[:-1], cuts[1:])]


def _split_by_users(coded: tuple, n_user_blocks: int) -> list[tuple]:
    return _split(coded, coded[0] % n_user_blocks, n_user_blocks)


def _split_by_items(coded: tuple, n_item_blocks: int) -> list[tuple]:
    return _split(coded, coded[1] % n_item_blocks, n_item_blocks)


def _split_by_cells(coded: tuple, n_blocks: int) -> list[tuple]:
    keys = (coded[0] % n_blocks) * n_blocks + coded[1] % n_blocks
    return _split(coded, keys, n_blocks * n_blocks)


def _concat(pieces: list[tuple]) -> tuple:
    return tuple(np.concatenate([p[k] for p in pieces]) for k in range(3))


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    R = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=shape)
    R.sum_duplicates()
    R.sort_indices()
    return R


def _popularity(coded: tuple, n_items: int) -> np.ndarray:
    return np.bincount(coded[1], minlength=n_items).astype(np.float64)


def _sum(arrays: list[np.ndarray]) -> np.ndarray:
    out = arrays[0].copy()
    for a in arrays[1:]:
        out += a
    return out


def worker_threads() -> int:
    """Threads of the worker running the current task (1 outside a worker)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ValueError, AttributeError):
        return 1


# ---------------------------------------------------------------------- client side
def block_size(n: int, n_blocks: int, b: int) -> int:
    """Rows of block ``b`` when codes ``0..n-1`` are dealt round-robin to ``n_blocks`` blocks.

    Block ``b`` holds codes ``b, b + n_blocks, ...`` (local row ``c // n_blocks``), as
    MLlib's hash partitioning: codes follow first appearance, which correlates with
    popularity, so contiguous ranges would give one block most of the interactions.
    """
    return len(range(b, n, n_blocks))


def interleave(blocks: list[np.ndarray], n: int) -> np.ndarray:
    """Stack per-block rows back into global code order (inverse of the round-robin deal)."""
    P = len(blocks)
    out = np.empty((n,) + blocks[0].shape[1:], dtype=blocks[0].dtype)
    for b, block in enumerate(blocks):
        out[b::P] = block
    return out


class Prepared:
    """Interactions persisted, validated and coded on the workers, with their summary.

    Attributes
    ----------
    coded : list of Future
        Per input partition, ``(user_codes, item_codes, values)`` (int32, int32, float32).
    user_index, item_index : IdIndex
        Ids in first-appearance order (as the in-process ``fit``).
    n, total, vmin, vmax : int, float, float, float
        Interaction count, sum, minimum and maximum of the values.
    """

    def __init__(self, coded, user_index, item_index, n, total, vmin, vmax):
        self.coded = coded
        self.user_index = user_index
        self.item_index = item_index
        self.n, self.total, self.vmin, self.vmax = n, total, vmin, vmax


def _as_dask_frame(X: Any, client: Any) -> dd.DataFrame:
    if isinstance(X, dd.DataFrame):
        return X
    if isinstance(X, pd.DataFrame):
        n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        return dd.from_pandas(X, npartitions=max(1, min(len(X), 2 * n_workers)), sort=False)
    raise TypeError(
        f"{WHERE}: X must be a dask or pandas DataFrame with user and item columns; "
        f"got {type(X).__name__}."
    )


def prepare(X: Any, client: Any, implicit: bool) -> Prepared:
    """Persist, validate and code the interactions of ``X`` on the workers."""
    X = _as_dask_frame(X, client)
    cols = list(X.columns)
    # Schema errors are caught on the client before any work is scheduled.
    check_interactions(X._meta, where=WHERE, implicit=implicit, require_values=not implicit,
                       allow_empty=True)
    keep = [c for c in (_pick(cols, USER_COLUMNS), _pick(cols, ITEM_COLUMNS),
                        _pick(cols, RATING_COLUMNS)) if c is not None]
    extra = [c for c in cols if c not in keep and c not in TIMESTAMP_COLUMNS]
    if extra:  # the same rule as check_interactions, for the message
        raise ValueError(f"{WHERE}: unknown column(s) {extra!r}.")
    parts = client.compute(X[keep].to_delayed())
    parts = client.map(_validate_partition, parts, implicit=implicit,
                       require_values=not implicit, pure=False)
    summaries = client.map(_partition_summary, parts, pure=False)
    summary = client.submit(_merge_summaries, summaries, pure=False).result()
    del summaries
    if summary["n"] == 0:
        raise ValueError(f"{WHERE}: at least one interaction is required; got an empty input.")
    user_index = IdIndex(summary["users"], "user")
    item_index = IdIndex(summary["items"], "item")
    uix, iix = client.scatter([user_index._index, item_index._index], broadcast=True, hash=False)
    coded = client.map(_encode, parts, user_index=uix, item_index=iix, pure=False)
    return Prepared(coded, user_index, item_index, summary["n"], summary["sum"],
                    summary["min"], summary["max"])


def pieces_by(client: Any, split_futures: list, n_pieces: int) -> list[list]:
    """Turn per-partition lists of pieces into, per piece index, the list of piece futures."""
    import operator

    out = [[] for _ in range(n_pieces)]
    for f in split_futures:
        for k in range(n_pieces):
            out[k].append(client.submit(operator.getitem, f, k, pure=False))
    return out


def finish(estimator: Any, prep: Prepared, client: Any, seen_blocks: list, popularity: Any) -> None:
    """Set the fitted state every recommender shares, from blocks held on the workers."""
    estimator.user_index_ = prep.user_index
    estimator.item_index_ = prep.item_index
    estimator.n_users_ = len(prep.user_index)
    estimator.n_items_ = len(prep.item_index)
    parts = client.gather(seen_blocks)
    P = len(parts)
    # Rows of block b are users b, b + P, ...: stack, then put the rows in code order.
    rows = np.concatenate([np.arange(b, estimator.n_users_, P) for b in range(P)])
    seen = sp.vstack(parts, format="csr")[np.argsort(rows, kind="stable")]
    seen.sort_indices()
    estimator._set_seen(seen)
    estimator.item_popularity_ = popularity.result()
    estimator.input_was_pandas_ = True


def resolve_client(client: Any) -> Any:
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except ValueError:
        raise ValueError(
            f"{WHERE}: a dask.distributed Client is required; start one with "
            f"Client('tcp://scheduler:8786') or Client(LocalCluster()) first."
        ) from None


def n_workers_of(client: Any) -> int:
    return max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
