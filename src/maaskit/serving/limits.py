"""Per-request limits of the HTTP service, and a JSON nesting check that runs before parsing.

Every request a read-scoped key can send is bounded here, so that no single request can take
the server over its memory budget: the body size bounds the bytes, these limits bound what
the bytes can ask for (users x n output cells, tensor elements, JSON nesting, history length).
A request past a limit gets a 413 (too much data) or 422 (a parameter out of range) whose
``detail`` names the limit and its value: ``{"limit": "max_users", "value": 1000}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .errors import APIError

__all__ = ["Limits", "check_json_depth", "limit_error"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (``maaskit serve --max-...`` flags).

    Parameters
    ----------
    max_body_bytes : int, default=1048576
        Bytes of a JSON request body (413).
    max_users : int, default=1000
        User ids in one ``infer`` request (413).
    max_n : int, default=1000
        Items per user (``n``) in ``recommend``, ``similar`` and ``infer`` (422).
    max_output_cells : int, default=100000
        Users x ``n`` of one request: what the answer holds (413).
    max_tensor_elements : int, default=250000
        Elements of the input tensors of one ``infer`` request, or of all ``instances`` of a
        ``predict`` (413). A body with more values than this (plus 1,000 for its structure)
        is refused before it is parsed.
    max_json_depth : int, default=32
        Nesting of ``[`` and ``{`` in a JSON body, checked before parsing (413).
    max_history : int, default=10000
        Length of one instance's history for models that take one: the characters of one
        text, or the item ids of one history posted to a sequential recommender (413). Rows
        and images are bounded by ``max_tensor_elements``.
    max_header_bytes : int, default=32768
        Bytes of all request headers (431). The HTTP parser reads them first (uvicorn's h11
        parser stops at 64 KiB; httptools has its own bound), this refuses to act on them.
    """

    max_body_bytes: int = 1 << 20
    max_users: int = 1000
    max_n: int = 1000
    max_output_cells: int = 100_000
    max_tensor_elements: int = 250_000
    max_json_depth: int = 32
    max_history: int = 10_000
    max_header_bytes: int = 32 << 10

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits: {f.name} must be a positive int; got {value!r}.")

    def as_dict(self) -> dict:
        """The limits as a JSON-able dict (served in ``GET /v2`` for clients to read).

        Returns
        -------
        limits : dict
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check(self, name: str, value: int, where: str, what: str, status: int = 413) -> None:
        """Raise a 413/422 :class:`APIError` naming the limit when ``value`` exceeds it.

        Parameters
        ----------
        name : str
            Field name (``"max_users"``).
        value : int
            What the request asks for.
        where : str
            For messages.
        what : str
            What is counted, for the message (``"user ids"``).
        status : int, default=413
            413 for too much data, 422 for a parameter out of range.
        """
        limit = getattr(self, name)
        if value > limit:
            raise limit_error(name, limit, value, where, what, status)


def limit_error(name: str, limit: int, value: int, where: str, what: str, status: int = 413) -> APIError:
    """The error of a request past a limit.

    Parameters
    ----------
    name : str
        Limit name.
    limit : int
        Its value.
    value : int
        What the request asked for.
    where : str
        For messages.
    what : str
        What is counted.
    status : int, default=413
        HTTP status.

    Returns
    -------
    error : APIError
    """
    return APIError(status, "limit_exceeded",
                        f"{where}: {what} must be at most {limit} (server limit {name}); got {value}.",
                        {"limit": name, "value": limit, "requested": value})


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def check_json_depth(body: bytes, limit: int, where: str, max_values: int | None = None) -> None:
    """Refuse (413) a JSON body nested deeper than ``limit`` or holding more than
    ``max_values`` values, without parsing it.

    Strings are removed first (escapes, then quoted runs), so brackets and commas inside
    strings do not count; the rest is reduced to its brackets and the running depth is a
    cumulative sum. All steps are C loops over at most ``max_body_bytes`` bytes: a deeply
    nested body never reaches the recursive parser (Python's recursion limit) nor allocates
    per level, and a body of 300,000 numbers is refused before 300,000 Python ints exist.
    Unbalanced input is left to the parser, which reports it as invalid JSON.

    Parameters
    ----------
    body : bytes
        The raw body (already bounded in size).
    limit : int
        Deepest nesting allowed.
    where : str
        For messages.
    max_values : int, default=None
        Most values (commas outside strings, plus one) the body may hold: the tensor
        elements of the request plus its structure.
    """
    few_brackets = body.count(b"[") + body.count(b"{") <= limit
    few_commas = max_values is None or body.count(b",") < max_values
    if few_brackets and few_commas:
        return  # the common, cheap case: cannot exceed what it does not contain
    stripped = _STRING.sub(b"", _ESCAPE.sub(b"", body))
    if not few_commas:
        values = stripped.count(b",") + 1
        if values > max_values:
            raise limit_error("max_tensor_elements", max_values, values, where, "the values in the JSON body")
    brackets = stripped.translate(None, _NOT_BRACKET)
    if len(brackets) <= limit:
        return
    steps = np.frombuffer(brackets, dtype=np.uint8)
    delta = np.where((steps == ord("[")) | (steps == ord("{")), 1, -1).astype(np.int32)
    depth = int(np.cumsum(delta).max())
    if depth > limit:
        raise limit_error("max_json_depth", limit, depth, where, "the nesting of the JSON body")


def check_n(limits: Limits, n: Any, where: str, available: int) -> int:
    """Check ``n`` (how many items): an int >= 1 (400), at most ``max_n`` (422), capped to ``available``.

    Parameters
    ----------
    limits : Limits
    n : object
        As received (query strings are converted).
    where : str
        For messages.
    available : int
        Items that can be returned; a larger ``n`` is capped to it (as ``implicit`` does).

    Returns
    -------
    n : int
    """
    if isinstance(n, str):
        n = int(n) if n.isdigit() and len(n) < 10 else n
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise APIError(400, "invalid_argument", f"{where}: n must be an int >= 1; got {n!r:.40}.")
    limits.check("max_n", n, where, "n", status=422)
    return max(1, min(n, available))
