"""The layernorm kernel: Numba and Cython vs the NumPy reference, finite differences, torch layer_norm."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import layernorm as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, N=300, D=12, seed=0):
    rng = np.random.RandomState(seed)
    x = (3.0 + 2.0 * rng.randn(N, D)).astype(dtype)  # offset mean: tests centring
    gamma = (1.0 + 0.3 * rng.randn(D)).astype(dtype)
    beta = (0.1 * rng.randn(D)).astype(dtype)
    dout = rng.randn(N, D).astype(dtype)
    return x, gamma, beta, dout


def _run(mod, x, gamma, beta, dout, eps=1e-5):
    N, D = x.shape
    out = np.empty_like(x)
    mean = np.empty(N, x.dtype)
    rstd = np.empty(N, x.dtype)
    mod.layernorm_forward(x, gamma, beta, eps, out, mean, rstd)
    dx = np.empty_like(x)
    dg = np.empty_like(gamma)
    db = np.empty_like(beta)
    mod.layernorm_backward(dout, x, gamma, mean, rstd, dx, dg, db)
    return out, dx, dg, db


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(backend, dtype):
    args = _problem(dtype)
    for g, w in zip(_run(get_kernel("layernorm", backend), *args), _run(ref, *args)):
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_threaded_path_matches_reference(backend):
    args = _problem(np.float32, N=4500, D=32)  # above PARALLEL_MIN_SIZE
    for g, w in zip(_run(get_kernel("layernorm", backend), *args), _run(ref, *args)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(backend):
    mod = get_kernel("layernorm", backend)
    x, gamma, beta, dout = _problem(np.float64, N=5, D=4)
    _, dx, dg, db = _run(mod, x, gamma, beta, dout)

    def loss():
        return float(np.sum(_run(mod, x, gamma, beta, dout)[0] * dout))

    eps = 1e-6
    for arr, grad in ((x, dx), (gamma, dg), (beta, db)):
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            np.testing.assert_allclose(grad[idx], (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_torch(backend):
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = _problem(np.float64)
    out, dx, dg, db = _run(get_kernel("layernorm", backend), x, gamma, beta, dout)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    tout = torch.nn.functional.layer_norm(tx, (x.shape[1],), tg, tb, eps=1e-5)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in ((dx, tx), (dg, tg), (db, tb)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-11)
