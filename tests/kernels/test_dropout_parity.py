"""The dropout kernel: Numba and Cython vs the NumPy reference, finite differences, torch dropout."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import dropout as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-14, atol=0)}


def _problem(dtype, size=1000, p=0.3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(size).astype(dtype)
    mask = (rng.random_sample(size) >= p).astype(np.uint8)
    dout = rng.randn(size).astype(dtype)
    return x, mask, 1.0 / (1.0 - p), dout


def _run(mod, x, mask, scale, dout):
    out = np.empty_like(x)
    mod.dropout_forward(x, mask, scale, out)
    dx = np.empty_like(x)
    mod.dropout_backward(dout, mask, scale, dx)
    return out, dx


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(backend, dtype):
    args = _problem(dtype)
    got, want = _run(get_kernel("dropout", backend), *args), _run(ref, *args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **TOL[dtype])
    x, mask, scale, _ = args
    assert np.all(got[0][mask == 0] == 0)
    np.testing.assert_allclose(got[0][mask == 1], x[mask == 1] * scale, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place(backend):
    x, mask, scale, dout = _problem(np.float64)
    want = _run(ref, x, mask, scale, dout)
    mod = get_kernel("dropout", backend)
    a, d = x.copy(), dout.copy()
    mod.dropout_forward(a, mask, scale, a)
    mod.dropout_backward(d, mask, scale, d)
    np.testing.assert_array_equal(a, want[0])
    np.testing.assert_array_equal(d, want[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_matches_finite_differences(backend):
    mod = get_kernel("dropout", backend)
    x, mask, scale, dout = _problem(np.float64, size=12)
    _, dx = _run(mod, x, mask, scale, dout)
    eps = 1e-6
    for i in range(x.size):
        old = x[i]
        x[i] = old + eps
        up = float(np.sum(_run(mod, x, mask, scale, dout)[0] * dout))
        x[i] = old - eps
        down = float(np.sum(_run(mod, x, mask, scale, dout)[0] * dout))
        x[i] = old
        np.testing.assert_allclose(dx[i], (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_torch_dropout_with_its_mask(backend):
    torch = pytest.importorskip("torch")
    x, _, _, dout = _problem(np.float64, size=2000)
    p = 0.4
    torch.manual_seed(0)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.dropout(tx, p=p, training=True)
    tout.backward(torch.tensor(dout))
    mask = (tout.detach().numpy() != 0).astype(np.uint8)  # x has no exact zeros
    assert 0.5 < mask.mean() < 0.7
    out, dx = _run(get_kernel("dropout", backend), x, mask, 1.0 / (1.0 - p), dout)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-14)
    # eval mode is the identity in both
    np.testing.assert_array_equal(torch.nn.functional.dropout(tx, p=p, training=False).detach().numpy(), x)
