"""The cache of loaded models and hot reload.

:class:`ModelStore` resolves ``(name, version-or-alias)`` through the registry and keeps the
loaded estimators. It re-reads the catalogue's change stamp at most every
``reload_interval`` seconds; when the stamp moved (an alias was promoted, a key revoked),
resolutions are dropped so the next request picks up the new version.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..exceptions import ArtifactError
from ..registry import ModelNotFoundError, Registry, parse_ref, validate_name
from .batching import MicroBatcher
from .errors import APIError
from .limits import Limits
from .models import LoadedModel
from .pool import WorkerPool

__all__ = ["ModelStore"]


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
    limits : Limits, default=None
        Per-request limits given to every loaded model.
    pool : WorkerPool, default=None
        Where artifact loads run (a 2-thread pool when ``None``).
    light_pool : WorkerPool, default=None
        Where one-user recommendations and micro-batches run (``pool`` when ``None``).
    """

    def __init__(self, registry: Registry, *, reload_interval: float = 0.5, batching: Any = False,
                 max_batch: int = 64, max_wait_ms: float = 2.0, on_change: Callable[[], None] | None = None,
                 metrics: Any = None, limits: Limits | None = None, pool: WorkerPool | None = None,
                 light_pool: WorkerPool | None = None) -> None:
        self.registry = registry
        self.limits = limits or Limits()
        self.pool = pool or WorkerPool()
        self.light_pool = light_pool or self.pool
        # Catalogue stamp checks get their own thread: a full worker pool must not stop the
        # server from seeing a revoked key or a moved alias.
        self._io = ThreadPoolExecutor(1, thread_name_prefix="maaskit-catalogue")
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
            return MicroBatcher(fn, max_batch=self.max_batch, max_wait_ms=self.max_wait_ms, on_batch=on_batch,
                                runner=self.light_pool.run, max_queue=self.light_pool.capacity)

        return factory

    def refresh(self, force: bool = False) -> None:
        """Re-read the change stamp (at most every ``reload_interval`` unless ``force``).

        Parameters
        ----------
        force : bool, default=False
            Check now.
        """
        if not force and not self.due():
            return
        self._checked = time.monotonic()
        stamp = self.registry.stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self._resolved = {}
            if self.on_change is not None:
                self.on_change()

    def due(self) -> bool:
        """Whether the change stamp should be re-read now.

        Returns
        -------
        answer : bool
        """
        return time.monotonic() - self._checked >= self.reload_interval

    async def refresh_async(self, force: bool = False) -> None:
        """:meth:`refresh` on the catalogue thread (the event loop never reads SQLite).

        Parameters
        ----------
        force : bool, default=False
            Check now.
        """
        if force or self.due():
            await asyncio.get_running_loop().run_in_executor(self._io, self.refresh, force)

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
        await self.refresh_async()
        model = self._resolved.get((name, ref))
        if model is not None:
            return model
        return await self.pool.run(self._resolve, name, ref, where)

    def _resolve(self, name: str, ref: Any, where: str) -> LoadedModel:
        # Read the stamp before the catalogue: a resolution is cached only if nothing moved
        # in between, so a promotion racing with this load is never masked.
        stamp = self.registry.stamp()
        try:
            validate_name(name, where=where)
        except ValueError as exc:
            raise APIError(404, "unknown_model", str(exc), {"model": name}) from None
        try:
            mv = self.registry.get_version(name, parse_ref(ref, where))
        except ModelNotFoundError as exc:
            raise APIError(404, "unknown_model", str(exc), {"model": name}) from None
        except ValueError as exc:
            raise APIError(400, "invalid_argument", str(exc), {"model": name}) from None
        with self._lock:
            model = self._loaded.get((name, mv.version))
            if model is None or model.record.sha256 != mv.sha256:
                try:
                    _, est = self.registry.load_version(name, mv.version)
                except ModelNotFoundError as exc:  # deleted between resolution and load
                    raise APIError(404, "unknown_model", str(exc), {"model": name}) from None
                except ArtifactError as exc:
                    raise APIError(503, "artifact_error", str(exc), {"model": name, "version": mv.version}) from None
                model = LoadedModel(mv, est, self._batcher_factory(name) if self._batched(name) else None,
                                    limits=self.limits, pool=self.light_pool)
                if self.metrics is not None:
                    self.metrics.observe_load(name, mv.version)
                # Keep only versions something still resolves to, plus this one.
                live = {(m.name, m.version) for m in self._resolved.values()} | {(name, mv.version)}
                self._loaded = {k: v for k, v in self._loaded.items() if k in live}
                self._loaded[(name, mv.version)] = model
            if stamp == self._stamp:
                self._resolved[(name, ref)] = model
        return model
