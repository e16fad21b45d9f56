"""Global configuration: thread settings and the BLAS thread limiter kernels share."""

from __future__ import annotations

import pytest

import maaskit
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


def test_config_n_threads_bounds_effective_threads():
    with maaskit.config_context(n_threads=1):
        assert effective_n_threads(None) == 1
        assert effective_n_threads(-1) >= 1
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        maaskit.set_config(n_threads=0)
