"""The xent kernel: Numba and Cython vs the NumPy reference, finite differences, torch cross_entropy."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import xent as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-5, atol=1e-7), np.float64: dict(rtol=1e-12, atol=1e-14)}


def _problem(dtype, n=40, k=30, seed=0):
    rng = np.random.RandomState(seed)
    logits = (3.0 * rng.randn(n, k)).astype(dtype)
    logits[0, 1] = -1e4  # a masked column (sampled softmax): probability 0, gradient 0
    y = rng.randint(0, k, n).astype(np.int64)
    y[0] = 0
    return logits, y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(40, 30), (300, 400)])  # the second runs the threaded path
def test_matches_reference(backend, dtype, shape):
    logits, y = _problem(dtype, *shape)
    got, want = logits.copy(), logits.copy()
    loss = get_kernel("xent", backend).softmax_xent(got, y, 1.0 / len(y))
    loss_ref = ref.softmax_xent(want, y, 1.0 / len(y))
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert abs(got[0, 1]) < 1e-30  # exp of a masked logit underflows (the float32 exp stops at e^-87.3)
    # every gradient row sums to zero (softmax minus one-hot)
    np.testing.assert_allclose(got.sum(axis=1), 0.0, atol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_matches_finite_differences(backend):
    mod = get_kernel("xent", backend)
    logits, y = _problem(np.float64, 4, 6)
    logits[0, 1] = 0.3
    grad = logits.copy()
    mod.softmax_xent(grad, y, 0.5)
    eps = 1e-6
    num = np.zeros_like(logits)
    for idx in np.ndindex(*logits.shape):
        for sign in (1, -1):
            z = logits.copy()
            z[idx] += sign * eps
            num[idx] += sign * 0.5 * mod.softmax_xent(z, y, 1.0) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_matches_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    logits, y = _problem(np.float64, 20, 9)
    t = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(y), reduction="mean")
    loss.backward()
    got = logits.copy()
    total = ref.softmax_xent(got, y, 1.0 / len(y))
    np.testing.assert_allclose(total / len(y), loss.item(), rtol=1e-12)
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_large_logits(backend):
    mod = get_kernel("xent", backend)
    assert mod.softmax_xent(np.empty((0, 5), np.float32), np.empty(0, np.int64), 1.0) == 0.0
    z = np.array([[1000.0, -1000.0, 999.0]], np.float32)  # stable: max subtracted first
    loss = mod.softmax_xent(z, np.array([2], np.int64), 1.0)
    assert np.isfinite(loss) and np.all(np.isfinite(z))
    np.testing.assert_allclose(loss, np.log1p(np.exp(-1.0)) + 1.0, rtol=1e-5)
