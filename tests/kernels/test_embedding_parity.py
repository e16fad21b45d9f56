"""The embedding kernel: Numba and Cython vs the NumPy reference and torch's embedding (repeated ids
must accumulate in the gradient)."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import embedding as ref

BACKENDS = ("numpy", "numba", "cython")


def _problem(dtype, V=11, E=6, N=40, seed=0):
    rng = np.random.RandomState(seed)
    ids = rng.randint(V, size=N).astype(np.int64)
    ids[:5] = 3  # a repeated id
    return ids, rng.randn(V, E).astype(dtype), rng.randn(N, E).astype(dtype)


def _run(mod, ids, weight, dout):
    out = np.empty((ids.shape[0], weight.shape[1]), weight.dtype)
    mod.embedding_forward(ids, weight, out)
    dw = np.full_like(weight, np.nan)  # backward must overwrite, not accumulate into, dw
    mod.embedding_backward(ids, dout, dw)
    return out, dw


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(backend, dtype):
    args = _problem(dtype)
    out, dw = _run(get_kernel("embedding", backend), *args)
    out_r, dw_r = _run(ref, *args)
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_allclose(dw, dw_r, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(dw[3], args[2][args[0] == 3].sum(axis=0), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_threaded_gather_matches_reference(backend):
    args = _problem(np.float32, V=500, E=32, N=9000)  # above PARALLEL_MIN_SIZE
    out, dw = _run(get_kernel("embedding", backend), *args)
    out_r, dw_r = _run(ref, *args)
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_allclose(dw, dw_r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_matches_finite_differences(backend):
    # the forward is linear in weight, so the central difference is exact up to rounding
    mod = get_kernel("embedding", backend)
    ids, weight, dout = _problem(np.float64, V=5, E=3, N=9)
    _, dw = _run(mod, ids, weight, dout)
    eps = 1e-6
    for idx in np.ndindex(weight.shape):
        old = weight[idx]
        weight[idx] = old + eps
        up = float(np.sum(_run(mod, ids, weight, dout)[0] * dout))
        weight[idx] = old - eps
        down = float(np.sum(_run(mod, ids, weight, dout)[0] * dout))
        weight[idx] = old
        np.testing.assert_allclose(dw[idx], (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_torch(backend):
    torch = pytest.importorskip("torch")
    ids, weight, dout = _problem(np.float64)
    out, dw = _run(get_kernel("embedding", backend), ids, weight, dout)
    tw = torch.tensor(weight, requires_grad=True)
    tout = torch.nn.functional.embedding(torch.tensor(ids), tw)
    tout.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-12, atol=1e-12)
