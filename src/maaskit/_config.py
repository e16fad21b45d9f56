"""Global configuration: default device and number of kernel threads."""

from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.Lock()
_global_config: dict[str, Any] = {
    "device": "auto",
    "n_threads": None,  # None: all cores numba/OpenMP see
}


def get_config() -> dict[str, Any]:
    """Return a copy of the current maaskit configuration.

    Returns
    -------
    config : dict
        Keys ``device`` and ``n_threads``.
    """
    with _lock:
        return dict(_global_config)


def set_config(device: str | None = None, n_threads: int | None = None) -> None:
    """Set maaskit's global configuration.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, default=None
        Device used by estimators whose ``device`` parameter is ``"auto"``. ``None`` leaves
        it unchanged.
    n_threads : int, default=None
        Threads used by parallel kernels. ``None`` leaves it unchanged.
    """
    with _lock:
        if device is not None:
            if device not in ("auto", "cpu", "cuda"):
                raise ValueError(
                    f"set_config: device must be one of 'auto', 'cpu', 'cuda'; got {device!r}."
                )
            _global_config["device"] = device
        if n_threads is not None:
            if int(n_threads) < 1:
                raise ValueError(f"set_config: n_threads must be >= 1; got {n_threads!r}.")
            _global_config["n_threads"] = int(n_threads)


@contextmanager
def config_context(**kwargs: Any) -> Iterator[None]:
    """Temporarily change the global configuration (see :func:`set_config`).

    Parameters
    ----------
    **kwargs
        Same keywords as :func:`set_config`.

    Yields
    ------
    None
    """
    old = get_config()
    set_config(**kwargs)
    try:
        yield
    finally:
        with _lock:
            _global_config.update(old)


@functools.cache
def _cpu_count() -> int:
    # Cached: a served model asks on every request.
    return os.cpu_count() or 1


def effective_n_threads(n_jobs: int | None = None) -> int:
    """Number of threads a kernel should use for ``n_jobs`` (sklearn semantics).

    Parameters
    ----------
    n_jobs : int, default=None
        ``None`` uses the global ``n_threads`` (or all cores), ``-1`` all cores, a positive
        number that many.

    Returns
    -------
    n : int
        A positive thread count.
    """
    n_cpu = _cpu_count()
    if n_jobs is None:
        n = get_config()["n_threads"] or n_cpu
    elif n_jobs < 0:
        n = max(1, n_cpu + 1 + n_jobs)
    else:
        n = n_jobs
    return max(1, min(int(n), n_cpu))


# The BLAS limiter lives in the kernel layer (kernels use it and depend on nothing above
# them); estimators keep importing it from here.
from ._kernels._blas import _blas_controller, one_blas_thread  # noqa: E402,F401
