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


@functools.cache
def _blas_controller() -> Any:
    # Numba's np.dot and the Cython kernels call SciPy's BLAS, NumPy's ``@`` its own: load
    # both before the one scan, so the handle covers every BLAS the kernels use.
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


class _BlasHold:
    """One holder's share of the process-wide one-BLAS-thread limit.

    threadpoolctl limits are process-wide, and the code that asks for one BLAS thread runs
    concurrently (top-k blocks on a thread pool, neural engines, Dask workers with threads).
    Nested or interleaved ``limit()``/``restore`` pairs would restore whichever limits their
    own entry saw, so a thread leaving early could give BLAS its threads back while another
    still relies on one thread, or a late exit could restore "1" for good. Instead every
    holder counts itself in: the first one in sets the limit, the last one out restores the
    limits seen before the first; the lock makes the count and the switch one step.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = False
        with _BLAS_LOCK:
            global _BLAS_HOLDERS, _BLAS_LIMITER
            if _BLAS_HOLDERS == 0:
                _BLAS_LIMITER = _blas_controller().limit(limits=1)
            _BLAS_HOLDERS += 1
            self._held = True

    def restore_original_limits(self) -> None:
        """Give back this holder's share; the last holder restores the original limits."""
        with _BLAS_LOCK:
            global _BLAS_HOLDERS, _BLAS_LIMITER
            if not self._held:
                return
            self._held = False
            _BLAS_HOLDERS -= 1
            if _BLAS_HOLDERS == 0 and _BLAS_LIMITER is not None:
                _BLAS_LIMITER.restore_original_limits()
                _BLAS_LIMITER = None

    def __enter__(self) -> "_BlasHold":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore_original_limits()


_BLAS_LOCK = threading.Lock()
_BLAS_HOLDERS = 0
_BLAS_LIMITER: Any = None


def one_blas_thread() -> _BlasHold:
    """Hold every loaded BLAS to one thread: a context manager (or call ``restore_original_limits``).

    For loops of small GEMMs, where a second BLAS thread only spins against the next call,
    and for code that runs its own threads around BLAS calls. The library scan is cached:
    ~60 us per use instead of the ~6 ms of a fresh ``threadpoolctl.threadpool_limits``.
    Holds are reference-counted, so concurrent and interleaved holders are safe: the limit
    is set by the first holder and the original limits come back when the last one leaves.

    Returns
    -------
    hold : context manager
        Gives back its share on exit or on ``restore_original_limits()`` (idempotent).
    """
    return _BlasHold()
