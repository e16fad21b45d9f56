"""HTTP endpoints: Open Inference Protocol (KServe V2), ``/v1`` domain endpoints, metrics.

Every handler answers JSON; every mistake of the caller is a 4xx with
``{"error": {"type", "message", "detail"}}``; an unexpected failure is logged and answered
with a 500 of the same form, and the worker keeps serving.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Awaitable, Callable

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exceptions import ArtifactError
from ..registry import ModelNotFoundError, validate_alias, validate_name
from ..utils._json import json_default
from .errors import APIError, error_body
from .features import recommend_new_users
from .limits import check_json_depth
from .models import LoadedModel, _json_scores
from .ui import UI_FILES, load_ui_files, security_headers

__all__ = ["build_routes", "JSONResponse", "json_error"]

logger = logging.getLogger("maaskit.serving")


class JSONResponse(Response):
    """A compact JSON response (no NaN/Infinity: those are not JSON)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content``.

        Parameters
        ----------
        content : object
            JSON-able content.

        Returns
        -------
        body : bytes
        """
        return json.dumps(content, separators=(",", ":"), allow_nan=False, ensure_ascii=False,
                          default=json_default).encode()


def json_error(exc: APIError) -> JSONResponse:
    """The response for a :class:`APIError`.

    Parameters
    ----------
    exc : APIError

    Returns
    -------
    response : JSONResponse
    """
    return JSONResponse(error_body(exc.type, exc.message, exc.detail), status_code=exc.status, headers=exc.headers)


#: Values a request body may hold beyond its tensor elements (names, shapes, parameters).
_STRUCTURE_VALUES = 1000


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_body(request: Request, limit: int, timeout: float | None = None) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes with a 413.

    Parameters
    ----------
    request : Request
    limit : int
        Byte limit.
    timeout : float, default=None
        Seconds the whole body may take to arrive; a slower client gets a 408 and the
        connection is freed (a slow body must not hold a connection indefinitely).

    Returns
    -------
    body : bytes
    """
    if timeout is None:
        return await _read_body(request, limit)
    import asyncio

    try:
        return await asyncio.wait_for(_read_body(request, limit), timeout)
    except asyncio.TimeoutError:
        raise APIError(408, "request_timeout", f"the request body did not arrive within {timeout:g} s.",
                           {"limit": "timeout", "value": timeout}, headers={"Connection": "close"}) from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise APIError(400, "invalid_request", "Content-Length must be a number.")
        if int(declared) > limit:
            raise APIError(413, "payload_too_large", f"the request body must be at most {limit} bytes; "
                                                         f"got {int(declared)}.", {"limit": limit})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, "payload_too_large", f"the request body must be at most {limit} bytes.",
                               {"limit": limit})
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes, max_depth: int = 32, where: str = "the request", max_values: int | None = None) -> Any:
    """Decode a JSON body: 413 when nested deeper than ``max_depth`` (checked before
    parsing), 400 ``invalid_json`` when malformed.

    Parameters
    ----------
    body : bytes
        Raw body (size already bounded).
    max_depth : int, default=32
        Deepest ``[``/``{`` nesting.
    where : str, default="the request"
        For messages.
    max_values : int, default=None
        Most values the body may hold (refused before parsing beyond).

    Returns
    -------
    document : object
    """
    check_json_depth(body, max_depth, where, max_values)
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise APIError(400, "invalid_json", f"the request body is not valid JSON ({exc}).") from None


async def read_json(request: Request, limit: int, max_depth: int = 32) -> Any:
    """Read and decode a small JSON body on the event loop (alias moves: a few bytes).

    Parameters
    ----------
    request : Request
    limit : int
        Byte limit.
    max_depth : int, default=32
        Deepest nesting.

    Returns
    -------
    document : object
    """
    return parse_json(await read_body(request, limit), max_depth)


def _bool_param(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    low = value.lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no"):
        return False
    raise APIError(400, "invalid_argument", f"{name} must be true or false; got {value!r}.")


def build_routes(state: Any) -> list[Route]:
    """The routes of the service, bound to ``state`` (store, auth, metrics, settings).

    Parameters
    ----------
    state : ServerState
        See :func:`maaskit.serving.create_app`.

    Returns
    -------
    routes : list of Route
    """
    store, auth, metrics, pool, limits = state.store, state.auth, state.metrics, state.pool, state.limits

    def endpoint(template: str, fn: Callable[[Request], Awaitable[Response]]) -> Callable:
        async def handler(request: Request) -> Response:
            t0 = time.perf_counter()
            try:
                header_bytes = sum(len(k) + len(v) for k, v in request.scope["headers"])
                if header_bytes > limits.max_header_bytes:
                    raise APIError(431, "headers_too_large", f"the request headers must be at most "
                                                                 f"{limits.max_header_bytes} bytes; got {header_bytes}.",
                                       {"limit": "max_header_bytes", "value": limits.max_header_bytes},
                                       headers={"Connection": "close"})
                # Throttled catalogue check first, so a revoked key or a moved alias is seen
                # before this request is authenticated and routed.
                await store.refresh_async()
                response = await fn(request)
            except APIError as exc:
                response = json_error(exc)
            except Exception as exc:  # a bug must cost one 500, never the worker
                logger.exception("unhandled error on %s", template)
                response = JSONResponse(error_body("internal", f"internal error: {type(exc).__name__}"),
                                        status_code=500)
            metrics.observe_request(template, request.method, response.status_code, time.perf_counter() - t0)
            return response

        return handler

    def model_name(request: Request, key: str = "name") -> str:
        name = request.path_params.get(key) or request.query_params.get("model") or state.default_model
        if not name:
            raise APIError(400, "missing_model", "name the model: ?model=<name> (the server has no default model).")
        return name

    async def get_model(request: Request, name: str, ref: Any, where: str) -> LoadedModel:
        auth.require(request.headers, "read", name)
        return await store.get(name, ref, where)

    async def recommender_model(request: Request, where: str) -> LoadedModel:
        # /v1/recommend and /v1/similar: the model comes from ?model= (or the default)
        model = await get_model(request, model_name(request, "model"),
                                request.query_params.get("version"), where)
        model._require_recommender(where)
        return model

    def require_publish(request: Request, name: str, where: str, what: str) -> None:
        # 403 without a publish scope, or when the server was started without --allow-publish
        auth.require(request.headers, "publish", name)
        if not state.allow_publish:
            raise APIError(403, "publish_disabled", f"{where}: {what} over HTTP is disabled on this server; "
                                                         f"start it with --allow-publish.")

    # ------------------------------------------------------------------ V2 health and metadata
    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        try:
            await store.refresh_async(force=True)
        except Exception as exc:  # the catalogue is unreadable: not ready
            return JSONResponse({"ready": False, "reason": type(exc).__name__}, status_code=503)
        return JSONResponse({"ready": True})

    async def server_metadata(request: Request) -> Response:
        from .. import __version__

        return JSONResponse({"name": "maaskit", "version": __version__, "extensions": [],
                             "limits": limits.as_dict()})

    async def model_metadata(request: Request) -> Response:
        name = model_name(request)
        model = await get_model(request, name, request.path_params.get("version"), "GET /v2/models")
        return JSONResponse(model.metadata())

    async def model_ready(request: Request) -> Response:
        name = model_name(request)
        model = await get_model(request, name, request.path_params.get("version"), "GET /v2/models/ready")
        return JSONResponse({"name": model.name, "version": str(model.version), "ready": True})

    async def infer(request: Request) -> Response:
        name = model_name(request)
        where = f"POST /v2/models/{name}/infer"
        model = await get_model(request, name, request.path_params.get("version"), where)
        raw = await read_body(request, limits.max_body_bytes, pool.timeout)

        def work() -> Response:
            # Parsing, the model call and encoding the answer: all CPU, all in the pool.
            doc = parse_json(raw, limits.max_json_depth, where, limits.max_tensor_elements + _STRUCTURE_VALUES)
            return JSONResponse(model.infer(doc, where))

        return await pool.run(work)

    # ------------------------------------------------------------------ /v1 domain endpoints
    async def recommend(request: Request) -> Response:
        q = request.query_params
        where = "GET /v1/recommend"
        model = await recommender_model(request, where)
        n = model.check_n(q.get("n", "10"), where)
        exclude_seen = _bool_param(q.get("exclude_seen"), "exclude_seen", True)
        strict = _bool_param(q.get("strict"), "strict", False)
        raw = request.path_params["user_id"]
        keys, known, notes = model.resolve_ids([raw], "user", where, from_path=True, strict=strict)
        ids, scores, popularity = await model.recommend(keys, known, n, exclude_seen, where)
        body = {"model": model.name, "version": model.version, "user_id": raw if keys[0] is None else keys[0],
                "items": np.asarray(ids[0]).tolist(), "scores": _json_scores(np.asarray(scores[0])),
                "fallback": not bool(known[0])}
        if popularity is not None:
            body["popularity"] = _json_scores(popularity[0])
        if notes[0]:
            body["note"] = notes[0]
        return JSONResponse(body)

    async def recommend_posted(request: Request) -> Response:
        # POST /v1/recommend: a new user described by features (hybrid models, see
        # maaskit.serving.features) or a posted history (an anonymous session, a new user:
        # sequential models). The body says which.
        where = "POST /v1/recommend"
        model = await recommender_model(request, where)
        raw = await read_body(request, limits.max_body_bytes, pool.timeout)

        def work() -> Response:
            body = parse_json(raw, limits.max_json_depth, where, limits.max_tensor_elements + _STRUCTURE_VALUES)
            if isinstance(body, dict) and "user_features" in body:
                return JSONResponse(recommend_new_users(model, body, where))
            if not isinstance(body, dict) or "history" not in body:
                raise APIError(400, "invalid_request", f"{where}: the body must be an object with 'history', "
                                                       f"a list of item ids (oldest first), or 'user_features'.")
            model.require_sequential(where)
            extra = set(body) - {"history", "n", "exclude_seen"}
            if extra:
                raise APIError(400, "invalid_request", f"{where}: unknown field(s) {sorted(extra)!r:.120}; the "
                                                       f"body takes history, n and exclude_seen.")
            history = model.check_history(body["history"], where)
            n = model.check_n(body.get("n", 10), where)
            exclude_seen = body.get("exclude_seen", True)
            if not isinstance(exclude_seen, bool):
                raise APIError(400, "invalid_argument", f"{where}: exclude_seen must be a bool; got "
                                                        f"{exclude_seen!r:.40}.")
            ids, scores, popularity, known, n_unknown, notes = model.recommend_histories([history], n,
                                                                                         exclude_seen, where)
            out = {"model": model.name, "version": model.version, "items": np.asarray(ids[0]).tolist(),
                   "scores": _json_scores(np.asarray(scores[0])), "fallback": not bool(known[0]),
                   "unknown_items": n_unknown[0]}
            if popularity is not None:
                out["popularity"] = _json_scores(popularity[0])
            if notes[0]:
                out["note"] = notes[0]
            return JSONResponse(out)

        return await pool.run(work)

    async def similar(request: Request) -> Response:
        q = request.query_params
        where = "GET /v1/similar"
        model = await get_model(request, model_name(request, "model"), q.get("version"), where)
        if model.wv is not None:  # word vectors: the closest words
            n = model.check_n(q.get("n", "10"), where, available=len(model.wv) - 1)
            words, sims = await state.light_pool.run(model.similar_words, request.path_params["item_id"], n, where)
            return JSONResponse({"model": model.name, "version": model.version, "item_id": request.path_params["item_id"],
                                 "items": words, "scores": sims})
        model._require_recommender(where)
        # No fallback for an unknown item: nothing is similar to an item never seen.
        keys, _, _ = model.resolve_ids([request.path_params["item_id"]], "item", where, from_path=True,
                                       strict=True)
        item = keys[0]
        n = model.check_n(q.get("n", "10"), where, available=model.n_items - 1)
        ids, scores = await state.light_pool.run(model.similar, item, n)
        return JSONResponse({"model": model.name, "version": model.version, "item_id": item,
                             "items": np.asarray(ids).tolist(), "scores": _json_scores(np.asarray(scores))})

    async def vector(request: Request) -> Response:
        where = "GET /v1/vector"
        q = request.query_params
        model = await get_model(request, model_name(request, "model"), q.get("version"), where)
        if model.wv is None:
            raise APIError(400, "unsupported", f"{where}: model {model.name!r} holds no word vectors.")
        word = request.path_params["word"]
        vec = await state.light_pool.run(model.vector, word, where)
        return JSONResponse({"model": model.name, "version": model.version, "word": word, "vector": vec})

    async def predict(request: Request) -> Response:
        name = request.path_params["model"]
        where = f"POST /v1/predict/{name}"
        auth.require(request.headers, "read", name)
        raw = await read_body(request, limits.max_body_bytes, pool.timeout)
        body = await pool.run(parse_json, raw, limits.max_json_depth, where,
                              limits.max_tensor_elements + _STRUCTURE_VALUES)
        if not isinstance(body, dict):
            raise APIError(400, "invalid_request", f"{where}: the body must be an object with 'instances'.")
        method = body.get("method", "predict")
        if not isinstance(method, str):
            raise APIError(400, "invalid_request", f"{where}: method must be a string; got {method!r:.80}.")
        version = body.get("version", request.query_params.get("version"))
        if version is not None and not isinstance(version, (str, int)):
            raise APIError(400, "invalid_request", f"{where}: version must be a string or int.")
        strict = body.get("strict", False)
        if not isinstance(strict, bool):
            raise APIError(400, "invalid_argument", f"{where}: strict must be a bool; got {strict!r:.40}.")
        model = await store.get(name, version, where)

        def work() -> Response:
            result, extra = model.predict(body.get("instances"), method, where, strict=strict)
            data = result.tolist() if result.dtype.kind != "f" else (
                _json_scores(result.ravel()) if result.ndim == 1 else
                [_json_scores(row) for row in result.reshape(len(result), -1)])
            out = {"model": model.name, "version": model.version, "method": method, "predictions": data}
            out.update(extra or {})
            return JSONResponse(out)

        return await pool.run(work)

    # ------------------------------------------------------------------ catalogue
    async def list_models(request: Request) -> Response:
        key = auth.key_for(request.headers)
        q = request.query_params
        models = await pool.run(store.registry.list_models, search=q.get("search"), tag=q.get("tag"))
        return JSONResponse({"models": [m for m in models if auth.can(key, "read", m["name"])]})

    async def show_model(request: Request) -> Response:
        name = request.path_params["name"]
        key = auth.require(request.headers, "read", name)
        try:
            validate_name(name, where="GET /v1/models")
            versions = await pool.run(store.registry.versions, name, include_archived=True)
            signed = await pool.run(store.registry.signed_versions, name)
        except ValueError as exc:
            raise APIError(404, "unknown_model", str(exc), {"model": name}) from None
        if not versions:
            raise APIError(404, "unknown_model", f"GET /v1/models: no model named {name!r}.", {"model": name})
        # signed: true/false as the registry stored it, null when not recorded (older versions).
        records = [{**v.to_dict(), "signed": signed.get(v.version)} for v in versions]
        # can_promote: whether this key may move aliases here (the page shows Promote only then).
        return JSONResponse({"name": name, "versions": records,
                             "can_promote": bool(state.allow_publish and auth.can(key, "publish", name))})

    async def model_history(request: Request) -> Response:
        name = request.path_params["name"]
        where = f"GET /v1/models/{name}/history"
        auth.require(request.headers, "read", name)
        ref = request.query_params.get("version")

        def work() -> dict:
            mv = store.registry.get_version(name, ref)
            return {"name": name, "version": mv.version, "history": store.registry.history(name, mv.version)}

        try:
            validate_name(name, where=where)
            body = await pool.run(work)
        except ModelNotFoundError as exc:
            raise APIError(404, "unknown_model", str(exc), {"model": name}) from None
        except ValueError as exc:
            raise APIError(400, "invalid_argument", str(exc)) from None
        return JSONResponse(body)

    async def publish(request: Request) -> Response:
        name = request.path_params["name"]
        where = f"POST /v1/models/{name}"
        require_publish(request, name, where, "publishing")
        try:
            validate_name(name, where=where)
        except ValueError as exc:
            raise APIError(400, "invalid_name", str(exc)) from None
        meta_raw = request.query_params.get("meta", "{}")
        try:
            meta = json.loads(meta_raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise APIError(400, "invalid_json", f"{where}: the meta parameter is not valid JSON.") from None
        if not isinstance(meta, dict) or not set(meta) <= {"description", "tags", "metrics", "alias"}:
            raise APIError(400, "invalid_request", f"{where}: meta must be an object with description, tags, "
                                                       f"metrics, alias.")
        data = await read_body(request, state.max_artifact_bytes, max(pool.timeout, 300.0))
        try:
            mv = await pool.run(store.registry.publish_bytes, name, data, description=meta.get("description", ""),
                                  tags=meta.get("tags"), metrics=meta.get("metrics"), alias=meta.get("alias"))
        except (ArtifactError, ValueError, TypeError) as exc:
            raise APIError(400, "invalid_artifact", str(exc)) from None
        await store.refresh_async(force=True)
        return JSONResponse(mv.to_dict(), status_code=201)

    async def set_alias(request: Request) -> Response:
        name, alias = request.path_params["name"], request.path_params["alias"]
        where = f"PUT /v1/models/{name}/aliases/{alias}"
        require_publish(request, name, where, "changing aliases")
        body = await read_json(request, min(limits.max_body_bytes, 4096), limits.max_json_depth)
        version = body.get("version") if isinstance(body, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise APIError(400, "invalid_request", f"{where}: the body must be {{\"version\": <int>}}.")
        try:
            validate_name(name, where=where)
            validate_alias(alias, where)
            await pool.run(store.registry.set_alias, name, alias, version)
        except ModelNotFoundError as exc:
            raise APIError(404, "unknown_model", str(exc)) from None
        except ValueError as exc:
            raise APIError(400, "invalid_argument", str(exc)) from None
        await store.refresh_async(force=True)
        return JSONResponse({"name": name, "alias": alias, "version": version})

    # ------------------------------------------------------------------ ops
    async def prometheus(request: Request) -> Response:
        if not state.public_metrics:
            auth.require_scope(request.headers, "metrics")
        text, content_type = metrics.render_with_type()
        return Response(text, media_type=content_type)

    async def openapi(request: Request) -> Response:
        from .openapi import openapi_document

        return JSONResponse(openapi_document())

    # ------------------------------------------------------------------ the model market page
    ui_files = load_ui_files()
    ui_headers = security_headers()

    async def ui_page(request: Request) -> Response:
        # Public like /openapi.json: the page holds no data; what it shows needs a key.
        name = request.path_params.get("file", "index.html")
        if name not in ui_files:
            raise APIError(404, "not_found", f"GET /ui/{name:.60}: no such file.")
        return Response(ui_files[name], media_type=UI_FILES[name], headers=ui_headers)

    table = [
        # Hot routes first: Starlette tries routes in order.
        ("/v1/recommend/{user_id}", recommend, ["GET"]),
        ("/v1/recommend", recommend_posted, ["POST"]),
        ("/v2/models/{name}/infer", infer, ["POST"]),
        ("/v2/health/live", live, ["GET"]),
        ("/v2/health/ready", ready, ["GET"]),
        ("/v2", server_metadata, ["GET"]),
        ("/v2/models/{name}", model_metadata, ["GET"]),
        ("/v2/models/{name}/versions/{version}", model_metadata, ["GET"]),
        ("/v2/models/{name}/ready", model_ready, ["GET"]),
        ("/v2/models/{name}/versions/{version}/ready", model_ready, ["GET"]),
        ("/v2/models/{name}/versions/{version}/infer", infer, ["POST"]),
        ("/v1/similar/{item_id}", similar, ["GET"]),
        ("/v1/vector/{word}", vector, ["GET"]),
        ("/v1/predict/{model}", predict, ["POST"]),
        ("/v1/models", list_models, ["GET"]),
        ("/v1/models/{name}", show_model, ["GET"]),
        ("/v1/models/{name}", publish, ["POST"]),
        ("/v1/models/{name}/aliases/{alias}", set_alias, ["PUT"]),
        ("/v1/models/{name}/history", model_history, ["GET"]),
        ("/ui", ui_page, ["GET"]),
        ("/ui/{file}", ui_page, ["GET"]),
        ("/metrics", prometheus, ["GET"]),
        ("/openapi.json", openapi, ["GET"]),
    ]
    return [Route(path, endpoint(path, fn), methods=methods) for path, fn, methods in table]
