"""The dense kernel: every backend against the NumPy reference, torch, and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import dense as ref

BACKENDS = ("numpy", "numba", "cython")
DTYPES = (np.float32, np.float64)
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
ACTS = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "gelu": 4}


def _data(dtype, n=7, d=5, m=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(dtype)
    W = rng.randn(d, m).astype(dtype)
    b = rng.randn(m).astype(dtype)
    return X, W, b


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_affine_forward_backward_match_reference(backend, dtype):
    k = get_kernel("dense", backend)
    X, W, b = _data(dtype)
    out, out_ref = np.empty((7, 4), dtype), np.empty((7, 4), dtype)
    k.dense_forward(X, W, b, out)
    ref.dense_forward(X, W, b, out_ref)
    np.testing.assert_allclose(out, out_ref, **TOL[dtype])
    np.testing.assert_allclose(out_ref, X.astype(np.float64) @ W + b, rtol=1e-4)
    dout = np.cos(out_ref).astype(dtype)
    got = [np.empty_like(X), np.empty_like(W), np.empty_like(b)]
    exp = [np.empty_like(X), np.empty_like(W), np.empty_like(b)]
    k.dense_backward(X, W, dout, *got, True)
    ref.dense_backward(X, W, dout, *exp, True)
    for g, e in zip(got, exp):
        np.testing.assert_allclose(g, e, **TOL[dtype])
    # need_dx=False leaves dX alone
    dX = np.full_like(X, 7.0)
    k.dense_backward(X, W, dout, dX, got[1], got[2], False)
    assert np.all(dX == 7.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(ACTS))
def test_activations_match_reference_any_shape(backend, dtype, act):
    k = get_kernel("dense", backend)
    rng = np.random.RandomState(1)
    for shape in [(6, 5), (2, 3, 4, 5)]:
        Z = (rng.randn(*shape) * 2).astype(dtype)
        A, A_ref = np.empty_like(Z), np.empty_like(Z)
        k.activation_forward(Z, ACTS[act], A)
        ref.activation_forward(Z, ACTS[act], A_ref)
        np.testing.assert_allclose(A, A_ref, **TOL[dtype])
        dA = rng.randn(*shape).astype(dtype)
        dZ, dZ_ref = np.empty_like(Z), np.empty_like(Z)
        k.activation_backward(Z, A_ref, dA, ACTS[act], dZ)
        ref.activation_backward(Z, A_ref, dA, ACTS[act], dZ_ref)
        np.testing.assert_allclose(dZ, dZ_ref, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_activation_takes_parallel_path(backend):
    k = get_kernel("dense", backend)
    Z = np.random.RandomState(2).randn(300, 1000)
    A = np.empty_like(Z)
    k.activation_forward(Z, 1, A)
    np.testing.assert_array_equal(A, np.maximum(Z, 0))
    dZ = np.empty_like(Z)
    k.activation_backward(Z, A, np.ones_like(Z), 1, dZ)
    np.testing.assert_array_equal(dZ, (Z > 0).astype(float))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_losses_match_reference(backend, dtype):
    k = get_kernel("dense", backend)
    rng = np.random.RandomState(3)
    logits = (rng.randn(9, 4) * 3).astype(dtype)
    logits[0] = [1000, -1000, 0, 0]  # stability: no overflow
    y = rng.randint(0, 4, 9).astype(np.int64)
    P, G, P_ref, G_ref = (np.empty_like(logits) for _ in range(4))
    loss = k.softmax_cross_entropy(logits, y, P, G)
    loss_ref = ref.softmax_cross_entropy(logits, y, P_ref, G_ref)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-5)
    np.testing.assert_allclose(P, P_ref, **TOL[dtype])
    np.testing.assert_allclose(G, G_ref, **TOL[dtype])
    target = rng.randn(9, 4).astype(dtype)
    G2, G2_ref = np.empty_like(logits), np.empty_like(logits)
    np.testing.assert_allclose(k.mse_loss(logits, target, G2), ref.mse_loss(logits, target, G2_ref), rtol=1e-5)
    np.testing.assert_allclose(G2, G2_ref, **TOL[dtype])


def _num_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("act", list(ACTS))
def test_gradients_by_central_differences(backend, act):
    """Loss = CE(softmax(f(X W + b) V)) : analytic gradients of every kernel vs numeric."""
    k = get_kernel("dense", backend)
    rng = np.random.RandomState(4)
    X, W, b = _data(np.float64, n=5, d=3, m=4)
    V = rng.randn(4, 3)
    c = np.zeros(3)
    y = np.array([0, 2, 1, 1, 0], dtype=np.int64)
    code = ACTS[act]

    def loss_and_grads():
        z = np.empty((5, 4))
        k.dense_forward(X, W, b, z)
        a = np.empty_like(z)
        k.activation_forward(z, code, a)
        o = np.empty((5, 3))
        k.dense_forward(a, V, c, o)
        P, G = np.empty_like(o), np.empty_like(o)
        loss = k.softmax_cross_entropy(o, y, P, G)
        da, dV, dc = np.empty_like(a), np.empty_like(V), np.empty_like(c)
        k.dense_backward(a, V, G, da, dV, dc, True)
        dz = np.empty_like(z)
        k.activation_backward(z, a, da, code, dz)
        dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty_like(b)
        k.dense_backward(X, W, dz, dX, dW, db, True)
        return loss, dX, dW, db, dV

    _, dX, dW, db, dV = loss_and_grads()
    f = lambda: loss_and_grads()[0]  # noqa: E731
    for analytic, x in ((dX, X), (dW, W), (db, b), (dV, V)):
        np.testing.assert_allclose(analytic, _num_grad(f, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("act", list(ACTS))
def test_matches_torch(backend, act):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k = get_kernel("dense", backend)
    X, W, b = _data(np.float64, n=6, d=5, m=3)
    y = np.array([0, 2, 1, 1, 0, 2], dtype=np.int64)
    z = np.empty((6, 3))
    k.dense_forward(X, W, b, z)
    a = np.empty_like(z)
    k.activation_forward(z, ACTS[act], a)
    P, G = np.empty_like(a), np.empty_like(a)
    loss = k.softmax_cross_entropy(a, y, P, G)
    dz = np.empty_like(z)
    k.activation_backward(z, a, G, ACTS[act], dz)
    dX, dW, db = np.empty_like(X), np.empty_like(W), np.empty_like(b)
    k.dense_backward(X, W, dz, dX, dW, db, True)
    Xt, Wt, bt = (torch.tensor(v, requires_grad=True) for v in (X, W, b))
    fn = {"identity": lambda t: t, "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
          "gelu": F.gelu}[act]
    lt = F.cross_entropy(fn(F.linear(Xt, Wt.T, bt)), torch.tensor(y))
    lt.backward()
    np.testing.assert_allclose(loss, lt.item(), rtol=1e-10)
    for mine, t in ((dX, Xt), (dW, Wt), (db, bt)):
        np.testing.assert_allclose(mine, t.grad.numpy(), rtol=1e-8, atol=1e-12)
    target = np.cos(a)
    G2 = np.empty_like(a)
    mse = k.mse_loss(a, target, G2)
    at = torch.tensor(a, requires_grad=True)
    lm = F.mse_loss(at, torch.tensor(target), reduction="sum") / (2 * 6)
    lm.backward()
    np.testing.assert_allclose(mse, lm.item(), rtol=1e-10)
    np.testing.assert_allclose(G2, at.grad.numpy(), rtol=1e-10)
