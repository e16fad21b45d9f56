"""The word2vec kernel: Numba and Cython against the NumPy reference, and its gradients."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import available_backends, get_kernel
from maaskit._kernels.reference import word2vec as ref

BACKENDS = ("numpy", "numba", "cython")
FUNCS = ("train_sg", "train_cbow")
TOL = {np.float32: dict(rtol=1e-4, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-13)}


def _problem(dtype, V=30, dim=8, n_words=200, seed=0):
    rng = np.random.RandomState(seed)
    words = rng.randint(0, V, n_words).astype(np.int32)
    # Sentences of varied lengths, including one of a single word (no context).
    starts = np.array([0, 7, 50, 51, 120, n_words], dtype=np.int64)
    alphas = np.linspace(0.05, 0.01, len(starts) - 1)
    counts = rng.randint(1, 100, V)
    cum = np.cumsum(np.round(counts**0.75 * 1000)).astype(np.int64)
    syn0 = ((rng.rand(V, dim) - 0.5) / dim).astype(dtype)
    syn1 = (rng.rand(V, dim) * 0.1).astype(dtype)
    return words, starts, alphas, syn0, syn1, cum


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", FUNCS)
def test_matches_reference(backend, dtype, fn):
    if backend not in available_backends("word2vec"):
        pytest.fail(f"backend {backend} of kernel word2vec is not available")
    words, starts, alphas, syn0, syn1, cum = _problem(dtype)
    a0, a1 = syn0.copy(), syn1.copy()
    loss_r, n_r = getattr(ref, fn)(words, starts, alphas, a0, a1, cum, 3, 4, 12345, True)
    b0, b1 = syn0.copy(), syn1.copy()
    loss_k, n_k = getattr(get_kernel("word2vec", backend), fn)(words, starts, alphas, b0, b1, cum, 3, 4,
                                                               12345, True)
    assert n_k == n_r > 0
    np.testing.assert_allclose(loss_k, loss_r, rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(b0, a0, **TOL[dtype])
    np.testing.assert_allclose(b1, a1, **TOL[dtype])
    assert not np.array_equal(b0, syn0) and not np.array_equal(b1, syn1)  # it did train


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_loss_flag_and_zero_rate(backend, fn):
    words, starts, alphas, syn0, syn1, cum = _problem(np.float64)
    kern = getattr(get_kernel("word2vec", backend), fn)
    a0, a1 = syn0.copy(), syn1.copy()
    loss, n = kern(words, starts, np.zeros_like(alphas), a0, a1, cum, 3, 4, 7, True)
    assert loss > 0 and np.array_equal(a0, syn0) and np.array_equal(a1, syn1)
    loss0, n0 = kern(words, starts, alphas, a0, a1, cum, 3, 4, 7, False)
    assert loss0 == 0.0 and n0 == n


def _loss(kern, words, starts, syn0, syn1, cum, negative, seed):
    return kern(words, starts, np.zeros(len(starts) - 1), syn0.copy(), syn1.copy(), cum, 1, negative,
                seed, True)[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_update_is_minus_gradient_finite_differences(backend, fn):
    # Window 1 on two-word sentences: every centre has exactly one context word, so the
    # kernel's step divided by the rate is minus the gradient of the loss it returns (for
    # CBOW too; with more context words gensim's convention adds the mean's error to each).
    kern = getattr(get_kernel("word2vec", backend), fn)
    rng = np.random.RandomState(3)
    V, dim, negative, seed = 6, 3, 3, 99
    words = np.array([0, 1, 2, 3], dtype=np.int32)
    starts = np.array([0, 2, 4], dtype=np.int64)
    cum = np.cumsum(rng.randint(1, 10, V) * 100).astype(np.int64)
    syn0 = rng.randn(V, dim) * 0.5
    syn1 = rng.randn(V, dim) * 0.5
    alpha = 1e-7
    a0, a1 = syn0.copy(), syn1.copy()
    kern(words, starts, np.full(2, alpha), a0, a1, cum, 1, negative, seed, False)
    step0, step1 = (a0 - syn0) / alpha, (a1 - syn1) / alpha
    eps = 1e-6
    for P, step in ((syn0, step0), (syn1, step1)):
        grad = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            lp = _loss(kern, words, starts, syn0, syn1, cum, negative, seed)
            P[idx] = old - eps
            lm = _loss(kern, words, starts, syn0, syn1, cum, negative, seed)
            P[idx] = old
            grad[idx] = (lp - lm) / (2 * eps)
        assert np.abs(grad).max() > 1e-3
        np.testing.assert_allclose(step, -grad, rtol=1e-4, atol=1e-6)


def test_negative_draws_follow_the_table():
    cum = np.array([10, 30, 60, 100], dtype=np.int64)
    r = 12345
    hits = np.zeros(4)
    for _ in range(20000):
        hits[ref._draw(r, cum)] += 1
        r = ref._next(r)
    np.testing.assert_allclose(hits / hits.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.015)


def test_skipgram_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(5)
    V, dim, negative, seed = 8, 4, 3, 2024
    cum = np.cumsum(rng.randint(1, 10, V) * 100).astype(np.int64)
    syn0 = rng.randn(V, dim) * 0.3
    syn1 = rng.randn(V, dim) * 0.3
    words = np.array([2, 5], dtype=np.int32)  # one pair each way; window 1
    starts = np.array([0, 2], dtype=np.int64)
    loss_k = _loss(ref.train_sg, words, starts, syn0, syn1, cum, negative, seed)
    # Replay the generator to get the same draws, then compute the loss with torch.
    r = seed
    s0 = torch.tensor(syn0, requires_grad=True)
    s1 = torch.tensor(syn1, requires_grad=True)
    total = torch.zeros((), dtype=torch.float64)
    for i, j in ((0, 1), (1, 0)):
        r = ref._next(r)  # window draw of centre i
        centre, ctx = int(words[i]), int(words[j])
        total = total - torch.nn.functional.logsigmoid(s0[ctx] @ s1[centre])
        for _ in range(negative):
            t = ref._draw(r, cum)
            r = ref._next(r)
            if t != centre:
                total = total - torch.nn.functional.logsigmoid(-(s0[ctx] @ s1[t]))
    np.testing.assert_allclose(loss_k, total.item(), rtol=1e-12)
    total.backward()
    a0, a1 = syn0.copy(), syn1.copy()
    alpha = 1e-8
    ref.train_sg(words, starts, np.full(1, alpha), a0, a1, cum, 1, negative, seed, False)
    np.testing.assert_allclose((a0 - syn0) / alpha, -s0.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose((a1 - syn1) / alpha, -s1.grad.numpy(), rtol=1e-5, atol=1e-7)
