"""Mapping between user/item ids of any hashable type and contiguous internal indices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ArtifactError, UnknownIdError


class IdIndex:
    """An ordered, growable mapping from external ids to ``0..n-1``.

    Ids keep the dtype they came in (ints stay ints, strings stay strings) so that what a
    user passes in is what comes back out.

    Parameters
    ----------
    ids : array-like of shape (n_ids,)
        Unique ids, in index order.
    kind : str, default="id"
        ``"user"`` or ``"item"``, for error messages.
    """

    def __init__(self, ids: Any, kind: str = "id") -> None:
        self.kind = kind
        self._index = pd.Index(ids)
        if not self._index.is_unique:
            raise ValueError(f"IdIndex: {kind} ids must be unique.")

    @classmethod
    def from_values(cls, values: Any, kind: str = "id") -> tuple["IdIndex", np.ndarray]:
        """Build an index from a column of (repeated) ids.

        Parameters
        ----------
        values : array-like of shape (n,)
            Ids, possibly repeated.
        kind : str, default="id"
            For error messages.

        Returns
        -------
        index : IdIndex
        codes : ndarray of shape (n,), dtype int32
            Position of each value in the index, in order of first appearance.
        """
        codes, uniques = pd.factorize(np.asarray(values) if not isinstance(values, pd.Series) else values)
        return cls(uniques, kind), codes.astype(np.int32, copy=False)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def ids(self) -> np.ndarray:
        """ndarray of shape (n_ids,): the ids in index order."""
        return self._index.to_numpy()

    def lookup(self, values: Any) -> np.ndarray:
        """Return the index of each value, ``-1`` for unknown ids.

        Parameters
        ----------
        values : array-like of shape (n,)

        Returns
        -------
        codes : ndarray of shape (n,), dtype int64
        """
        values = _as_1d(values)
        if len(values) == 0:
            return np.empty(0, dtype=np.int64)
        try:
            codes = self._index.get_indexer(values).astype(np.int64, copy=False)
        except TypeError:
            # Unhashable entries (lists, dicts) cannot be ids.
            raise TypeError(
                f"{self.kind} ids must be hashable scalars (int, str, ...); "
                f"got values of type {type(values[0]).__name__}."
            ) from None
        # Ids match with their type: pandas equates True with 1; the id rule does not
        # (nor does it equate '1' with 1, which get_indexer already keeps apart).
        if self._index.dtype.kind != "b":
            is_bool = _bool_mask(values)
            if is_bool.any():
                codes = codes.copy()
                codes[is_bool] = -1
        return codes

    def get_codes(self, values: Any, where: str = "") -> np.ndarray:
        """Like :meth:`lookup` but raise :class:`UnknownIdError` for unknown ids.

        Parameters
        ----------
        values : array-like of shape (n,)
        where : str, default=""
            ``"<Estimator>.<method>"`` for the message.

        Returns
        -------
        codes : ndarray of shape (n,), dtype int64
        """
        codes = self.lookup(values)
        bad = codes < 0
        if bad.any():
            unknown = [_py(v) for v in _as_1d(values)[bad]]
            raise UnknownIdError(self.kind, unknown, len(self), where,
                                 hint=id_type_hint(self, unknown))
        return codes

    def extend(self, values: Any) -> tuple["IdIndex", np.ndarray, int]:
        """Return a new index with unseen ids appended, codes of ``values``, and the old size.

        Parameters
        ----------
        values : array-like of shape (n,)

        Returns
        -------
        index : IdIndex
        codes : ndarray of shape (n,), dtype int32
        n_old : int
        """
        values = _as_1d(values)
        codes = self.lookup(values)
        new = codes < 0
        n_old = len(self)
        if not new.any():
            return self, codes.astype(np.int32), n_old
        new_codes, new_ids = pd.factorize(values[new])
        merged = self._index.append(pd.Index(new_ids))
        codes[new] = new_codes + n_old
        return IdIndex(merged, self.kind), codes.astype(np.int32), n_old

    # -- persistence: plain arrays only, never object arrays -------------------------------
    def to_state(self) -> tuple[dict, np.ndarray | None]:
        """Return ``(json_part, array_part)`` for safe persistence.

        Integer ids are stored as an int64 array, strings as a unicode array, and anything
        else that JSON can carry round-trip (floats, bools) in the JSON part.

        Returns
        -------
        meta : dict
        array : ndarray or None
        """
        ids = self.ids
        if ids.dtype.kind in "iu":
            return {"kind": self.kind, "dtype": str(ids.dtype)}, ids.astype(ids.dtype)
        values = list(ids)
        if all(isinstance(v, str) for v in values):
            return {"kind": self.kind, "dtype": "str"}, np.array(values, dtype=str)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return {"kind": self.kind, "dtype": "int64"}, np.array(values, dtype=np.int64)
        out = []
        for v in values:
            if isinstance(v, np.generic):
                v = v.item()
            if not isinstance(v, (int, float, str, bool)) or v is None:
                raise ArtifactError(
                    f"save: {self.kind} id {v!r} of type {type(v).__name__} cannot be saved "
                    f"without pickle; use int or str ids."
                )
            out.append(v)
        return {"kind": self.kind, "dtype": "json", "values": out}, None

    @classmethod
    def from_state(cls, meta: dict, array: np.ndarray | None) -> "IdIndex":
        """Inverse of :meth:`to_state`.

        Parameters
        ----------
        meta : dict
        array : ndarray or None

        Returns
        -------
        index : IdIndex
        """
        if meta["dtype"] == "json":
            ids: Any = np.array(meta["values"], dtype=object)
        elif meta["dtype"] == "str":
            ids = np.array([str(s) for s in array], dtype=object)
        else:
            ids = np.asarray(array).astype(meta["dtype"])
        return cls(ids, meta["kind"])


def _type_name(value: Any) -> str:
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return type(value).__name__


def _article(name: str) -> str:
    return "an" if name[:1] in "aeiou" else "a"


def id_type_hint(known: Any, unknown: Any, kind: str | None = None) -> str:
    """Say when an unknown id would be known under another type (``'1'`` for ``1``).

    The id rule of maaskit, in the library and the server alike: an id matches only an id of
    the same type, so ``'1'`` is not ``1``. A mismatch is almost always a parsing slip (ids read
    from a URL, a CSV or JSON), so every unknown-id warning and error carries this sentence.

    Parameters
    ----------
    known : IdIndex, or a set, dict or array of ids
        The model's user or item ids.
    unknown : array-like
        Ids that ``known`` does not hold.
    kind : str, default=None
        ``"user"`` or ``"item"``; defaults to ``known.kind`` for an IdIndex, else ``"id"``.

    Returns
    -------
    hint : str
        ``"'1' is a str; the model's user ids are int."``, or ``""`` when no unknown id would
        match under the other type.
    """
    if isinstance(known, IdIndex):
        kind = kind or known.kind
        ids = known.ids

        def holds(v: Any) -> bool:
            return bool(known.lookup([v])[0] >= 0)
    else:
        ids = np.asarray(list(known) if isinstance(known, (set, frozenset, dict)) else known, dtype=object)

        def holds(v: Any) -> bool:
            return v in known if isinstance(known, (set, frozenset, dict)) else bool(np.any(ids == v))
    kind = kind or "id"
    if len(ids) == 0:
        return ""
    sample = [_py(v) for v in ids[:1000]]
    if all(_type_name(v) == "int" for v in sample):
        known_type = "int"
    elif all(_type_name(v) == "str" for v in sample):
        known_type = "str"
    else:
        return ""
    for value in _as_1d(unknown)[:1000]:
        value = _py(value)
        got = _type_name(value)
        if got == known_type:
            continue
        alt: Any = None
        if known_type == "int" and got == "str":
            text = str(value).strip()
            if text.lstrip("+-").isdigit():
                alt = int(text)
        elif known_type == "str" and got == "int":
            alt = str(int(value))
        if alt is not None and holds(alt):
            return f"{value!r} is {_article(got)} {got}; the model's {kind} ids are {known_type}."
    return ""


def _py(value: Any) -> Any:
    # np.str_('1') prints as "np.str_('1')" under NumPy 2: messages show the plain value.
    return value.item() if isinstance(value, np.generic) else value


def _bool_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "b":
        return np.ones(len(values), dtype=bool)
    if values.dtype == object:
        return np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), bool, len(values))
    return np.zeros(len(values), dtype=bool)


def _as_1d(values: Any) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy()
    if isinstance(values, (list, tuple)) and len({type(v) for v in values}) > 1:
        # np.asarray(['1', 1]) would turn the int into '1' (and [True, 1] into [1, 1]):
        # mixed types stay objects so that each id keeps its type.
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr.ravel()
