"""The pool kernel: every backend against the NumPy reference, torch, and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import pool as ref

BACKENDS = ("numpy", "numba", "cython")
DTYPES = (np.float32, np.float64)
CASES = [(2, 2, (2, 3, 8, 8)), (2, 2, (1, 2, 7, 9)), (3, 2, (2, 2, 9, 8)), (3, 1, (1, 1, 5, 6))]


def _out(shape, size, stride):
    n, c, h, w = shape
    return (n, c, (h - size) // stride + 1, (w - size) // stride + 1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,stride,shape", CASES)
def test_pools_match_reference(backend, dtype, size, stride, shape):
    k = get_kernel("pool", backend)
    rng = np.random.RandomState(0)
    x = rng.randn(*shape).astype(dtype)
    oshape = _out(shape, size, stride)
    out, am = np.empty(oshape, dtype), np.empty(oshape, np.int64)
    out_r, am_r = np.empty(oshape, dtype), np.empty(oshape, np.int64)
    k.maxpool2d_forward(x, size, stride, out, am)
    ref.maxpool2d_forward(x, size, stride, out_r, am_r)
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_array_equal(am, am_r)
    dout = rng.randn(*oshape).astype(dtype)
    dx, dx_r = np.empty_like(x), np.empty_like(x)
    k.maxpool2d_backward(dout, am, dx)
    ref.maxpool2d_backward(dout, am_r, dx_r)
    np.testing.assert_allclose(dx, dx_r, rtol=1e-6)
    k.avgpool2d_forward(x, size, stride, out)
    ref.avgpool2d_forward(x, size, stride, out_r)
    np.testing.assert_allclose(out, out_r, rtol=1e-5, atol=1e-6)
    k.avgpool2d_backward(dout, size, stride, dx)
    ref.avgpool2d_backward(dout, size, stride, dx_r)
    np.testing.assert_allclose(dx, dx_r, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size,stride,shape", CASES)
def test_pools_match_torch(backend, size, stride, shape):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k = get_kernel("pool", backend)
    x = np.random.RandomState(1).randn(*shape)
    oshape = _out(shape, size, stride)
    dout = np.random.RandomState(2).randn(*oshape)
    for kind in ("max", "avg"):
        out, dx = np.empty(oshape), np.empty_like(x)
        if kind == "max":
            am = np.empty(oshape, np.int64)
            k.maxpool2d_forward(x, size, stride, out, am)
            k.maxpool2d_backward(dout, am, dx)
            fn = F.max_pool2d
        else:
            k.avgpool2d_forward(x, size, stride, out)
            k.avgpool2d_backward(dout, size, stride, dx)
            fn = F.avg_pool2d
        xt = torch.tensor(x, requires_grad=True)
        ot = fn(xt, size, stride)
        ot.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, ot.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pool_gradients_by_central_differences(backend):
    k = get_kernel("pool", backend)
    rng = np.random.RandomState(3)
    x = rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) * 0.1  # distinct values: max is smooth
    oshape = _out(x.shape, 3, 2)
    wts = rng.randn(*oshape)
    for kind in ("max", "avg"):
        def loss():
            out = np.empty(oshape)
            if kind == "max":
                k.maxpool2d_forward(x, 3, 2, out, np.empty(oshape, np.int64))
            else:
                k.avgpool2d_forward(x, 3, 2, out)
            return float((out * wts).sum())

        dx = np.empty_like(x)
        if kind == "max":
            am = np.empty(oshape, np.int64)
            k.maxpool2d_forward(x, 3, 2, np.empty(oshape), am)
            k.maxpool2d_backward(wts, am, dx)
        else:
            k.avgpool2d_backward(wts, 3, 2, dx)
        num = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + 1e-6
            fp = loss()
            x[i] = old - 1e-6
            fm = loss()
            x[i] = old
            num[i] = (fp - fm) / 2e-6
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)
