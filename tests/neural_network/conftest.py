"""Run the estimator tests single-threaded.

The kernels' parallel paths (OpenMP, Numba prange, threaded BLAS) are exercised by
``tests/kernels``; here, many tiny batches would each pay a parallel-region launch, and on
a loaded 2-core CI box a parallel region whose second thread is descheduled stalls the
whole step (measured: a 1,000-image CNN epoch 0.19 s on one thread vs 17 s on two threads
under a load average of 12). Results do not depend on the thread count.
"""

from __future__ import annotations

import numba
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_thread():
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    numba.set_num_threads(before)
