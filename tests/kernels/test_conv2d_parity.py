"""The conv2d kernel: every backend against the NumPy reference, torch, and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import conv2d as ref

BACKENDS = ("numpy", "numba", "cython")
DTYPES = (np.float32, np.float64)
TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-10, atol=1e-11)}
# (N, C, H, W, F, K, stride, padding)
# The last two have N*OH*OW = 1365 and 4650 output columns: the Cython kernel splits its
# GEMMs into 2 and 8 column blocks (uneven last block) there.
CASES = [(2, 3, 7, 6, 4, 3, 1, 1), (3, 1, 8, 8, 2, 3, 2, 0), (2, 2, 9, 7, 3, 3, 2, 1),
         (1, 2, 5, 5, 2, 1, 1, 0), (2, 1, 6, 6, 3, 5, 1, 2), (7, 2, 15, 13, 5, 3, 1, 1),
         (5, 3, 30, 31, 4, 3, 1, 1)]


def _run(k, x, w, b, stride, padding, dout=None):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = ref.output_size(h, kh, stride, padding)
    ow = ref.output_size(wd, kw, stride, padding)
    cols = np.empty((c * kh * kw, n * oh * ow), x.dtype)
    out = np.empty((n, f, oh, ow), x.dtype)
    k.conv2d_forward(x, w, b, stride, padding, cols, out)
    if dout is None:
        return out
    dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)
    k.conv2d_backward(cols, w, dout, stride, padding, dx, dw, db, True)
    return out, dx, dw, db


def _case(dtype, n, c, h, wd, f, ks, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.randn(n, c, h, wd).astype(dtype), rng.randn(f, c, ks, ks).astype(dtype),
            rng.randn(f).astype(dtype))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_matches_reference(backend, dtype, case):
    n, c, h, wd, f, ks, stride, padding = case
    x, w, b = _case(dtype, n, c, h, wd, f, ks)
    out = _run(ref, x, w, b, stride, padding)
    dout = np.cos(out).astype(dtype)
    got = _run(get_kernel("conv2d", backend), x, w, b, stride, padding, dout)
    exp = _run(ref, x, w, b, stride, padding, dout)
    for g, e in zip(got, exp):
        np.testing.assert_allclose(g, e, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(backend, case):
    torch = pytest.importorskip("torch")
    n, c, h, wd, f, ks, stride, padding = case
    x, w, b = _case(np.float64, n, c, h, wd, f, ks, seed=1)
    out = _run(ref, x, w, b, stride, padding)
    dout = np.sin(out)
    got = _run(get_kernel("conv2d", backend), x, w, b, stride, padding, dout)
    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ot = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    ot.backward(torch.tensor(dout))
    for mine, t in zip(got, (ot.detach(), xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(mine, t.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_by_central_differences(backend):
    k = get_kernel("conv2d", backend)
    x, w, b = _case(np.float64, 2, 2, 5, 6, 3, 3, seed=2)
    stride, padding = 2, 1
    wts = np.random.RandomState(3).randn(*_run(ref, x, w, b, stride, padding).shape)
    loss = lambda: float((_run(k, x, w, b, stride, padding) * wts).sum())  # noqa: E731
    _, dx, dw, db = _run(k, x, w, b, stride, padding, wts)
    for analytic, v in ((dx, x), (dw, w), (db, b)):
        num = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            old = v[i]
            v[i] = old + 1e-6
            fp = loss()
            v[i] = old - 1e-6
            fm = loss()
            v[i] = old
            num[i] = (fp - fm) / 2e-6
        np.testing.assert_allclose(analytic, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_need_dx_false_leaves_dx(backend):
    x, w, b = _case(np.float32, 2, 1, 6, 6, 2, 3)
    k = get_kernel("conv2d", backend)
    cols = np.empty((9, 2 * 36), np.float32)
    out = np.empty((2, 2, 6, 6), np.float32)
    k.conv2d_forward(x, w, b, 1, 1, cols, out)
    dx = np.full_like(x, 5.0)
    dw, db = np.empty_like(w), np.empty_like(b)
    k.conv2d_backward(cols, w, np.ones_like(out), 1, 1, dx, dw, db, False)
    assert np.all(dx == 5.0)
    np.testing.assert_allclose(db, [72.0, 72.0])
