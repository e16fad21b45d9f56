"""Loaded models: input checking and the calls the routes make.

V2 tensors are decoded in :mod:`.v2`, request ids parsed and looked up in :mod:`.ids`,
n-d and variable-length inputs matched in :mod:`.ndinput`; the cache of loaded models and
hot reload live in :mod:`.store`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..registry import ModelVersion
from ..registry._signature import is_recommender, v2_datatype, word_vectors
from .batching import MicroBatcher
from .errors import APIError
from .errors import bad_request as _bad
from .ids import resolve_ids, type_note
from .limits import Limits, check_n
from .ndinput import (check_nd_rows, clips_from_instances, clips_from_tensor, decode_clip_inputs,
                      has_variable_axis)
from .pool import WorkerPool
from .v2 import V2_DATATYPES, decode_tensor

# decode_tensor and V2_DATATYPES live in .v2; re-exported for the callers that import them from here.
__all__ = ["LoadedModel", "decode_tensor", "V2_DATATYPES"]


def _json_scores(scores: np.ndarray) -> list:
    # NaN marks "no score" (a padded slot, a fallback row): JSON has neither NaN nor
    # infinities, so those slots become null.
    out = scores.astype(np.float64)
    if np.isfinite(out).all():
        return out.tolist()
    return [None if not math.isfinite(v) else v for v in out.tolist()]


class LoadedModel:
    """One loaded model version and the checked calls the HTTP routes make on it.

    Every public method but :meth:`recommend` is synchronous CPU work: the routes run it in
    the :class:`~maaskit.serving.pool.WorkerPool`, never on the event loop.

    Ids. An id in a JSON body keeps its JSON type: ``"1"`` is a string and is never taken
    for the integer ``1``, so on a model trained with int ids it is unknown (and the
    per-row note says ``'1' is a str; the model's user ids are int``). An id in a URL path
    (``/v1/recommend/{user_id}``) is text by nature, so it is converted to the model's id
    kind (``/v1/recommend/1`` is user ``1`` of an int-id model).

    Unknown users get the popularity fallback, marked per row (``fallback: true``), as the
    library's ``recommend`` does; with ``strict`` they are a 404 instead.

    Parameters
    ----------
    version : ModelVersion
        Catalogue record.
    estimator : estimator
        The loaded estimator.
    batcher_factory : callable, default=None
        ``batcher_factory(fn) -> MicroBatcher`` when micro-batching is on for this model.
    limits : Limits, default=None
        Per-request limits (defaults when ``None``).
    pool : WorkerPool, default=None
        Where :meth:`recommend` runs the top-k (a private 1-thread pool when ``None``).
    """

    def __init__(self, version: ModelVersion, estimator: Any,
                 batcher_factory: Callable[[Callable], MicroBatcher] | None = None,
                 limits: Limits | None = None, pool: WorkerPool | None = None) -> None:
        self.record = version
        self.name = version.name
        self.version = version.version
        self.estimator = estimator
        self.limits = limits or Limits()
        self.pool = pool
        self.is_recommender = is_recommender(estimator)
        self.wv = None if self.is_recommender else word_vectors(estimator)
        self.signature = version.signature or {}
        self.batcher = None
        if self.is_recommender:
            users = np.asarray(estimator.user_index_.ids)
            items = np.asarray(estimator.item_index_.ids)
            self._user_kind, self._item_kind = users.dtype.kind, items.dtype.kind
            self._user_dtype = users.dtype if users.dtype.kind in "iuf" else object
            self._item_dtype = items.dtype if items.dtype.kind in "iuf" else object
            # A dict answers "is this id known?" faster than an index lookup.
            self._users = dict.fromkeys(users.tolist())
            self._items = dict.fromkeys(items.tolist())
            self._item_ids = items
            self.n_items = len(items)
            # The popularity fallback of BaseRecommender.recommend (same order, same scores),
            # sorted once per load rather than per request.
            pop = getattr(estimator, "item_popularity_", None)
            self._pop = None
            if pop is not None and np.shape(pop) == (self.n_items,):
                self._pop = np.asarray(pop, dtype=np.float64)
                self._pop_order = np.argsort(-self._pop, kind="stable")
            if batcher_factory is not None:
                self.batcher = batcher_factory(self._topk_batch)
        # Sequential recommenders (SASRec) also answer for a posted item history.
        self._history_fn = _history_method(estimator) if self.is_recommender else None
        self.is_sequential = self._history_fn is not None

    # ------------------------------------------------------------------ ids
    type_note = staticmethod(type_note)

    def resolve_ids(self, raws: list, entity: str, where: str, *, from_path: bool = False,
                    strict: bool = False) -> tuple[list, np.ndarray, list]:
        """Convert request ids to this model's ids and say which are known.

        See :func:`maaskit.serving.ids.resolve_ids`; ``entity`` (``"user"`` or ``"item"``)
        picks this model's id kind and table.
        """
        if entity == "user":
            return resolve_ids(raws, entity, self._user_kind, self._users, where, from_path=from_path,
                               strict=strict)
        return resolve_ids(raws, entity, self._item_kind, self._items, where, from_path=from_path, strict=strict)

    def check_n(self, n: Any, where: str, available: int | None = None) -> int:
        """Check ``n``: an int >= 1 (400), at most ``max_n`` (422); capped to the items available.

        Parameters
        ----------
        n : object
            Requested count.
        where : str
            For messages.
        available : int, default=None
            Items that can be returned (default: the number of items).

        Returns
        -------
        n : int
        """
        return check_n(self.limits, n, where, self.n_items if available is None else available)

    def _require_recommender(self, where: str) -> None:
        if self.wv is not None:
            raise _bad("unsupported", f"{where}: model {self.name!r} holds word vectors, not a recommender; "
                                      f"use GET /v1/similar/{{word}} or /v1/vector/{{word}}.")
        if not self.is_recommender:
            raise _bad("unsupported", f"{where}: model {self.name!r} is not a recommender; "
                                      f"use POST /v1/predict/{self.name} or the V2 infer endpoint.")

    def require_sequential(self, where: str) -> None:
        """400 ``unsupported`` unless this model scores item histories (a sequential recommender).

        Parameters
        ----------
        where : str
            For messages.
        """
        self._require_recommender(where)
        if not self.is_sequential:
            raise _bad("unsupported", f"{where}: model {self.name!r} ({self.record.estimator_class}) does not take "
                                      f"a history; only sequential recommenders (e.g. SASRec) do. Ask for a known "
                                      f"user's items with GET /v1/recommend/{{user_id}}.",
                       {"model": self.name, "estimator_class": self.record.estimator_class})

    # ------------------------------------------------------------------ histories
    def check_history(self, history: Any, where: str) -> list:
        """Check one posted history: a list of at most ``max_history`` item ids (413 past it).

        Parameters
        ----------
        history : object
            As decoded from JSON.
        where : str
            For messages.

        Returns
        -------
        history : list
        """
        if not isinstance(history, list):
            raise _bad("invalid_request", f"{where}: history must be a list of item ids; got "
                                          f"{type(history).__name__}.")
        self.limits.check("max_history", len(history), where, "items of one history")
        bad = next((h for h in history if not isinstance(h, (str, int, float)) or isinstance(h, bool)), None)
        if bad is not None or any(isinstance(h, (str, int, float)) and h != h for h in history):
            raise _bad("invalid_request", f"{where}: history must hold item ids (strings or numbers); got "
                                          f"{(bad if bad is not None else 'NaN')!r:.60}.")
        return history

    def recommend_histories(self, histories: list, n: int, exclude_seen: bool, where: str
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, list, list]:
        """Top-``n`` next items for checked histories, through the estimator's ``recommend_history``.

        Ids keep their JSON type (``"1"`` is not ``1``). Unknown items are dropped from a
        history (as the library does) and counted; a history with no known item gets the
        popularity fallback row, as an unknown user does.

        Parameters
        ----------
        histories : list of list
            Item ids, oldest first (each checked by :meth:`check_history`).
        n : int
            Items per history (checked).
        exclude_seen : bool
            Leave out the items of each history.
        where : str
            For messages.

        Returns
        -------
        ids, scores : ndarray of shape (len(histories), n)
        popularity : ndarray of shape (len(histories), n) or None
            As in :meth:`recommend_rows`.
        known : ndarray of bool of shape (len(histories),)
            Whether a history had a known item (False: fallback row).
        n_unknown : list of int
            Items of each history the model does not know.
        notes : list of (str or None)
            Why an unknown item is unknown when its type is the reason (first such item).
        """
        kept, n_unknown, notes = [], [], []
        for h in histories:
            keys, hit, item_notes = self.resolve_ids(h, "item", where)
            kept.append(np.array([k for k, ok in zip(keys, hit) if ok], dtype=self._item_dtype))
            n_unknown.append(int(len(h) - hit.sum()))
            notes.append(next((t for t in item_notes if t), None))
        known = np.array([len(k) > 0 for k in kept], dtype=bool)
        m = len(histories)
        ids = np.empty((m, n), dtype=object)
        scores = np.full((m, n), np.nan, dtype=np.float32)
        rows = np.flatnonzero(known)
        if len(rows):
            ki, ks = self._history_fn([kept[r] for r in rows], n=n, exclude_seen=exclude_seen, output="numpy")
            ids[rows], scores[rows] = ki, ks
        popularity = None
        if len(rows) < m:
            fb_ids, fb_pop = self._fallback(n, where)
            ids[~known] = fb_ids
            popularity = np.full((m, n), np.nan)
            popularity[~known] = fb_pop
        return ids, scores, popularity, known, n_unknown, notes

    # ------------------------------------------------------------------ recommend
    def _topk(self, users: list, n: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        # The estimator's own blocked recommend: its memory is bounded by its block size
        # whatever the number of users (and the limits bound users x n).
        ids, scores = self.estimator.recommend(np.array(users, dtype=self._user_dtype), n=n,
                                               exclude_seen=exclude_seen, output="numpy")
        return ids, scores

    def _topk_batch(self, key: tuple, user_lists: list) -> list:
        n, exclude_seen = key
        flat = [u for users in user_lists for u in users]
        ids, scores = self._topk(flat, n, exclude_seen)
        out, s = [], 0
        for users in user_lists:
            out.append((ids[s : s + len(users)], scores[s : s + len(users)]))
            s += len(users)
        return out

    def _fallback(self, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
        if self._pop is None:
            raise APIError(404, "unknown_user", f"{where}: model {self.name!r} has no popularity fallback "
                                                    f"for unknown users.")
        order = self._pop_order[:n]
        return self._item_ids[order], self._pop[order]

    def recommend_rows(self, keys: list, known: np.ndarray, n: int, exclude_seen: bool, where: str,
                       topk: tuple | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Top-``n`` for resolved users: the model's top-k for known ones, the fallback for the others.

        The rows read as the library's ``recommend``: a fallback row has no predicted score
        (NaN, null in JSON) and its popularity counts in a separate array, so ``scores``
        keeps one meaning; a row with fewer than ``n`` eligible items ends in ``None`` ids
        with NaN scores.

        Parameters
        ----------
        keys : list
            From :meth:`resolve_ids`.
        known : ndarray of bool
            From :meth:`resolve_ids`.
        n : int
            Items per user (checked and capped to the catalogue).
        exclude_seen : bool
            Leave out seen items.
        where : str
            For messages.
        topk : tuple, default=None
            ``(ids, scores)`` of the known users when already computed (micro-batching).

        Returns
        -------
        ids, scores : ndarray of shape (len(keys), n)
        popularity : ndarray of shape (len(keys), n) or None
            Popularity counts on fallback rows (NaN elsewhere); None when every user is known.
        """
        k = len(keys)
        rows = np.flatnonzero(known)
        if len(rows) == k and topk is None:
            ids, scores = self._topk(keys, n, exclude_seen)
            return ids, scores, None
        ids = np.empty((k, n), dtype=object)  # object: padded slots hold None, as the library's
        scores = np.full((k, n), np.nan, dtype=np.float32)
        if len(rows):
            ki, ks = topk if topk is not None else self._topk([keys[r] for r in rows], n, exclude_seen)
            ids[rows], scores[rows] = ki, ks
        popularity = None
        if len(rows) < k:
            fb_ids, fb_pop = self._fallback(n, where)
            ids[~known] = fb_ids
            popularity = np.full((k, n), np.nan)
            popularity[~known] = fb_pop
        return ids, scores, popularity

    async def recommend(self, keys: list, known: np.ndarray, n: int, exclude_seen: bool,
                        where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`recommend_rows` in the worker pool, micro-batched when enabled.

        Parameters
        ----------
        keys, known, n, exclude_seen, where
            See :meth:`recommend_rows`.

        Returns
        -------
        ids, scores, popularity
            See :meth:`recommend_rows`.
        """
        known_keys = [key for key, hit in zip(keys, known) if hit]
        if self.batcher is not None and known_keys:
            topk = await self.batcher.submit((n, exclude_seen), known_keys)
            return self.recommend_rows(keys, known, n, exclude_seen, where, topk)
        if self.pool is None:
            self.pool = WorkerPool(1)
        return await self.pool.run(self.recommend_rows, keys, known, n, exclude_seen, where)

    def similar(self, item: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most similar items to a known item (the estimator's blocked ``similar_items``).

        Parameters
        ----------
        item : object
            Known item id.
        n : int
            Neighbours.

        Returns
        -------
        ids, scores : ndarray of shape (n,)
        """
        ids, scores = self.estimator.similar_items(np.array([item], dtype=self._item_dtype), n=n, output="numpy")
        return ids[0], scores[0]

    # ------------------------------------------------------------------ word vectors
    def _word(self, word: str, where: str) -> str:
        if word not in self.wv.key_to_index:
            raise APIError(404, "unknown_word", f"{where}: {word!r:.80} is not in the vocabulary of model "
                                                    f"{self.name!r} ({len(self.wv)} words).", {"word": word[:80]})
        return word

    def similar_words(self, word: str, n: int, where: str) -> tuple[list, list]:
        """The ``n`` words closest (cosine) to ``word``: ``KeyedVectors.most_similar``.

        Parameters
        ----------
        word : str
            A word of the vocabulary (404 otherwise).
        n : int
            Neighbours.
        where : str
            For messages.

        Returns
        -------
        words, scores : list
        """
        pairs = self.wv.most_similar(self._word(word, where), topn=n)
        return [w for w, _ in pairs], [s for _, s in pairs]

    def vector(self, word: str, where: str) -> list:
        """The vector of ``word`` (404 when not in the vocabulary).

        Parameters
        ----------
        word : str
        where : str
            For messages.

        Returns
        -------
        vector : list of float
        """
        return np.asarray(self.wv.get_vector(self._word(word, where)), dtype=np.float64).tolist()

    def _require_not_word_vectors(self, where: str) -> None:
        if self.wv is not None:
            raise _bad("unsupported", f"{where}: model {self.name!r} holds word vectors; it has no 'predict'. "
                                      f"Use GET /v1/similar/{{word}}?model={self.name} or "
                                      f"/v1/vector/{{word}}?model={self.name}.")

    # ------------------------------------------------------------------ predict
    def predict(self, instances: Any, method: str, where: str, strict: bool = False) -> tuple[np.ndarray, Any]:
        """Run ``predict``-like ``method`` on JSON instances (rows, or user/item pairs).

        Parameters
        ----------
        instances : list
            Rows of features, or ``[user, item]`` pairs for a recommender.
        method : str
            ``predict``, ``predict_proba``, ``decision_function`` or ``transform``.
        where : str
            For messages.
        strict : bool, default=False
            For a recommender: an unknown user or item is a 404 rather than the model's
            fallback score.

        Returns
        -------
        result : ndarray
        extra : dict or None
            For a recommender: ``{"fallback": [bool per pair], "notes"?: [str or None]}``,
            whether each pair got the fallback score and, when an id's type is why, a note.
        """
        self._require_not_word_vectors(where)
        if not isinstance(instances, list) or not instances:
            raise _bad("invalid_request", f"{where}: instances must be a non-empty list; got {instances!r:.80}.")
        self.limits.check("max_tensor_elements", len(instances), where, "instances")
        if self.is_recommender:
            if method != "predict":
                raise _bad("unsupported", f"{where}: a recommender supports method 'predict' only; got {method!r}.")
            for pair in instances:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _bad("shape_mismatch", f"{where}: each instance must be a [user, item] pair; "
                                                 f"got {pair!r:.80}.")
            ukeys, uknown, unotes = self.resolve_ids([p[0] for p in instances], "user", where, strict=strict)
            ikeys, iknown, inotes = self.resolve_ids([p[1] for p in instances], "item", where, strict=strict)
            notes = [" ".join(filter(None, pair)) or None for pair in zip(unotes, inotes)]
            pairs = np.empty((len(instances), 2), dtype=object)
            pairs[:, 0], pairs[:, 1] = ukeys, ikeys  # None where unknown: the model's fallback score
            inner = getattr(self.estimator, "estimator_", self.estimator)
            fn = getattr(inner, "_predict", None)
            try:
                # warn=False: the per-row flag replaces the ColdStartWarning (and warnings
                # filters are process-wide, not for a worker thread to change).
                result = np.asarray(fn(pairs, warn=False)) if fn is not None else self._call("predict", pairs, where)
            except (ValueError, TypeError, KeyError) as exc:
                raise _bad("invalid_input", f"{where}: {exc}") from None
            extra: dict = {"fallback": (~(uknown & iknown)).tolist()}
            if any(notes):
                extra["notes"] = notes
            return result, extra
        if self.signature.get("kind") == "text":
            if not all(isinstance(t, str) for t in instances):
                raise _bad("invalid_input", f"{where}: model {self.name!r} takes texts: instances must be a "
                                            f"list of strings.")
            self.limits.check("max_history", max(len(t) for t in instances), where, "characters of one text")
            return self._call(method, list(instances), where), None
        try:
            X = np.asarray(instances, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            shapes = self.signature.get("input_shapes")
            if has_variable_axis(shapes):  # clips of different lengths: one array each
                clips = clips_from_instances(instances, shapes, self.limits, where)
                return self._call(method, clips, where), None
            raise _bad("invalid_input", f"{where}: instances must be rows of numbers of equal length.") from None
        self.limits.check("max_tensor_elements", X.size, where, "numbers in instances")
        return self._call(method, self._check_rows(X, where), where), None
    def _check_rows(self, X: np.ndarray, where: str) -> np.ndarray:
        shapes = self.signature.get("input_shapes")
        if shapes:
            # n-d models (images, clips): any per-sample shape the signature lists, e.g.
            # (28, 28), with -1 for an axis of any length (a clip's frames)
            return check_nd_rows(X, shapes, where)
        n_features = self.signature.get("n_features")
        if X.ndim != 2 or (n_features is not None and X.shape[1] != n_features):
            raise _bad("shape_mismatch", f"{where}: X must be of shape (n_samples, {n_features}); got {X.shape!r}.",
                       {"expected_features": n_features, "shape": list(X.shape)})
        if not np.isfinite(X).all():
            raise _bad("invalid_input", f"{where}: X contains NaN or infinity.")
        return X

    def _call(self, method: str, X: Any, where: str) -> np.ndarray:
        fn = getattr(self.estimator, method, None) if method in ("predict", "predict_proba", "decision_function",
                                                                    "transform") else None
        if not callable(fn):
            raise _bad("unsupported", f"{where}: model {self.name!r} has no method {method!r}; it has "
                                      f"{self.signature.get('methods')}.")
        try:
            return np.asarray(fn(X))
        except (ValueError, TypeError, KeyError) as exc:
            raise _bad("invalid_input", f"{where}: {exc}") from None

    # ------------------------------------------------------------------ V2 infer
    def infer(self, body: Any, where: str) -> dict:
        """Answer a V2 inference request (synchronous: run it in the worker pool).

        Parameters
        ----------
        body : object
            Decoded JSON request: ``{"id"?, "inputs": [...], "outputs"?: [...], "parameters"?}``.
            A recommender reads ``n``, ``exclude_seen`` and ``strict`` from ``parameters``. A
            sequential recommender also takes, instead of user ids, an input named
            ``history``: item ids (BYTES or INT64, as the model's items) of shape ``[L]``
            (one history, oldest first) or ``[B, L]`` (``B`` histories of ``L`` items).
        where : str
            For messages.

        Returns
        -------
        response : dict
        """
        self._require_not_word_vectors(where)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
            raise _bad("invalid_request", f"{where}: the request must be an object with a non-empty 'inputs' list.")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise _bad("invalid_request", f"{where}: parameters must be an object; got {params!r:.80}.")
        req_id = body.get("id")
        if req_id is not None and not isinstance(req_id, str):
            raise _bad("invalid_request", f"{where}: id must be a string; got {req_id!r:.80}.")
        if len(body["inputs"]) > 8:
            raise _bad("invalid_request", f"{where}: at most 8 inputs; got {len(body['inputs'])}.")
        tensors = [decode_tensor(t, where, self.limits) for t in body["inputs"]]
        self.limits.check("max_tensor_elements", sum(t[1].size for t in tensors), where,
                          "elements of all inputs")
        requested = body.get("outputs")
        if requested is not None:
            if not isinstance(requested, list) or len(requested) > 8 or not all(
                    isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested):
                raise _bad("invalid_request", f"{where}: outputs must be a list of at most 8 objects with a name.")
            requested = [o["name"] for o in requested]
        extra: dict = {}
        if self.is_recommender:
            outputs = self._infer_recommend(tensors, params, requested, where, extra)
        else:
            outputs = self._infer_tabular(tensors, requested, where)
        out = {"model_name": self.name, "model_version": str(self.version), "outputs": outputs}
        if extra:
            out["parameters"] = extra
        if req_id is not None:
            out["id"] = req_id
        return out

    def _infer_recommend(self, tensors: list, params: dict, requested: list | None, where: str,
                         extra: dict) -> list:
        if len(tensors) != 1:
            raise _bad("invalid_request", f"{where}: a recommender takes one input tensor of user ids; "
                                          f"got {len(tensors)}.")
        name, arr, datatype = tensors[0]
        if name == "history":
            return self._infer_history(arr, datatype, params, requested, where, extra)
        expected = self.signature.get("user_datatype", "BYTES")
        if datatype != expected and not (expected == "INT64" and datatype == "INT32"):
            hint = ""
            if arr.size:
                note = self.type_note(arr.ravel()[0].item() if arr.dtype != object else arr.ravel()[0],
                                      "user", self._user_kind)
                hint = f" ({note})" if note else ""
            raise _bad("datatype_mismatch", f"{where}: input {name!r} must have datatype {expected} "
                                            f"(the model's user ids); got {datatype}{hint}.")
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1 or arr.shape[0] == 0:
            raise _bad("shape_mismatch", f"{where}: input {name!r} must have shape [n_users] or [n_users, 1] "
                                         f"with n_users >= 1; got {list(arr.shape)}.")
        self.limits.check("max_users", arr.shape[0], where, "user ids per request")
        n = self.check_n(params.get("n", 10), where)
        self.limits.check("max_output_cells", arr.shape[0] * n, where, "users x n")
        exclude_seen = params.get("exclude_seen", True)
        strict = params.get("strict", False)
        for pname, value in (("exclude_seen", exclude_seen), ("strict", strict)):
            if not isinstance(value, bool):
                raise _bad("invalid_argument", f"{where}: {pname} must be a bool; got {value!r:.40}.")
        keys, known, notes = self.resolve_ids(arr.tolist(), "user", where, strict=strict)
        ids, scores, popularity = self.recommend_rows(keys, known, n, exclude_seen, where)
        if not known.all():
            extra["fallback_rows"] = int((~known).sum())
            if any(notes):
                extra["notes"] = notes
        return self._recommend_outputs(ids, scores, popularity, known, n, requested, where)

    def _infer_history(self, arr: np.ndarray, datatype: str, params: dict, requested: list | None,
                       where: str, extra: dict) -> list:
        # A "history" tensor: [L] is one history of L item ids, [B, L] is B histories of L.
        self.require_sequential(where)
        expected = self.signature.get("item_datatype", "BYTES")
        if datatype != expected and not (expected == "INT64" and datatype == "INT32"):
            raise _bad("datatype_mismatch", f"{where}: input 'history' must have datatype {expected} "
                                            f"(the model's item ids); got {datatype}.")
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise _bad("shape_mismatch", f"{where}: input 'history' must have shape [n_items] (one history) "
                                         f"or [n_histories, n_items]; got {list(arr.shape)}.")
        self.limits.check("max_history", arr.shape[1], where, "items of one history")
        self.limits.check("max_users", arr.shape[0], where, "histories per request")
        n = self.check_n(params.get("n", 10), where)
        self.limits.check("max_output_cells", arr.shape[0] * n, where, "histories x n")
        exclude_seen = params.get("exclude_seen", True)
        if not isinstance(exclude_seen, bool):
            raise _bad("invalid_argument", f"{where}: exclude_seen must be a bool; got {exclude_seen!r:.40}.")
        ids, scores, popularity, known, n_unknown, _ = self.recommend_histories(arr.tolist(), n, exclude_seen,
                                                                                where)
        if not known.all():
            extra["fallback_rows"] = int((~known).sum())
        if any(n_unknown):
            extra["unknown_items"] = n_unknown
        return self._recommend_outputs(ids, scores, popularity, known, n, requested, where)

    def _recommend_outputs(self, ids: np.ndarray, scores: np.ndarray, popularity: np.ndarray | None,
                           known: np.ndarray, n: int, requested: list | None, where: str) -> list:
        shape = [len(known), n]
        names = requested or ["item_id", "score", "fallback"]
        outs = []
        for o in names:
            if o == "item_id":
                outs.append({"name": "item_id", "datatype": v2_datatype(self._item_ids), "shape": shape,
                             "data": np.asarray(ids).ravel().tolist()})
            elif o == "score":
                outs.append({"name": "score", "datatype": "FP32", "shape": shape,
                             "data": _json_scores(np.asarray(scores).ravel())})
            elif o == "fallback":
                outs.append({"name": "fallback", "datatype": "BOOL", "shape": [len(known)],
                             "data": (~known).tolist()})
            elif o == "popularity":
                # Fallback rows' popularity counts (null on model rows), as the library's
                # pandas output has them: the 'score' of a fallback row stays null.
                pop = np.full(shape, np.nan) if popularity is None else popularity
                outs.append({"name": "popularity", "datatype": "FP64", "shape": shape,
                             "data": _json_scores(pop.ravel())})
            else:
                raise _bad("invalid_request", f"{where}: unknown output {o!r}; a recommender gives 'item_id', "
                                              f"'score', 'fallback' and 'popularity'.")
        return outs

    def _infer_tabular(self, tensors: list, requested: list | None, where: str) -> list:
        lengths = None
        if has_variable_axis(self.signature.get("input_shapes")):
            (name, arr, datatype), lengths = decode_clip_inputs(tensors, where)
        elif len(tensors) != 1:
            raise _bad("invalid_request", f"{where}: this model takes one input tensor; got {len(tensors)}.")
        else:
            name, arr, datatype = tensors[0]
        if self.signature.get("kind") == "text":
            if datatype != "BYTES" or not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
                raise _bad("datatype_mismatch" if datatype != "BYTES" else "shape_mismatch",
                           f"{where}: model {self.name!r} takes texts: input {name!r} must be BYTES of shape "
                           f"[n] or [n, 1]; got {datatype} {list(arr.shape)}.")
            X: Any = [str(t) for t in arr.ravel().tolist()]
            if X:
                self.limits.check("max_history", max(len(t) for t in X), where, "characters of one text")
        elif datatype not in ("FP32", "FP64", "INT32", "INT64"):
            raise _bad("datatype_mismatch", f"{where}: input {name!r} must be numeric (FP32, FP64, INT32, INT64); "
                                            f"got {datatype}.")
        elif lengths is not None:  # clips of different lengths, padded to one tensor
            X = clips_from_tensor(arr.astype(np.float64, copy=False), lengths,
                                  self.signature["input_shapes"], where)
        else:
            X = self._check_rows(arr.astype(np.float64, copy=False), where)
        outs = []
        for method in requested or ["predict"]:
            res = self._call(method, X, where)
            outs.append({"name": method, "datatype": v2_datatype(res), "shape": list(res.shape),
                         "data": res.ravel().tolist() if res.dtype.kind != "f" else _json_scores(res.ravel())})
        return outs

    def metadata(self) -> dict:
        """V2 model metadata: name, versions, platform, inputs and outputs.

        Returns
        -------
        metadata : dict
        """
        sig = self.signature
        if self.wv is not None:
            inputs = [{"name": "word", "datatype": "BYTES", "shape": [-1]}]
            outputs = [{"name": "vector", "datatype": "FP32", "shape": [-1, int(self.wv.vector_size)]}]
        elif self.is_recommender:
            inputs = [{"name": "user_id", "datatype": sig.get("user_datatype", "BYTES"), "shape": [-1]}]
            if self.is_sequential:  # or, instead of user ids, item histories
                inputs.append({"name": "history", "datatype": sig.get("item_datatype", "BYTES"),
                               "shape": [-1, -1]})
            outputs = [{"name": "item_id", "datatype": sig.get("item_datatype", "BYTES"), "shape": [-1, -1]},
                       {"name": "score", "datatype": "FP32", "shape": [-1, -1]}]
        elif sig.get("kind") == "text":
            inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
            outputs = [{"name": m, "datatype": "FP64", "shape": [-1]} for m in sig.get("methods", ["predict"])]
        elif sig.get("input_shape"):
            inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, *sig["input_shape"]]}]
            if has_variable_axis(sig.get("input_shapes")):
                # clips of different lengths: padded in input-0, real frame counts here
                inputs.append({"name": "lengths", "datatype": "INT64", "shape": [-1], "optional": True})
            outputs = [{"name": m, "datatype": "FP64", "shape": [-1]} for m in sig.get("methods", ["predict"])]
        else:
            inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, sig.get("n_features") or -1]}]
            outputs = [{"name": m, "datatype": "FP64", "shape": [-1]} for m in sig.get("methods", ["predict"])]
        return {"name": self.name, "versions": [str(self.version)], "platform": "maaskit",
                "estimator_class": self.record.estimator_class, "inputs": inputs, "outputs": outputs,
                "signature": sig}


def _history_method(estimator: Any) -> Callable | None:
    """The ``recommend_history`` of a sequential recommender (or of the one a wrapper holds)."""
    for est in (estimator, getattr(estimator, "estimator_", None)):
        fn = getattr(est, "recommend_history", None)
        if callable(fn):
            return fn
    return None
