"""Prometheus metrics through ``prometheus_client``, one :class:`CollectorRegistry` per app.

Exposes request counts by route/method/status, request latency histograms by route, the
sizes of micro-batches per model, model (re)loads, and the worker pool's load (jobs in
progress, requests shed with 503, requests past their deadline). Each app has its own
registry, never the process-global one, so several apps in one process (tests) do not
collide and a library user's own metrics are not mixed in.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """Counters and histograms of one server.

    Parameters
    ----------
    pools : sequence of WorkerPool, default=()
        Their in-flight, shed and timed-out counts (summed) are exported as read at scrape time.
    """

    def __init__(self, pools: Any = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("maaskit_requests", "HTTP requests by route, method and status.",
                                ("route", "method", "code"), registry=self.registry)
        self.latency = Histogram("maaskit_request_duration_seconds", "Time spent handling requests.", ("route",),
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.batch_sizes = Histogram("maaskit_batch_size", "Requests served by one micro-batched kernel call.",
                                     ("model",), buckets=_BATCH_BUCKETS, registry=self.registry)
        self.loads = Counter("maaskit_model_loads", "Model versions loaded (first use and hot reloads).",
                             ("model", "version"), registry=self.registry)
        pools = tuple(pools)
        if pools:
            Gauge("maaskit_worker_jobs", "Jobs in the worker pools (running or queued).",
                  registry=self.registry).set_function(lambda: sum(p.in_flight for p in pools))
            Gauge("maaskit_shed_requests", "Requests refused with 503 because a worker queue was full "
                                           "(a count since start).",
                  registry=self.registry).set_function(lambda: sum(p.shed for p in pools))
            Gauge("maaskit_timed_out_requests", "Requests answered 504 past their deadline (a count since start).",
                  registry=self.registry).set_function(lambda: sum(p.timed_out for p in pools))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count a request and record its latency.

        Parameters
        ----------
        route : str
            Route template (``/v1/recommend/{user_id}``), never the raw path.
        method : str
            HTTP method.
        status : int
            Response status.
        seconds : float
            Handler time.
        """
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, model: str, size: int) -> None:
        """Record the size of one micro-batch.

        Parameters
        ----------
        model : str
            Model name.
        size : int
            Requests in the batch.
        """
        self.batch_sizes.labels(model).observe(size)

    def observe_load(self, model: str, version: int) -> None:
        """Count a model load (first use or hot reload).

        Parameters
        ----------
        model : str
            Model name.
        version : int
            Version loaded.
        """
        self.loads.labels(model, str(version)).inc()

    def sample(self, name: str, labels: dict | None = None) -> float | None:
        """One sample's current value (tests, benchmarks).

        Parameters
        ----------
        name : str
            Sample name, e.g. ``"maaskit_batch_size_count"``.
        labels : dict, default=None
            Its labels.

        Returns
        -------
        value : float or None
        """
        return self.registry.get_sample_value(name, labels or {})

    def render_with_type(self) -> tuple[bytes, str]:
        """The exposition text and its content type.

        Returns
        -------
        text : bytes
        content_type : str
        """
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def render(self) -> str:
        """The exposition text (Prometheus text format 0.0.4).

        Returns
        -------
        text : str
        """
        return generate_latest(self.registry).decode()
