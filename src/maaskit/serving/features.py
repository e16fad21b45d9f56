"""New users described by features: ``POST /v1/recommend`` with a ``user_features`` payload.

A hybrid model (one fitted with a user :class:`~maaskit.recommender.FeatureEncoder`, such
as :class:`~maaskit.recommender.HybridMF`) ranks a user it has never seen from a sign-up
form. The JSON payload becomes a DataFrame and the answer comes from the estimator's own
``recommend_new_user`` (one path: the server never scores by itself).

Payload rules:

- ``user_features`` is one JSON object (column -> value) or a list of them (at most
  ``max_users``; ``rows x n`` at most ``max_output_cells``).
- A value is a string (at most ``max_history`` characters), a number, a bool, ``null``
  (missing), or a list of those (a multi-label column). A column the form leaves out is
  missing (no feature), as ``null`` is; a column the model does not know is a 400.
- ``items`` (optional) restricts the candidates to these item ids, e.g. the titles that
  arrived today; an unknown id is a 404 ``unknown_item``.
- Categories or labels not seen in training are left out and named in the row's
  ``note`` (the encoder's ``handle_unknown="error"`` makes them a 400 instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry._signature import feature_encoder
from .errors import APIError
from .errors import bad_request as _bad
from .models import _json_scores

__all__ = ["recommend_new_users"]

_KEYS = ("user_features", "n", "items")


def _check_value(v: Any, col: str, where: str, limits: Any) -> None:
    if v is None or isinstance(v, (bool, int, float)):
        return
    if isinstance(v, str):
        limits.check("max_history", len(v), where, f"the characters of feature {col!r}")
        return
    if isinstance(v, list):
        for x in v:
            if isinstance(x, (list, dict)):
                raise _bad("invalid_features", f"{where}: the labels of feature {col!r} must be strings, numbers "
                                               f"or bools; got a nested {type(x).__name__}.")
            _check_value(x, col, where, limits)
        return
    raise _bad("invalid_features", f"{where}: feature {col!r} must be a string, a number, a bool, null or a "
                                   f"list of labels; got an object.")


def recommend_new_users(model: Any, doc: Any, where: str) -> dict:
    """Answer a ``user_features`` request on a loaded hybrid model.

    Parameters
    ----------
    model : LoadedModel
        The served model (its estimator, name, version and limits).
    doc : object
        The parsed JSON body: ``{"user_features": {...} | [{...}, ...], "n": 10}``, and
        optionally ``"items"``: the candidate item ids (e.g. only the titles that arrived
        today); an unknown one is a 404.
    where : str
        For messages.

    Returns
    -------
    body : dict
        ``{"model", "version", "items", "scores"}`` (plus ``"note"``) for one object;
        ``{"model", "version", "results": [...]}`` with one such row per object for a list.
    """
    import pandas as pd

    limits = model.limits
    if not isinstance(doc, dict) or "user_features" not in doc:
        raise _bad("invalid_request", f"{where}: the body must be an object with 'user_features' "
                                      "(an object of column -> value, or a list of them).")
    extra = sorted(set(doc) - set(_KEYS))
    if extra:
        raise _bad("invalid_request", f"{where}: unknown field(s) {extra[:5]}; the body takes {list(_KEYS)}.")
    est = model.estimator
    inner = est.__dict__.get("estimator_", est)
    recommend = getattr(est, "recommend_new_user", None) or getattr(inner, "recommend_new_user", None)
    enc = feature_encoder(est, "user")
    if not callable(recommend) or enc is None:
        raise _bad("unsupported", f"{where}: model {model.name!r} cannot rank a new user from features: it "
                                  "is not a hybrid model fitted with user_features as a DataFrame. Use "
                                  "GET /v1/recommend/{user_id}.")
    payload = doc["user_features"]
    single = isinstance(payload, dict)
    rows = [payload] if single else payload
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise _bad("invalid_features", f"{where}: user_features must be an object (column -> value) or a "
                                       "non-empty list of objects.")
    limits.check("max_users", len(rows), where, "the new users (user_features objects)")
    items = doc.get("items")
    if items is not None:
        if not isinstance(items, list) or not items:
            raise _bad("invalid_request", f"{where}: items must be a non-empty list of item ids; got "
                                          f"{type(items).__name__}.")
        keys, _, _ = model.resolve_ids(items, "item", where, strict=True)
        if len(set(keys)) != len(keys):
            raise _bad("invalid_request", f"{where}: items must not contain duplicate ids.")
        items = np.array(keys, dtype=model._item_dtype)
    n = model.check_n(doc.get("n", 10), where, available=None if items is None else len(items))
    limits.check("max_output_cells", len(rows) * n, where, "new users x n")
    known = [str(c) for c in enc.feature_names_in_]
    columns = list(known)
    for r in rows:
        for col, v in r.items():
            _check_value(v, col, where, limits)
            if col not in columns:
                columns.append(col)  # unknown: the encoder refuses it with its own message
    # object columns: JSON values reach the encoder as given (a list stays a list)
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in columns})
    try:
        unseen = [{} for _ in rows]
        if enc.handle_unknown != "error":
            frame, unseen = enc.drop_unseen(frame)
        ids, scores = recommend(frame, n=n, items=items, output="numpy")
    except ValueError as exc:  # FeatureError and the model's own input errors
        raise APIError(400, "invalid_features", f"{where}: {exc}", {"columns": known}) from None
    out = []
    for r in range(len(rows)):
        row_ids = np.asarray(ids[r])
        keep = np.array([x is not None for x in row_ids.tolist()], dtype=bool)
        entry = {"items": row_ids[keep].tolist(), "scores": _json_scores(np.asarray(scores[r])[keep])}
        if unseen[r]:
            shown = ", ".join(f"{c}={v!r}" for c, vals in unseen[r].items() for v in vals[:3])
            entry["note"] = f"values not seen in training were ignored: {shown}"
        out.append(entry)
    head = {"model": model.name, "version": model.version}
    return {**head, **out[0]} if single else {**head, "results": out}
