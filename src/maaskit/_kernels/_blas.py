"""Hold every loaded BLAS to one thread while a kernel runs its own thread team.

This sits in the kernel layer because kernels use it (``kernels/conv2d.pyx``, the Numba
attention kernel) and kernels import nothing above ``maaskit._kernels``;
:mod:`maaskit._config` re-exports it for the estimators.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["one_blas_thread"]


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
