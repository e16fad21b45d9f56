"""Global configuration: thread settings and the BLAS thread limiter kernels share."""

from __future__ import annotations

import random
import threading
import time

import pytest

import maaskit
from maaskit._kernels import _blas as _config
from maaskit._config import _blas_controller, effective_n_threads, one_blas_thread


def test_one_blas_thread_limits_then_restores():
    controller = _blas_controller()
    assert controller.lib_controllers, "numpy/scipy BLAS should be found"
    before = [lib["num_threads"] for lib in controller.info()]
    with one_blas_thread():
        assert all(lib["num_threads"] == 1 for lib in controller.info())
    assert [lib["num_threads"] for lib in controller.info()] == before
    handle = one_blas_thread()  # the engines' form: a handle restored explicitly
    assert all(lib["num_threads"] == 1 for lib in controller.info())
    handle.restore_original_limits()
    assert [lib["num_threads"] for lib in controller.info()] == before


def test_one_blas_thread_interleaved_holders_restore_once():
    controller = _blas_controller()
    before = [lib["num_threads"] for lib in controller.info()]
    first, second = one_blas_thread(), one_blas_thread()
    first.restore_original_limits()  # leaves first, while second still relies on one thread
    assert all(lib["num_threads"] == 1 for lib in controller.info())
    first.restore_original_limits()  # a second restore of the same hold changes nothing
    assert all(lib["num_threads"] == 1 for lib in controller.info())
    second.restore_original_limits()
    assert [lib["num_threads"] for lib in controller.info()] == before


def test_one_blas_thread_concurrent_holders():
    controller = _blas_controller()
    before = [lib["num_threads"] for lib in controller.info()]
    seen_more_than_one = []
    barrier = threading.Barrier(8)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(200):
            with one_blas_thread():
                # The shared limit is in force while any holder is in (threadpoolctl reads
                # OpenBLAS's count per calling thread, so check the hold, not the reading).
                if _config._BLAS_HOLDERS < 1 or _config._BLAS_LIMITER is None:
                    seen_more_than_one.append(seed)
                if rng.random() < 0.3:
                    time.sleep(0)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not seen_more_than_one, "a holder ran while BLAS had its threads back"
    assert _config._BLAS_HOLDERS == 0 and _config._BLAS_LIMITER is None
    assert [lib["num_threads"] for lib in controller.info()] == before


def test_config_n_threads_bounds_effective_threads():
    with maaskit.config_context(n_threads=1):
        assert effective_n_threads(None) == 1
        assert effective_n_threads(-1) >= 1
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        maaskit.set_config(n_threads=0)
