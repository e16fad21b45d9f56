"""The batchnorm kernel: Numba and Cython vs the NumPy reference, finite differences, torch batch_norm."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import batchnorm as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
EPS, MOMENTUM = 1e-5, 0.1


def _problem(dtype, N=40, C=6, S=9, seed=0):
    rng = np.random.RandomState(seed)
    x = (3.0 + 2.0 * rng.randn(N, C, S)).astype(dtype)  # offset mean: tests centring
    gamma = (1.0 + 0.3 * rng.randn(C)).astype(dtype)
    beta = (0.1 * rng.randn(C)).astype(dtype)
    dout = rng.randn(N, C, S).astype(dtype)
    rm = (0.5 * rng.randn(C)).astype(dtype)
    rv = (1.0 + rng.random_sample(C)).astype(dtype)
    return x, gamma, beta, dout, rm, rv


def _run(mod, x, gamma, beta, dout, rm, rv):
    C = x.shape[1]
    out = np.empty_like(x)
    mean, rstd = np.empty(C, x.dtype), np.empty(C, x.dtype)
    rm, rv = rm.copy(), rv.copy()
    mod.batchnorm_forward(x, gamma, beta, EPS, MOMENTUM, out, mean, rstd, rm, rv)
    dx = np.empty_like(x)
    dg, db = np.empty_like(gamma), np.empty_like(beta)
    mod.batchnorm_backward(dout, x, gamma, mean, rstd, dx, dg, db)
    ev = np.empty_like(x)
    mod.batchnorm_inference(x, gamma, beta, rm, rv, EPS, ev)
    return out, dx, dg, db, rm, rv, ev


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(backend, dtype):
    args = _problem(dtype)
    for g, w in zip(_run(get_kernel("batchnorm", backend), *args), _run(ref, *args)):
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_threaded_path_matches_reference(backend):
    args = _problem(np.float32, N=64, C=16, S=144)  # above PARALLEL_MIN_SIZE
    for g, w in zip(_run(get_kernel("batchnorm", backend), *args), _run(ref, *args)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(backend):
    mod = get_kernel("batchnorm", backend)
    x, gamma, beta, dout, rm, rv = _problem(np.float64, N=4, C=2, S=3)
    _, dx, dg, db, *_ = _run(mod, x, gamma, beta, dout, rm, rv)

    def loss():
        return float(np.sum(_run(mod, x, gamma, beta, dout, rm, rv)[0] * dout))

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
def test_matches_torch_train_and_eval(backend):
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout, rm, rv = _problem(np.float64)
    out, dx, dg, db, rm2, rv2, ev = _run(get_kernel("batchnorm", backend), x, gamma, beta, dout, rm, rv)
    N, C, S = x.shape
    x4 = x.reshape(N, C, 3, 3)  # torch's image layout: the S positions are H * W
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x4, gamma, beta))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tout = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=True,
                                          momentum=MOMENTUM, eps=EPS)
    tout.backward(torch.tensor(dout.reshape(x4.shape)))
    np.testing.assert_allclose(out, tout.detach().numpy().reshape(x.shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm2, trm.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rv2, trv.numpy(), rtol=1e-12, atol=1e-14)
    for g, t in ((dx, tx), (dg, tg), (db, tb)):
        np.testing.assert_allclose(g, t.grad.numpy().reshape(g.shape), rtol=1e-9, atol=1e-11)
    tev = torch.nn.functional.batch_norm(tx.detach(), trm, trv, tg.detach(), tb.detach(),
                                         training=False, eps=EPS)
    np.testing.assert_allclose(ev, tev.numpy().reshape(x.shape), rtol=1e-10, atol=1e-12)
    # flat features (S = 1) as BatchNorm1d on (N, C)
    x2 = x[:, :, 0].copy()[:, :, None]
    o2 = np.empty_like(x2)
    m2, s2 = np.empty(C), np.empty(C)
    get_kernel("batchnorm", backend).batchnorm_forward(x2, gamma, beta, EPS, MOMENTUM, o2, m2, s2,
                                                       rm.copy(), rv.copy())
    t2 = torch.nn.functional.batch_norm(torch.tensor(x2[:, :, 0]), torch.tensor(rm), torch.tensor(rv),
                                        torch.tensor(gamma), torch.tensor(beta), training=True, eps=EPS)
    np.testing.assert_allclose(o2[:, :, 0], t2.numpy(), rtol=1e-10, atol=1e-12)
