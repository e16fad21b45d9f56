"""The Starlette application factory and a uvicorn runner (``maaskit serve``)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..registry import Registry
from .auth import Authenticator
from .errors import error_body
from .limits import Limits
from .metrics import Metrics
from .store import ModelStore
from .pool import WorkerPool
from .routes import JSONResponse, build_routes

__all__ = ["create_app", "run", "ServerState", "check_exposure"]

logger = logging.getLogger("maaskit.serving")

_HTTP_TYPES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_exposure(*, auth: bool, allow_publish: bool, host: str | None = None, insecure: bool = False) -> None:
    """Refuse settings that would expose a registry without keys.

    ``auth=False`` with ``allow_publish`` would let anyone replace a model: always refused.
    ``auth=False`` on a host other than loopback lets anyone on the network query: refused
    unless ``insecure`` says it is meant.

    Parameters
    ----------
    auth : bool
        API keys required.
    allow_publish : bool
        Publishing over HTTP accepted.
    host : str, default=None
        Interface to bind (``None``: not known here, e.g. an app mounted elsewhere).
    insecure : bool, default=False
        Accept ``auth=False`` on a non-loopback host.
    """
    if not auth and allow_publish:
        raise ValueError("serve: --no-auth and --allow-publish together would let anyone publish models; "
                         "drop one of them.")
    if not auth and host is not None and host not in _LOOPBACK and not host.startswith("127.") and not insecure:
        raise ValueError(f"serve: --no-auth on host {host!r} lets anyone on the network query the models; "
                         f"bind 127.0.0.1, or add --insecure to mean it.")


@dataclass
class ServerState:
    """What the routes share: the model store, the authenticator, metrics and limits.

    Parameters
    ----------
    store : ModelStore
        Loaded models and hot reload.
    auth : Authenticator
        API-key checks.
    metrics : Metrics
        Prometheus metrics.
    allow_publish : bool
        Whether ``POST /v1/models/{name}`` and alias moves are accepted.
    max_body_bytes : int
        Limit on JSON request bodies.
    max_artifact_bytes : int
        Limit on published artifacts.
    default_model : str or None
        Model used by ``/v1/recommend`` and ``/v1/similar`` without ``?model=``.
    limits : Limits
        Per-request limits.
    pool : WorkerPool
        Where heavy work runs: infer, predict, catalogue reads, artifact loads.
    light_pool : WorkerPool
        The lane of one-user ``/v1/recommend`` and ``/v1/similar`` calls, so that they never
        queue behind the largest allowed requests (same size and deadline).
    public_metrics : bool
        ``/metrics`` without a key.
    """

    store: ModelStore
    auth: Authenticator
    metrics: Metrics
    allow_publish: bool = False
    max_body_bytes: int = 1 << 20
    max_artifact_bytes: int = 256 << 20
    default_model: str | None = None
    limits: Limits = Limits()
    pool: WorkerPool | None = None
    light_pool: WorkerPool | None = None
    public_metrics: bool = False


def create_app(registry: Registry | str | os.PathLike | None = None, *, auth: bool = True,
               allow_publish: bool = False, batching: Any = False, max_batch: int = 64,
               max_wait_ms: float = 2.0, reload_interval: float = 0.5, max_body_bytes: int = 1 << 20,
               max_artifact_bytes: int = 256 << 20, default_model: str | None = None, max_users: int = 1000,
               max_n: int = 1000, max_output_cells: int = 100_000, max_tensor_elements: int = 250_000,
               max_json_depth: int = 32, max_history: int = 10_000, max_header_bytes: int = 32 << 10, workers: int = 2, queue: int = 64,
               timeout: float = 30.0, public_metrics: bool = False) -> Starlette:
    """Build the ASGI application that serves a registry's models.

    Parameters
    ----------
    registry : Registry, str or path-like, default=None
        The registry (or its folder; ``None`` uses ``$MAASKIT_HOME`` or ``~/.maaskit``).
    auth : bool, default=True
        Require API keys (see :meth:`maaskit.registry.Registry.create_key`).
    allow_publish : bool, default=False
        Accept publishing and alias moves over HTTP (still needs a ``publish`` scope).
    batching : bool or collection of str, default=False
        Micro-batch recommendations for all models (``True``) or for these names.
    max_batch : int, default=64
        Largest micro-batch.
    max_wait_ms : float, default=2.0
        Longest a request lingers for company when others are queued (a lone request
        never waits).
    reload_interval : float, default=0.5
        Seconds between checks for alias moves and key revocations.
    max_body_bytes : int, default=1048576
        Limit on JSON request bodies (413 beyond).
    max_artifact_bytes : int, default=268435456
        Limit on artifacts published over HTTP.
    default_model : str, default=None
        Model that ``/v1/recommend`` and ``/v1/similar`` use without ``?model=``.
    max_users, max_n, max_output_cells, max_tensor_elements, max_json_depth, max_history, max_header_bytes : int
        Per-request limits; see :class:`~maaskit.serving.limits.Limits` (413/422 beyond).
    workers : int, default=2
        Threads running model calls, JSON work, catalogue reads and artifact loads; as many
        again serve one-user ``/v1/recommend`` and ``/v1/similar`` in a lane of their own,
        so that those never wait behind large ``infer`` or ``predict`` requests.
    queue : int, default=64
        Requests that may wait for a worker (per lane); beyond, 503 with ``Retry-After``.
    timeout : float, default=30.0
        Seconds a request waits for its work before a 504.
    public_metrics : bool, default=False
        Serve ``/metrics`` without a key (otherwise a key with the ``metrics`` scope).

    Returns
    -------
    app : Starlette
        The application; ``app.state.maaskit`` holds the :class:`ServerState`.
    """
    check_exposure(auth=auth, allow_publish=allow_publish)
    limits = Limits(max_body_bytes=max_body_bytes, max_users=max_users, max_n=max_n,
                    max_output_cells=max_output_cells, max_tensor_elements=max_tensor_elements,
                    max_json_depth=max_json_depth, max_history=max_history, max_header_bytes=max_header_bytes)
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    pool = WorkerPool(workers, queue, timeout)
    light_pool = WorkerPool(workers, queue, timeout)
    metrics = Metrics(pools=(pool, light_pool))
    authenticator = Authenticator(reg, enabled=auth)
    store = ModelStore(reg, reload_interval=reload_interval, batching=batching, max_batch=max_batch,
                       max_wait_ms=max_wait_ms, on_change=authenticator.invalidate, metrics=metrics,
                       limits=limits, pool=pool, light_pool=light_pool)
    state = ServerState(store=store, auth=authenticator, metrics=metrics, allow_publish=allow_publish,
                        max_body_bytes=max_body_bytes, max_artifact_bytes=max_artifact_bytes,
                        default_model=default_model, limits=limits, pool=pool, light_pool=light_pool,
                        public_metrics=public_metrics)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", None)
        message = f"{request.method} {request.url.path}: {detail or 'error'}"
        return JSONResponse(error_body(_HTTP_TYPES.get(status, "http_error"), message), status_code=status,
                            headers=getattr(exc, "headers", None))

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal", f"internal error: {type(exc).__name__}"), status_code=500)

    app = Starlette(routes=build_routes(state),
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.maaskit = state
    return app


def run(registry: Registry | str | os.PathLike | None = None, *, host: str = "127.0.0.1", port: int = 8000,
        ssl_certfile: str | None = None, ssl_keyfile: str | None = None, log_level: str = "info",
        access_log: bool = False, kernel_threads: int | None = 1, http: str = "auto", loop: str = "auto",
        insecure: bool = False, max_connections: int | None = 200, **app_kwargs: Any) -> None:
    """Serve a registry with uvicorn (blocking), over HTTPS when a certificate is given.

    Parameters
    ----------
    registry : Registry, str or path-like, default=None
        The registry or its folder.
    host : str, default="127.0.0.1"
        Interface to bind.
    port : int, default=8000
        TCP port.
    ssl_certfile : str, default=None
        PEM certificate (chain); with ``ssl_keyfile``, serves HTTPS.
    ssl_keyfile : str, default=None
        PEM private key.
    log_level : str, default="info"
        uvicorn log level.
    access_log : bool, default=False
        Log every request (costs throughput).
    kernel_threads : int or None, default=1
        Threads per kernel and BLAS call in this process. A server runs many small calls
        concurrently, and on a busy machine a 2-thread team for a one-user top-k costs tens
        of milliseconds of spin-waiting, so one thread per call is the default. ``None``
        leaves the process settings alone.
    http : {"auto", "h11", "httptools"}, default="auto"
        HTTP parser; ``auto`` takes httptools (C, faster) when installed, else h11.
    loop : {"auto", "asyncio", "uvloop"}, default="auto"
        Event loop; ``auto`` takes uvloop when installed.
    insecure : bool, default=False
        Allow ``auth=False`` on a host other than loopback.
    max_connections : int or None, default=200
        Connections and requests in progress at once (uvicorn's ``limit_concurrency``; 503
        beyond). With the body limit, this bounds the memory that bodies being received can
        take (``max_connections x max_body_bytes``).
    **app_kwargs
        Passed to :func:`create_app`.
    """
    import uvicorn

    check_exposure(auth=app_kwargs.get("auth", True), allow_publish=app_kwargs.get("allow_publish", False),
                   host=host, insecure=insecure)
    if kernel_threads is not None:
        from threadpoolctl import threadpool_limits

        from .._config import set_config

        set_config(n_threads=int(kernel_threads))
        # Kept for the life of the process (a server process runs nothing else).
        threadpool_limits(limits=int(kernel_threads))
    # The event loop shares the GIL with the workers: a 1 ms switch interval (default 5 ms)
    # lets it answer small requests while a large one holds a worker in Python code.
    import sys

    sys.setswitchinterval(0.001)
    app = create_app(registry, **app_kwargs)
    # h11_max_incomplete_event_size bounds the header block a client may send (h11 parser);
    # httptools has its own fixed limits. timeout_keep_alive drops idle and slow clients.
    uvicorn.run(app, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                log_level=log_level, access_log=access_log, lifespan="off", http=http, loop=loop,
                h11_max_incomplete_event_size=64 * 1024, timeout_keep_alive=5, limit_concurrency=max_connections)
