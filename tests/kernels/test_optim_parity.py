"""The optim kernel: Numba and Cython against the NumPy reference, and all against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.numba.optim import PARALLEL_MIN

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

SGD_CASES = [
    dict(lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False),
    dict(lr=0.05, momentum=0.9, weight_decay=0.0, nesterov=False),
    dict(lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True),
    dict(lr=0.2, momentum=0.0, weight_decay=0.1, nesterov=False),
]
ADAM_CASES = [
    dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False),
    dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05, decoupled=False),
    dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, decoupled=True),
]


def _grads(n, steps, dtype, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(steps, n).astype(dtype)


def _run_sgd(backend, p0, grads, case):
    k = get_kernel("optim", backend)
    p, vel = p0.copy(), np.zeros_like(p0)
    for g in grads:
        k.sgd_update(p, g, vel, **case)
    return p, vel


def _run_adam(backend, p0, grads, case):
    k = get_kernel("optim", backend)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        k.adam_update(p, g, m, v, step=t, **case)
    return p, m, v


@pytest.mark.parametrize("n", [1, 37, PARALLEL_MIN + 3])
@pytest.mark.parametrize("case", SGD_CASES)
@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_update_matches_reference(backend, dtype, case, n):
    p0 = np.random.RandomState(1).randn(n).astype(dtype)
    grads = _grads(n, 4, dtype)
    ref = _run_sgd("numpy", p0, grads, case)
    got = _run_sgd(backend, p0, grads, case)
    for r, g in zip(ref, got):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("n", [1, 37, PARALLEL_MIN + 3])
@pytest.mark.parametrize("case", ADAM_CASES)
@pytest.mark.parametrize("backend", BACKENDS[1:])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update_matches_reference(backend, dtype, case, n):
    p0 = np.random.RandomState(1).randn(n).astype(dtype)
    grads = _grads(n, 4, dtype)
    ref = _run_adam("numpy", p0, grads, case)
    got = _run_adam(backend, p0, grads, case)
    for r, g in zip(ref, got):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_sgd_without_momentum_leaves_velocity_alone(backend):
    p = np.ones(5)
    vel = np.full(5, 7.0)
    get_kernel("optim", backend).sgd_update(p, np.ones(5), vel, 0.5, 0.0, 0.0, False)
    np.testing.assert_array_equal(vel, 7.0)
    np.testing.assert_array_equal(p, 0.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_buffers_are_a_no_op(backend):
    k = get_kernel("optim", backend)
    e = np.zeros(0)
    k.sgd_update(e, e, e, 0.1, 0.9, 0.0, True)
    k.adam_update(e, e, e.copy(), e.copy(), 0.1, 0.9, 0.999, 1e-8, 0.0, False, 1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("algo", ["sgd", "momentum", "adam", "adamw"])
def test_optimizers_minimise_a_quadratic(backend, algo):
    """Driving the kernels with the exact gradient of 0.5 x'Ax - b'x reaches A^-1 b."""
    rng = np.random.RandomState(0)
    Q = rng.randn(6, 6)
    A = Q @ Q.T / 6 + np.eye(6)
    b = rng.randn(6)
    x_star = np.linalg.solve(A, b)
    k = get_kernel("optim", backend)
    x, s1, s2 = np.zeros(6), np.zeros(6), np.zeros(6)
    for t in range(1, 3001):
        g = A @ x - b
        if algo == "sgd":
            k.sgd_update(x, g, s1, 0.1, 0.0, 0.0, False)
        elif algo == "momentum":
            k.sgd_update(x, g, s1, 0.05, 0.9, 0.0, True)
        else:
            lr = 0.05 if t < 1500 else 0.005  # a decayed rate lets Adam settle
            k.adam_update(x, g, s1, s2, lr, 0.9, 0.999, 1e-8, 0.0, algo == "adamw", t)
    np.testing.assert_allclose(x, x_star, atol=1e-3)


def test_sgd_step_is_minus_lr_times_finite_difference_gradient():
    """With weight decay the step equals -lr * d/dp [f(p) + wd/2 |p|^2] (central differences)."""
    rng = np.random.RandomState(2)
    a = rng.randn(4)
    p0 = rng.randn(4)
    wd, lr, h = 0.3, 0.01, 1e-6

    def loss(p):
        return np.sum(np.sin(p) * a) + 0.5 * wd * p @ p

    fd = np.array([(loss(p0 + h * e) - loss(p0 - h * e)) / (2 * h) for e in np.eye(4)])
    for backend in BACKENDS:
        p = p0.copy()
        get_kernel("optim", backend).sgd_update(p, np.cos(p0) * a, np.zeros(4), lr, 0.0, wd, False)
        np.testing.assert_allclose((p0 - p) / lr, fd, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- against torch.optim


def _torch_run(opt_name, p0, grads, **kw):
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = getattr(torch.optim, opt_name)([p], foreach=False, **kw)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    return p.detach().numpy()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_matches_torch(backend, dtype, case):
    p0 = np.random.RandomState(1).randn(50).astype(dtype)
    grads = _grads(50, 6, dtype)
    got, _ = _run_sgd(backend, p0, grads, case)
    want = _torch_run("SGD", p0, grads, lr=case["lr"], momentum=case["momentum"],
                      weight_decay=case["weight_decay"], nesterov=case["nesterov"])
    np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_matches_torch(backend, dtype, case):
    p0 = np.random.RandomState(1).randn(50).astype(dtype)
    grads = _grads(50, 6, dtype)
    got, _, _ = _run_adam(backend, p0, grads, case)
    name = "AdamW" if case["decoupled"] else "Adam"
    want = _torch_run(name, p0, grads, lr=case["lr"], betas=(case["beta1"], case["beta2"]),
                      eps=case["eps"], weight_decay=case["weight_decay"])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)
