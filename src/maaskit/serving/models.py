"""Loaded models: id parsing, input checking and the calls the routes make, plus hot reload.

:class:`ModelStore` resolves ``(name, version-or-alias)`` through the registry and keeps the
loaded estimators. It re-reads the catalogue's change stamp at most every
``reload_interval`` seconds; when the stamp moved (an alias was promoted, a key revoked),
resolutions are dropped so the next request picks up the new version.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any, Callable

import numpy as np

from .._backend import get_kernel
from ..exceptions import ArtifactError, UnknownIdError
from ..registry import ModelNotFoundError, ModelVersion, Registry, parse_ref, validate_name
from ..recommender import BaseRecommender
from ..registry._signature import is_recommender, v2_datatype
from .batching import MicroBatcher
from .errors import ServiceError

__all__ = ["LoadedModel", "ModelStore", "decode_tensor", "V2_DATATYPES"]

#: Tensor datatypes of the Open Inference Protocol that maaskit accepts.
V2_DATATYPES = {"BOOL": np.bool_, "INT32": np.int32, "INT64": np.int64, "FP32": np.float32,
                "FP64": np.float64, "BYTES": object}
_MAX_N = 1000


def _bad(type_: str, message: str, detail: Any = None, status: int = 400) -> ServiceError:
    return ServiceError(status, type_, message, detail)


def decode_tensor(tensor: Any, where: str) -> tuple[str, np.ndarray, str]:
    """Check one V2 input tensor and return ``(name, array of its shape, datatype)``.

    Parameters
    ----------
    tensor : object
        Decoded JSON: ``{"name", "shape", "datatype", "data"}``.
    where : str
        For messages.

    Returns
    -------
    name : str
    array : ndarray
    datatype : str
    """
    if not isinstance(tensor, dict):
        raise _bad("invalid_request", f"{where}: each input must be an object with name, shape, datatype and data; "
                                      f"got {type(tensor).__name__}.")
    name, shape, datatype, data = (tensor.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str):
        raise _bad("invalid_request", f"{where}: input name must be a string; got {name!r}.")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31 for s in shape)):
        raise _bad("invalid_request", f"{where}: shape of input {name!r} must be a list of non-negative ints; "
                                      f"got {shape!r}.")
    if datatype not in V2_DATATYPES:
        raise _bad("invalid_datatype", f"{where}: datatype of input {name!r} must be one of "
                                       f"{sorted(V2_DATATYPES)}; got {datatype!r}.")
    if not isinstance(data, list):
        raise _bad("invalid_request", f"{where}: data of input {name!r} must be a list; got {type(data).__name__}.")
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        raise _bad("invalid_request", f"{where}: data of input {name!r} is ragged or mixes types.") from None
    kind = arr.dtype.kind
    ok = arr.size == 0 or {
        "BOOL": kind == "b", "INT32": kind in "iu", "INT64": kind in "iu",
        "FP32": kind in "iuf", "FP64": kind in "iuf", "BYTES": kind == "U",
    }[datatype]
    if not ok:
        raise _bad("datatype_mismatch", f"{where}: data of input {name!r} does not match datatype {datatype}.",
                   {"input": name, "datatype": datatype})
    expected = math.prod(shape)
    if arr.size != expected:
        raise _bad("shape_mismatch", f"{where}: input {name!r} has {arr.size} elements but shape {shape} "
                                     f"needs {expected}.", {"input": name, "shape": shape})
    arr = arr.astype(V2_DATATYPES[datatype], copy=False).reshape(shape)
    if datatype in ("FP32", "FP64") and not np.isfinite(arr).all():
        raise _bad("invalid_input", f"{where}: input {name!r} contains NaN or infinity.")
    return name, arr, datatype


def _json_scores(scores: np.ndarray) -> list:
    # -inf marks "no eligible item": JSON has no infinities, so those slots become null.
    out = scores.astype(np.float64)
    if np.isfinite(out).all():
        return out.tolist()
    return [None if not math.isfinite(v) else v for v in out.tolist()]


class LoadedModel:
    """One loaded model version and the checked calls the HTTP routes make on it.

    Parameters
    ----------
    version : ModelVersion
        Catalogue record.
    estimator : estimator
        The loaded estimator.
    batcher_factory : callable, default=None
        ``batcher_factory(fn) -> MicroBatcher`` when micro-batching is on for this model.
    """

    def __init__(self, version: ModelVersion, estimator: Any,
                 batcher_factory: Callable[[Callable], MicroBatcher] | None = None) -> None:
        self.record = version
        self.name = version.name
        self.version = version.version
        self.estimator = estimator
        self.is_recommender = is_recommender(estimator)
        self.signature = version.signature or {}
        self.batcher = None
        if self.is_recommender:
            users = np.asarray(estimator.user_index_.ids)
            items = np.asarray(estimator.item_index_.ids)
            self._user_kind, self._item_kind = users.dtype.kind, items.dtype.kind
            self._user_dtype = users.dtype if users.dtype.kind in "iuf" else object
            # A dict answers "is this id known?" (and where) faster than an index lookup.
            self._users = {u: k for k, u in enumerate(users.tolist())}
            self._items = dict.fromkeys(items.tolist())
            self._item_ids = items
            inner = getattr(estimator, "estimator_", estimator)
            self._inner = None
            if isinstance(inner, BaseRecommender):
                self._prepare_topk(inner)
            self.n_items = len(items)
            if batcher_factory is not None:
                self.batcher = batcher_factory(self._recommend_batch)

    # ------------------------------------------------------------------ ids
    @staticmethod
    def _convert(raw: Any, kind: str) -> Any:
        if isinstance(raw, bool):
            return None
        if kind in "iu":
            if isinstance(raw, int):
                return raw
            if isinstance(raw, str) and raw.lstrip("-").isdigit() and len(raw) < 40:
                return int(raw)
            return None
        if kind == "f":
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
        return raw if isinstance(raw, str) else (str(raw) if isinstance(raw, int) else None)

    def user_id(self, raw: Any, where: str) -> Any:
        """Convert a request's user id to the model's id type; 404 when unknown.

        Parameters
        ----------
        raw : str or int
            As received.
        where : str
            For messages.

        Returns
        -------
        user : object
        """
        return self._known_id(raw, "user", self._user_kind, self._users, where)

    def item_id(self, raw: Any, where: str) -> Any:
        """Convert a request's item id to the model's id type; 404 when unknown.

        Parameters
        ----------
        raw : str or int
            As received.
        where : str
            For messages.

        Returns
        -------
        item : object
        """
        return self._known_id(raw, "item", self._item_kind, self._items, where)

    def _known_id(self, raw: Any, entity: str, kind: str, known: Any, where: str) -> Any:
        """Convert ``raw`` with :meth:`_convert`; 404 ``unknown_<entity>`` when not in ``known``."""
        key = self._convert(raw, kind)
        if key is None or key not in known:
            raise ServiceError(404, f"unknown_{entity}",
                               str(UnknownIdError(entity, [raw], len(known), where)),
                               {f"{entity}_id": raw if isinstance(raw, (str, int)) else repr(raw)})
        return key

    def check_n(self, n: Any, where: str, limit: int | None = None) -> int:
        """Check ``n`` (how many items) against the catalogue size; 400 when out of range.

        Parameters
        ----------
        n : object
            Requested count.
        where : str
            For messages.
        limit : int, default=None
            Largest valid ``n``; defaults to the number of items.

        Returns
        -------
        n : int
        """
        limit = min(self.n_items if limit is None else limit, _MAX_N)
        if isinstance(n, str):
            n = int(n) if n.isdigit() and len(n) < 10 else n
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= limit:
            raise _bad("invalid_argument", f"{where}: n must be an int in [1, {limit}]; got {n!r}.")
        return n

    def _require_recommender(self, where: str) -> None:
        if not self.is_recommender:
            raise _bad("unsupported", f"{where}: model {self.name!r} is not a recommender; "
                                      f"use POST /v1/predict/{self.name} or the V2 infer endpoint.")

    # ------------------------------------------------------------------ recommend
    def _recommend_batch(self, key: tuple, user_lists: list) -> list:
        n, exclude_seen = key
        flat = [u for users in user_lists for u in users]
        if self._inner is not None:
            ids, scores = self._topk(flat, n, exclude_seen)
        else:
            ids, scores = self.estimator.recommend(np.array(flat, dtype=self._user_dtype), n=n,
                                                   exclude_seen=exclude_seen, output="numpy")
        out, s = [], 0
        for users in user_lists:
            out.append((ids[s : s + len(users)], scores[s : s + len(users)]))
            s += len(users)
        return out

    def _prepare_topk(self, inner: BaseRecommender) -> None:
        # Per-load work that BaseRecommender.recommend repeats on every call: the item
        # matrix as contiguous float32 and the top-k kernel module. A served model is
        # read-only, so both stay valid for the life of this LoadedModel.
        self._inner = inner
        self._V = np.ascontiguousarray(inner._item_vectors(), dtype=np.float32)
        self._kernel = get_kernel("topk", inner._topk_backend())
        self._seen_indptr = np.asarray(inner.seen_indptr_, dtype=np.int64)
        self._seen_indices = np.ascontiguousarray(inner.seen_indices_, dtype=np.int32)

    def _topk(self, users: list, n: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        # The kernel path of BaseRecommender.recommend for known users (same scores, same
        # top-k kernel, same clipping), minus its per-call validation: ids were checked
        # against a dict already. Tests and the benchmark compare with model.recommend.
        inner = self._inner
        k = len(users)
        uidx = np.fromiter((self._users[u] for u in users), dtype=np.int64, count=k)
        S = np.ascontiguousarray(inner._user_vectors(uidx) @ self._V.T, dtype=np.float32)
        if exclude_seen:
            starts, ends = self._seen_indptr[uidx], self._seen_indptr[uidx + 1]
            if k == 1:
                indptr = np.array([0, ends[0] - starts[0]], dtype=np.int64)
                indices = self._seen_indices[starts[0]:ends[0]]
            else:
                counts = ends - starts
                indptr = np.zeros(k + 1, dtype=np.int64)
                np.cumsum(counts, out=indptr[1:])
                pos = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
                indices = np.ascontiguousarray(self._seen_indices[pos])
        else:
            indptr = np.zeros(k + 1, dtype=np.int64)
            indices = np.empty(0, dtype=np.int32)
        out_idx = np.empty((k, n), dtype=np.int32)
        out_scores = np.empty((k, n), dtype=np.float32)
        self._kernel.topk_rows(S, indptr, indices, n, out_idx, out_scores, 1)
        if not inner._implicit:
            lo, hi = inner.rating_range_
            finite = np.isfinite(out_scores)
            out_scores[finite] = np.clip(out_scores[finite], lo, hi)
        return self._item_ids[np.maximum(out_idx, 0)], out_scores

    async def recommend(self, users: list, n: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` for known users (already converted), micro-batched when enabled.

        Parameters
        ----------
        users : list
            Known user ids.
        n : int
            Items per user.
        exclude_seen : bool
            Leave out seen items.

        Returns
        -------
        ids, scores : ndarray of shape (len(users), n)
        """
        if self.batcher is not None:
            return await self.batcher.submit((n, exclude_seen), users)
        return self._recommend_batch((n, exclude_seen), [users])[0]

    def similar(self, item: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` most similar items to a known item.

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
        ids, scores = self.estimator.similar_items(np.array([item], dtype=object if self._item_kind not in "iuf"
                                                            else None), n=n, output="numpy")
        return ids[0], scores[0]

    # ------------------------------------------------------------------ predict
    def predict(self, instances: Any, method: str, where: str) -> np.ndarray:
        """Run ``predict``-like ``method`` on JSON instances (rows, or user/item pairs).

        Parameters
        ----------
        instances : list
            Rows of features, or ``[user, item]`` pairs for a recommender.
        method : str
            ``predict``, ``predict_proba``, ``decision_function`` or ``transform``.
        where : str
            For messages.

        Returns
        -------
        result : ndarray
        """
        if not isinstance(instances, list) or not instances:
            raise _bad("invalid_request", f"{where}: instances must be a non-empty list; got {instances!r:.80}.")
        if self.is_recommender:
            if method != "predict":
                raise _bad("unsupported", f"{where}: a recommender supports method 'predict' only; got {method!r}.")
            pairs = np.empty((len(instances), 2), dtype=object)
            for k, pair in enumerate(instances):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _bad("shape_mismatch", f"{where}: each instance must be a [user, item] pair; "
                                                 f"got {pair!r:.80}.")
                pairs[k, 0] = self.user_id(pair[0], where)
                pairs[k, 1] = self.item_id(pair[1], where)
            return self._call("predict", pairs, where)
        if self.signature.get("kind") == "text":
            if not all(isinstance(t, str) for t in instances):
                raise _bad("invalid_input", f"{where}: model {self.name!r} takes texts: instances must be a "
                                            f"list of strings.")
            return self._call(method, list(instances), where)
        try:
            X = np.asarray(instances, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise _bad("invalid_input", f"{where}: instances must be rows of numbers of equal length.") from None
        return self._call(method, self._check_rows(X, where), where)

    def _check_rows(self, X: np.ndarray, where: str) -> np.ndarray:
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
    async def infer(self, body: Any, where: str) -> dict:
        """Answer a V2 inference request.

        Parameters
        ----------
        body : object
            Decoded JSON request: ``{"id"?, "inputs": [...], "outputs"?: [...], "parameters"?}``.
        where : str
            For messages.

        Returns
        -------
        response : dict
        """
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
            raise _bad("invalid_request", f"{where}: the request must be an object with a non-empty 'inputs' list.")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise _bad("invalid_request", f"{where}: parameters must be an object; got {params!r:.80}.")
        req_id = body.get("id")
        if req_id is not None and not isinstance(req_id, str):
            raise _bad("invalid_request", f"{where}: id must be a string; got {req_id!r:.80}.")
        tensors = [decode_tensor(t, where) for t in body["inputs"]]
        requested = body.get("outputs")
        if requested is not None:
            if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                          for o in requested):
                raise _bad("invalid_request", f"{where}: outputs must be a list of objects with a name.")
            requested = [o["name"] for o in requested]
        if self.is_recommender:
            outputs = await self._infer_recommend(tensors, params, requested, where)
        else:
            outputs = self._infer_tabular(tensors, requested, where)
        out = {"model_name": self.name, "model_version": str(self.version), "outputs": outputs}
        if req_id is not None:
            out["id"] = req_id
        return out

    async def _infer_recommend(self, tensors: list, params: dict, requested: list | None, where: str) -> list:
        if len(tensors) != 1:
            raise _bad("invalid_request", f"{where}: a recommender takes one input tensor of user ids; "
                                          f"got {len(tensors)}.")
        name, arr, datatype = tensors[0]
        expected = self.signature.get("user_datatype", "BYTES")
        if datatype != expected and not (expected == "INT64" and datatype == "INT32"):
            raise _bad("datatype_mismatch", f"{where}: input {name!r} must have datatype {expected} "
                                            f"(the model's user ids); got {datatype}.")
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1 or arr.shape[0] == 0:
            raise _bad("shape_mismatch", f"{where}: input {name!r} must have shape [n_users] or [n_users, 1] "
                                         f"with n_users >= 1; got {list(arr.shape)}.")
        n = self.check_n(params.get("n", 10), where)
        exclude_seen = params.get("exclude_seen", True)
        if not isinstance(exclude_seen, bool):
            raise _bad("invalid_argument", f"{where}: exclude_seen must be a bool; got {exclude_seen!r}.")
        users = [self.user_id(u, where) for u in arr.tolist()]
        ids, scores = await self.recommend(users, n, exclude_seen)
        shape = [len(users), n]
        names = requested or ["item_id", "score"]
        outs = []
        for o in names:
            if o == "item_id":
                outs.append({"name": "item_id", "datatype": v2_datatype(np.asarray(ids)), "shape": shape,
                             "data": np.asarray(ids).ravel().tolist()})
            elif o == "score":
                outs.append({"name": "score", "datatype": "FP32", "shape": shape,
                             "data": _json_scores(np.asarray(scores).ravel())})
            else:
                raise _bad("invalid_request", f"{where}: unknown output {o!r}; a recommender gives 'item_id' and 'score'.")
        return outs

    def _infer_tabular(self, tensors: list, requested: list | None, where: str) -> list:
        if len(tensors) != 1:
            raise _bad("invalid_request", f"{where}: this model takes one input tensor; got {len(tensors)}.")
        name, arr, datatype = tensors[0]
        if self.signature.get("kind") == "text":
            if datatype != "BYTES" or not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
                raise _bad("datatype_mismatch" if datatype != "BYTES" else "shape_mismatch",
                           f"{where}: model {self.name!r} takes texts: input {name!r} must be BYTES of shape "
                           f"[n] or [n, 1]; got {datatype} {list(arr.shape)}.")
            X: Any = [str(t) for t in arr.ravel().tolist()]
        elif datatype not in ("FP32", "FP64", "INT32", "INT64"):
            raise _bad("datatype_mismatch", f"{where}: input {name!r} must be numeric (FP32, FP64, INT32, INT64); "
                                            f"got {datatype}.")
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
        if self.is_recommender:
            inputs = [{"name": "user_id", "datatype": sig.get("user_datatype", "BYTES"), "shape": [-1]}]
            outputs = [{"name": "item_id", "datatype": sig.get("item_datatype", "BYTES"), "shape": [-1, -1]},
                       {"name": "score", "datatype": "FP32", "shape": [-1, -1]}]
        elif sig.get("kind") == "text":
            inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
            outputs = [{"name": m, "datatype": "FP64", "shape": [-1]} for m in sig.get("methods", ["predict"])]
        else:
            inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, sig.get("n_features") or -1]}]
            outputs = [{"name": m, "datatype": "FP64", "shape": [-1]} for m in sig.get("methods", ["predict"])]
        return {"name": self.name, "versions": [str(self.version)], "platform": "maaskit",
                "estimator_class": self.record.estimator_class, "inputs": inputs, "outputs": outputs,
                "signature": sig}


class ModelStore:
    """Resolve and cache loaded models; follow alias moves (hot reload).

    Parameters
    ----------
    registry : Registry
        The catalogue.
    reload_interval : float, default=0.5
        Seconds between checks of the catalogue's change stamp.
    batching : bool or collection of str, default=False
        Micro-batch ``recommend`` for every model (``True``) or for these model names.
    max_batch : int, default=64
        Largest micro-batch.
    max_wait_ms : float, default=2.0
        Longest a request lingers for company (never when alone).
    on_change : callable, default=None
        Called with no argument when the stamp moved (e.g. to clear an auth cache).
    metrics : Metrics, default=None
        Where batch sizes and loads are counted.
    """

    def __init__(self, registry: Registry, *, reload_interval: float = 0.5, batching: Any = False,
                 max_batch: int = 64, max_wait_ms: float = 2.0, on_change: Callable[[], None] | None = None,
                 metrics: Any = None) -> None:
        self.registry = registry
        self.reload_interval = reload_interval
        self.batching = batching
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.on_change = on_change
        self.metrics = metrics
        self._resolved: dict[tuple, LoadedModel] = {}
        self._loaded: dict[tuple, LoadedModel] = {}
        self._stamp: int | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _batched(self, name: str) -> bool:
        if isinstance(self.batching, bool):
            return self.batching
        return name in self.batching

    def _batcher_factory(self, name: str) -> Callable[[Callable], MicroBatcher]:
        metrics = self.metrics

        def on_batch(size: int) -> None:
            if metrics is not None:
                metrics.observe_batch(name, size)

        def factory(fn: Callable) -> MicroBatcher:
            return MicroBatcher(fn, max_batch=self.max_batch, max_wait_ms=self.max_wait_ms, on_batch=on_batch)

        return factory

    def refresh(self, force: bool = False) -> None:
        """Re-read the change stamp (at most every ``reload_interval`` unless ``force``).

        Parameters
        ----------
        force : bool, default=False
            Check now.
        """
        now = time.monotonic()
        if not force and now - self._checked < self.reload_interval:
            return
        self._checked = now
        stamp = self.registry.stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self._resolved = {}
            if self.on_change is not None:
                self.on_change()

    async def get(self, name: str, ref: Any, where: str) -> LoadedModel:
        """The loaded model for ``name`` at ``ref`` (404 when unknown).

        Parameters
        ----------
        name : str
            Model name.
        ref : None, int or str
            Version, alias, ``latest`` or ``None`` (production alias, else latest).
        where : str
            For messages.

        Returns
        -------
        model : LoadedModel
        """
        self.refresh()
        key = (name, ref)
        model = self._resolved.get(key)
        if model is not None:
            return model
        return await asyncio.to_thread(self._resolve, name, ref, where)

    def _resolve(self, name: str, ref: Any, where: str) -> LoadedModel:
        # Read the stamp before the catalogue: a resolution is cached only if nothing moved
        # in between, so a promotion racing with this load is never masked.
        stamp = self.registry.stamp()
        try:
            validate_name(name, where=where)
        except ValueError as exc:
            raise ServiceError(404, "unknown_model", str(exc), {"model": name}) from None
        try:
            mv = self.registry.get_version(name, parse_ref(ref, where))
        except ModelNotFoundError as exc:
            raise ServiceError(404, "unknown_model", str(exc), {"model": name}) from None
        except ValueError as exc:
            raise ServiceError(400, "invalid_argument", str(exc), {"model": name}) from None
        with self._lock:
            model = self._loaded.get((name, mv.version))
            if model is None or model.record.sha256 != mv.sha256:
                try:
                    _, est = self.registry.load_version(name, mv.version)
                except ModelNotFoundError as exc:  # deleted between resolution and load
                    raise ServiceError(404, "unknown_model", str(exc), {"model": name}) from None
                except ArtifactError as exc:
                    raise ServiceError(503, "artifact_error", str(exc), {"model": name, "version": mv.version}) from None
                model = LoadedModel(mv, est, self._batcher_factory(name) if self._batched(name) else None)
                if self.metrics is not None:
                    self.metrics.observe_load(name, mv.version)
                # Keep only versions something still resolves to, plus this one.
                live = {(m.name, m.version) for m in self._resolved.values()} | {(name, mv.version)}
                self._loaded = {k: v for k, v in self._loaded.items() if k in live}
                self._loaded[(name, mv.version)] = model
            if stamp == self._stamp:
                self._resolved[(name, ref)] = model
        return model
