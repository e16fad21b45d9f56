"""The attention kernel: Numba and Cython vs the NumPy reference, finite differences, and
torch's scaled_dot_product_attention (values and gradients, padding and causal masks)."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import attention as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, B=2, H=3, T=7, D=5, seed=0, pad=True):
    rng = np.random.RandomState(seed)
    q, k, v, do = (rng.randn(B, H, T, D).astype(dtype) for _ in range(4))
    kv = np.ones((B, T), np.uint8)
    if pad:
        kv[1, 4:] = 0  # row 1: three padding tokens at the end
    return q, k, v, do, kv


def _run(mod, q, k, v, do, kv, causal):
    B, H, T, D = q.shape
    scale = 1.0 / np.sqrt(D)
    out = np.empty_like(q)
    probs = np.empty((B, H, T, T), q.dtype)
    mod.attention_forward(q, k, v, kv, causal, scale, out, probs)
    dq, dk, dv = (np.empty_like(q) for _ in range(3))
    mod.attention_backward(do, q, k, v, out, probs, scale, dq, dk, dv)
    return out, probs, dq, dk, dv


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(backend, dtype, causal):
    args = _problem(dtype)
    want = _run(ref, *args, causal)
    got = _run(get_kernel("attention", backend), *args, causal)
    for name, g, w in zip(("out", "probs", "dq", "dk", "dv"), got, want):
        np.testing.assert_allclose(g, w, err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_is_stable_and_masks_are_exact(backend):
    # scores of +-1e4 overflow a naive exp(); padded keys must get exactly zero weight
    q, k, v, do, kv = _problem(np.float32)
    q *= 300.0
    out, probs, dq, dk, dv = _run(get_kernel("attention", backend), q, k, v, do, kv, False)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dq))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(probs[1, :, :, 4:] == 0)
    assert np.all(dk[1, :, 4:] == 0) and np.all(dv[1, :, 4:] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fully_masked_rows_give_zeros_not_nan(backend):
    q, k, v, do, kv = _problem(np.float64)
    kv[0, :] = 0
    out, probs, dq, dk, dv = _run(get_kernel("attention", backend), q, k, v, do, kv, False)
    assert np.all(out[0] == 0) and np.all(probs[0] == 0) and np.all(dq[0] == 0)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("backend", BACKENDS)
# the last shape is above PARALLEL_MIN_WORK: it takes the threaded path
@pytest.mark.parametrize("shape", [(1, 1, 1, 4), (3, 2, 33, 16), (4, 4, 65, 32)])
def test_odd_shapes(backend, shape):
    B, H, T, D = shape
    q, k, v, do, kv = _problem(np.float32, B=B, H=H, T=T, D=D, pad=False)
    want = _run(ref, q, k, v, do, kv, True)
    got = _run(get_kernel("attention", backend), q, k, v, do, kv, True)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **TOL[np.float32])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(backend, causal):
    mod = get_kernel("attention", backend)
    q, k, v, do, kv = _problem(np.float64, B=2, H=2, T=4, D=3)
    kv[1, 3] = 0
    _, _, dq, dk, dv = _run(mod, q, k, v, do, kv, causal)

    def loss():
        return float(np.sum(_run(mod, q, k, v, do, kv, causal)[0] * do))

    eps = 1e-6
    rng = np.random.RandomState(1)
    for arr, grad in ((q, dq), (k, dk), (v, dv)):
        for _ in range(8):
            idx = tuple(rng.randint(s) for s in arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            np.testing.assert_allclose(grad[idx], (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_sdpa(backend, dtype, causal):
    torch = pytest.importorskip("torch")
    q, k, v, do, kv = _problem(dtype)
    out, _, dq, dk, dv = _run(get_kernel("attention", backend), q, k, v, do, kv, causal)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    mask = torch.tensor(kv.astype(bool))[:, None, None, :]
    if causal:
        mask = mask & torch.ones(q.shape[2], q.shape[2], dtype=torch.bool).tril()
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
    tout.backward(torch.tensor(do))
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(out, tout.detach().numpy(), **tol)
    for g, t in ((dq, tq), (dk, tk), (dv, tv)):
        np.testing.assert_allclose(g, t.grad.numpy(), **tol)
