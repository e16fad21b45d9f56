"""Micro-batching: concurrent requests for one model share one kernel call.

Requests are queued; one worker task takes up to ``max_batch`` of them, groups them by key
(e.g. ``(n, exclude_seen)``) and runs one call per group through ``runner`` (the server's
bounded worker pool), so the event loop keeps accepting requests meanwhile. The queue is
bounded too: past ``max_queue`` waiting requests a new one is refused with a 503. A lone request never waits: the worker starts at
once and only lingers (at most ``max_wait_ms``) when other requests are already queued,
i.e. when there is concurrency to exploit.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Callable, Hashable, Sequence

__all__ = ["MicroBatcher"]


class MicroBatcher:
    """Gather concurrent requests into bounded batches for one batched function.

    Parameters
    ----------
    fn : callable
        ``fn(key, items) -> results``: one result (or an Exception instance) per item, in
        order. Runs in a worker thread.
    max_batch : int, default=64
        Most requests per call.
    max_wait_ms : float, default=2.0
        Longest a request lingers for company, only when others are queued.
    on_batch : callable, default=None
        ``on_batch(size)`` after each call (metrics).
    run_in_thread : bool, default=True
        Run ``fn`` in a worker thread (the loop keeps parsing requests meanwhile).
    runner : coroutine function, default=None
        ``await runner(fn, key, items)`` runs a call (default: :func:`asyncio.to_thread`).
    max_queue : int, default=None
        Most requests waiting; beyond, :meth:`submit` raises a 503 ``APIError``.
    """

    def __init__(self, fn: Callable[[Hashable, list], Sequence[Any]], *, max_batch: int = 64,
                 max_wait_ms: float = 2.0, on_batch: Callable[[int], None] | None = None,
                 run_in_thread: bool = True, runner: Callable | None = None,
                 max_queue: int | None = None) -> None:
        self.fn = fn
        self.runner = runner
        self.max_queue = max_queue
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.on_batch = on_batch
        self.run_in_thread = run_in_thread
        self._queue: collections.deque = collections.deque()
        self._worker: asyncio.Task | None = None
        self._arrived: asyncio.Event | None = None

    async def submit(self, key: Hashable, item: Any) -> Any:
        """Queue one request and wait for its result.

        Parameters
        ----------
        key : hashable
            Requests with equal keys may share a call.
        item : object
            The request's argument.

        Returns
        -------
        result : object
        """
        if self.max_queue is not None and len(self._queue) >= self.max_queue:
            from .errors import APIError

            raise APIError(503, "overloaded", f"the server is busy ({len(self._queue)} requests queued); "
                                                  f"retry after 1 s.", {"limit": "queue", "value": self.max_queue},
                               headers={"Retry-After": "1"})
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append((key, item, fut))
        if self._arrived is not None:
            self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        return await fut

    async def _run(self) -> None:
        while self._queue:
            # Let already-received requests reach the queue (no timed wait for a lone one).
            await asyncio.sleep(0)
            if 1 < len(self._queue) < self.max_batch and self.max_wait > 0:
                await self._linger()
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            groups: dict[Hashable, list] = {}
            for entry in batch:
                groups.setdefault(entry[0], []).append(entry)
            for key, entries in groups.items():
                live = [e for e in entries if not e[2].cancelled()]
                if not live:
                    continue
                items = [e[1] for e in live]
                try:
                    if self.runner is not None:
                        results = await self.runner(self.fn, key, items)
                    elif self.run_in_thread:
                        results = await asyncio.to_thread(self.fn, key, items)
                    else:
                        results = self.fn(key, items)
                except Exception as exc:  # one failing call fails its requests, never the worker
                    results = [exc] * len(live)
                if self.on_batch is not None:
                    self.on_batch(len(live))
                for (_, _, fut), res in zip(live, results):
                    if fut.done():
                        continue
                    if isinstance(res, BaseException):
                        fut.set_exception(res)
                    else:
                        fut.set_result(res)

    async def _linger(self) -> None:
        deadline = time.perf_counter() + self.max_wait
        self._arrived = asyncio.Event()
        try:
            while len(self._queue) < self.max_batch:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except asyncio.TimeoutError:
                    break
        finally:
            self._arrived = None
