"""Prometheus text-format metrics, written by hand (no extra dependency).

Exposes request counts by route/method/status, request latency histograms by route, the
sizes of micro-batches per model and model (re)loads.
"""

from __future__ import annotations

import bisect
import threading
from typing import Iterable

__all__ = ["Metrics", "Histogram"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _labels(names: Iterable[str], values: Iterable[str]) -> str:
    parts = []
    for n, v in zip(names, values):
        v = str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        parts.append(f'{n}="{v}"')
    return "{" + ",".join(parts) + "}" if parts else ""


class Histogram:
    """A cumulative histogram with fixed bucket bounds.

    Parameters
    ----------
    buckets : sequence of float
        Upper bounds, increasing; ``+Inf`` is implicit.
    """

    def __init__(self, buckets: Iterable[float]) -> None:
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one observation.

        Parameters
        ----------
        value : float
        """
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, label_names: tuple, label_values: tuple) -> list[str]:
        """Exposition lines for this histogram.

        Parameters
        ----------
        name : str
            Metric name.
        label_names : tuple of str
            Label names.
        label_values : tuple
            Label values.

        Returns
        -------
        lines : list of str
        """
        out, cum = [], 0
        for bound, c in zip(self.bounds + (float("inf"),), self.counts):
            cum += c
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            out.append(f"{name}_bucket{_labels(label_names + ('le',), label_values + (le,))} {cum}")
        out.append(f"{name}_sum{_labels(label_names, label_values)} {self.sum!r}")
        out.append(f"{name}_count{_labels(label_names, label_values)} {self.count}")
        return out


def _histogram(table: dict, key: tuple, buckets: Iterable[float]) -> Histogram:
    """The histogram of ``key`` in ``table``, created empty on first use (caller holds the lock)."""
    h = table.get(key)
    if h is None:
        h = table[key] = Histogram(buckets)
    return h


class Metrics:
    """Counters and histograms of one server, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple, int] = {}
        self.latency: dict[tuple, Histogram] = {}
        self.batch_sizes: dict[tuple, Histogram] = {}
        self.loads: dict[tuple, int] = {}

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
        key = (route, method, str(status))
        with self._lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            _histogram(self.latency, (route,), _LATENCY_BUCKETS).observe(seconds)

    def observe_batch(self, model: str, size: int) -> None:
        """Record the size of one micro-batch.

        Parameters
        ----------
        model : str
            Model name.
        size : int
            Requests in the batch.
        """
        with self._lock:
            _histogram(self.batch_sizes, (model,), _BATCH_BUCKETS).observe(size)

    def observe_load(self, model: str, version: int) -> None:
        """Count a model load (first use or hot reload).

        Parameters
        ----------
        model : str
            Model name.
        version : int
            Version loaded.
        """
        key = (model, str(version))
        with self._lock:
            self.loads[key] = self.loads.get(key, 0) + 1

    def render(self) -> str:
        """The exposition text (``text/plain; version=0.0.4``).

        Returns
        -------
        text : str
        """
        with self._lock:
            lines = ["# HELP maaskit_requests_total HTTP requests by route, method and status.",
                     "# TYPE maaskit_requests_total counter"]
            for (route, method, code), n in sorted(self.requests.items()):
                lines.append(f"maaskit_requests_total{_labels(('route', 'method', 'code'), (route, method, code))} {n}")
            lines += ["# HELP maaskit_request_duration_seconds Time spent handling requests.",
                      "# TYPE maaskit_request_duration_seconds histogram"]
            for key, h in sorted(self.latency.items()):
                lines += h.lines("maaskit_request_duration_seconds", ("route",), key)
            lines += ["# HELP maaskit_batch_size Requests served by one micro-batched kernel call.",
                      "# TYPE maaskit_batch_size histogram"]
            for key, h in sorted(self.batch_sizes.items()):
                lines += h.lines("maaskit_batch_size", ("model",), key)
            lines += ["# HELP maaskit_model_loads_total Model versions loaded (first use and hot reloads).",
                      "# TYPE maaskit_model_loads_total counter"]
            for (model, version), n in sorted(self.loads.items()):
                lines.append(f"maaskit_model_loads_total{_labels(('model', 'version'), (model, version))} {n}")
        return "\n".join(lines) + "\n"
