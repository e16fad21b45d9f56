"""The bounded worker pool: CPU work off the event loop, load shedding and deadlines.

Model calls, JSON decoding and encoding, SQLite reads and artifact loads run here, never on
the event loop, so the loop keeps accepting and answering requests (health checks, errors,
other models) while a large request computes. The pool admits at most
``workers + queue`` jobs; one more is refused at once with a 503 and ``Retry-After``
(load shedding) rather than queued without bound. A job that has not finished within
``timeout`` seconds answers 504; its thread cannot be interrupted, so its slot stays taken
until it ends, which keeps the admission count honest.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .errors import APIError

__all__ = ["WorkerPool"]


class WorkerPool:
    """A thread pool with a bounded queue and a per-job deadline.

    Parameters
    ----------
    workers : int, default=2
        Threads running jobs (kernels release the GIL, so up to the number of cores pays).
    queue : int, default=64
        Jobs that may wait for a thread; beyond ``workers + queue`` jobs in the pool, a new
        one is refused with 503.
    timeout : float, default=30.0
        Seconds a request waits for its job before a 504.
    retry_after : int, default=1
        Seconds suggested by the ``Retry-After`` header of a 503.
    """

    def __init__(self, workers: int = 2, queue: int = 64, timeout: float = 30.0, retry_after: int = 1) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"WorkerPool: workers must be an int >= 1; got {workers!r}.")
        if not isinstance(queue, int) or queue < 0:
            raise ValueError(f"WorkerPool: queue must be an int >= 0; got {queue!r}.")
        if not timeout > 0:
            raise ValueError(f"WorkerPool: timeout must be > 0; got {timeout!r}.")
        self.workers = workers
        self.capacity = workers + queue
        self.timeout = float(timeout)
        self.retry_after = int(retry_after)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="maaskit-worker")
        # A plain lock, not an asyncio primitive: tests drive one app from several event loops.
        self._lock = threading.Lock()
        self.in_flight = 0
        self.shed = 0
        self.timed_out = 0

    def _release(self, _future: Any = None) -> None:
        with self._lock:
            self.in_flight -= 1

    async def run(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in a worker thread; 503 when full, 504 past the deadline.

        Parameters
        ----------
        fn : callable
        *args, **kwargs
            Its arguments.

        Returns
        -------
        result : object
            What ``fn`` returned (its exceptions propagate).
        """
        with self._lock:
            if self.in_flight >= self.capacity:
                self.shed += 1
                raise APIError(503, "overloaded", f"the server is busy ({self.capacity} requests in progress); "
                                                      f"retry after {self.retry_after} s.",
                                   {"limit": "queue", "value": self.capacity},
                                   headers={"Retry-After": str(self.retry_after)})
            self.in_flight += 1
        try:
            cf = self._executor.submit(functools.partial(fn, *args, **kwargs))
        except BaseException:
            self._release()
            raise
        cf.add_done_callback(self._release)
        fut = asyncio.wrap_future(cf)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.timeout)
        except asyncio.TimeoutError:
            with self._lock:
                self.timed_out += 1
            # Nobody will read the result: keep an exception in it from being logged as lost.
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise APIError(504, "timeout", f"the request did not finish within {self.timeout:g} s.",
                               {"limit": "timeout", "value": self.timeout}) from None

    def shutdown(self) -> None:
        """Stop the threads once their jobs end."""
        self._executor.shutdown(wait=False, cancel_futures=True)
