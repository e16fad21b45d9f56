"""The attention kernel: Numba and Cython vs the NumPy reference, finite differences, and
torch's scaled_dot_product_attention (values and gradients, padding and causal masks).

The Numba kernel has two per-head code paths (scalar loops below ``GEMM_MIN_LENGTH``, BLAS
GEMMs from it on), so lengths are drawn from both sides; the Cython kernel's blocked GEMM
has 4-row x 16/8-column register blocks plus edge loops, so odd lengths and head dims (not
multiples of 4 or 8) are covered too.
"""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.numba import attention as nb_attention
from maaskit._kernels.reference import attention as ref

BACKENDS = ("numpy", "numba", "cython")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
# (T, D): below the Numba GEMM threshold, at it, and above it with odd sizes
GEMM_T = nb_attention.GEMM_MIN_LENGTH
LENGTHS = [(7, 5), (GEMM_T, 8), (GEMM_T + 21, 12)]


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


def test_lengths_cover_both_numba_paths():
    assert LENGTHS[0][0] < GEMM_T <= LENGTHS[1][0] < LENGTHS[2][0]


@pytest.mark.parametrize("TD", LENGTHS, ids=lambda td: f"T{td[0]}D{td[1]}")
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(backend, dtype, causal, TD):
    T, D = TD
    q, k, v, do, kv = _problem(dtype, T=T, D=D)
    kv[0, 2] = 0  # a padded key in the middle too, not only at the end
    want = _run(ref, q, k, v, do, kv, causal)
    got = _run(get_kernel("attention", backend), q, k, v, do, kv, causal)
    for name, g, w in zip(("out", "probs", "dq", "dk", "dv"), got, want):
        np.testing.assert_allclose(g, w, err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [7, GEMM_T + 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_is_stable_and_masks_are_exact(backend, T, dtype):
    # scores of +-1e4 overflow a naive exp(); padded keys must get exactly zero weight, even
    # when their scores are far above every visible key's (exp of that overflows: inf * 0)
    q, k, v, do, kv = _problem(dtype, T=T)
    kv[1, 4:] = 0
    q *= 300.0
    k[1, :, 4:] = 50.0 * q[1, :, 4:]
    out, probs, dq, dk, dv = _run(get_kernel("attention", backend), q, k, v, do, kv, False)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dq))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(probs[1, :, :, 4:] == 0)
    assert np.all(dk[1, :, 4:] == 0) and np.all(dv[1, :, 4:] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [7, GEMM_T + 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_fully_masked_rows_give_zeros_not_nan(backend, T, dtype):
    q, k, v, do, kv = _problem(dtype, T=T)
    kv[0, :] = 0
    out, probs, dq, dk, dv = _run(get_kernel("attention", backend), q, k, v, do, kv, False)
    assert np.all(out[0] == 0) and np.all(probs[0] == 0) and np.all(dq[0] == 0)
    assert np.all(dk[0] == 0) and np.all(dv[0] == 0)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dq))


@pytest.mark.parametrize("backend", BACKENDS)
def test_causal_with_leading_padding_masks_whole_query_rows(backend):
    # left padding + causal: the first queries see no key at all (zero rows), later ones
    # see a prefix that starts after the padding
    q, k, v, do, kv = _problem(np.float64, T=GEMM_T + 5)
    kv[1, :3] = 0
    out, probs, dq, dk, dv = _run(get_kernel("attention", backend), q, k, v, do, kv, True)
    want = _run(ref, q, k, v, do, kv, True)
    for g, w in zip((out, probs, dq, dk, dv), want):
        np.testing.assert_allclose(g, w, **TOL[np.float64])
    assert np.all(probs[1, :, :3] == 0) and np.all(out[1, :, :3] == 0)
    assert np.all(np.triu(probs[0, 0], 1) == 0)


def test_numba_threaded_gemm_path_restores_blas_threads():
    # the threaded GEMM path holds BLAS to one thread while it runs, then must put it back
    from maaskit._config import _blas_controller

    controller = _blas_controller()
    before = [lib["num_threads"] for lib in controller.info()]
    q, k, v, do, kv = _problem(np.float32, B=4, H=4, T=65, D=32, pad=False)
    assert nb_attention._parallel(q) and nb_attention._gemm(q)
    _run(nb_attention, q, k, v, do, kv, False)
    assert [lib["num_threads"] for lib in controller.info()] == before


@pytest.mark.parametrize("backend", BACKENDS)
# the last two shapes are above PARALLEL_MIN_WORK: they take the threaded path
@pytest.mark.parametrize("shape", [(1, 1, 1, 4), (1, 2, 18, 3), (3, 2, 33, 16),
                                   (4, 4, 65, 32), (2, 8, 64, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_odd_shapes(backend, shape, dtype):
    B, H, T, D = shape
    q, k, v, do, kv = _problem(dtype, B=B, H=H, T=T, D=D, pad=False)
    want = _run(ref, q, k, v, do, kv, True)
    got = _run(get_kernel("attention", backend), q, k, v, do, kv, True)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("T", [4, GEMM_T + 1])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(backend, causal, T):
    mod = get_kernel("attention", backend)
    q, k, v, do, kv = _problem(np.float64, B=2, H=2, T=T, D=3)
    kv[1, T - 1] = 0
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


@pytest.mark.parametrize("T", [7, GEMM_T + 9])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_sdpa(backend, dtype, causal, T):
    torch = pytest.importorskip("torch")
    q, k, v, do, kv = _problem(dtype, T=T)
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
