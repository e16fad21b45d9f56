"""Run the estimator tests single-threaded; share the layer-vs-torch-autograd check.

The kernels' parallel paths (OpenMP, Numba prange, threaded BLAS) are exercised by
``tests/kernels``; here, many tiny batches would each pay a parallel-region launch, and on
a loaded 2-core CI box a parallel region whose second thread is descheduled stalls the
whole step (measured: a 1,000-image CNN epoch 0.19 s on one thread vs 17 s on two threads
under a load average of 12). Results do not depend on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_thread():
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    numba.set_num_threads(before)


@pytest.fixture
def assert_matches_torch_autograd():
    """Check a bound one-layer :class:`Network`'s forward and backward against torch autograd.

    Runs ``net`` forward and backward on ``x`` (upstream gradient drawn from ``rng``), then
    ``layer.torch_forward`` on the same flat parameters, and compares outputs and gradients.
    """
    torch = pytest.importorskip("torch")

    def check(net, layer, x, rng, *, out_tol, grad_tol):
        out = net.forward(x, True)
        dout = rng.randn(*out.shape)
        net.backward(dout)

        p = torch.tensor(net.params, requires_grad=True)
        views = {name: p[off:off + size].view(shp) for _, name, off, size, shp in net.layout}
        tout = layer.torch_forward(torch.tensor(x), views)
        (tout * torch.tensor(dout)).sum().backward()
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=out_tol[0], atol=out_tol[1])
        np.testing.assert_allclose(net.grads, p.grad.numpy(), rtol=grad_tol[0], atol=grad_tol[1])

    return check
