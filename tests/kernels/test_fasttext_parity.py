"""The fasttext kernel: Numba against the NumPy reference, finite differences and torch."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import fasttext as ref

BACKENDS = ("numpy", "numba")
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, n=30, F=50, dim=6, C=3, seed=0):
    rng = np.random.RandomState(seed)
    lens = rng.randint(0, 6, n)
    if n > 4:
        lens[4] = 0  # a document with no known feature trains only the bias
    indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    indices = rng.randint(0, F, indptr[-1]).astype(np.int32)
    labels = rng.randint(0, C, n).astype(np.int32)
    order = rng.permutation(n).astype(np.int64)
    lrs = np.linspace(0.5, 0.1, n)
    E = rng.randn(F, dim).astype(dtype)
    W = rng.randn(C, dim).astype(dtype)
    b = rng.randn(C).astype(dtype)
    return indptr, indices, labels, order, lrs, E, W, b


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_and_predict_match_reference(backend, dtype):
    indptr, indices, labels, order, lrs, E, W, b = _problem(dtype)
    kern = get_kernel("fasttext", backend)
    out_r = np.zeros((len(labels), W.shape[0]), dtype)
    out_k = np.zeros_like(out_r)
    ref.predict_scores(indptr, indices, E, W, b, out_r)
    kern.predict_scores(indptr, indices, E, W, b, out_k)
    np.testing.assert_allclose(out_k, out_r, **TOL[dtype])
    pr = [a.copy() for a in (E, W, b)]
    pk = [a.copy() for a in (E, W, b)]
    loss_r = ref.train_epoch(indptr, indices, labels, order, lrs, *pr)
    loss_k = kern.train_epoch(indptr, indices, labels, order, lrs, *pk)
    np.testing.assert_allclose(loss_k, loss_r, rtol=1e-5 if dtype == np.float32 else 1e-12)
    for a, c in zip(pk, pr):
        np.testing.assert_allclose(a, c, **TOL[dtype])
    assert not np.array_equal(pk[0], E)


def _loss(kern, indptr, indices, labels, order, E, W, b):
    return kern.train_epoch(indptr, indices, labels, order, np.zeros(len(order)), E.copy(), W.copy(), b.copy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_update_is_minus_gradient_finite_differences(backend):
    kern = get_kernel("fasttext", backend)
    _, _, _, _, _, E, W, b = _problem(np.float64, n=3, F=5, dim=3, C=3, seed=1)
    indptr = np.array([0, 4], dtype=np.int64)
    indices = np.array([0, 0, 2, 3], dtype=np.int32)  # a repeated feature gets its share twice
    labels = np.array([1], dtype=np.int32)
    order = np.array([0], dtype=np.int64)
    lr = 1e-7
    pe = [a.copy() for a in (E, W, b)]
    kern.train_epoch(indptr, indices, labels, order, np.array([lr]), *pe)
    eps = 1e-6
    for P, new in zip((E, W, b), pe):
        grad = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            lp = _loss(kern, indptr, indices, labels, order, E, W, b)
            P[idx] = old - eps
            lm = _loss(kern, indptr, indices, labels, order, E, W, b)
            P[idx] = old
            grad[idx] = (lp - lm) / (2 * eps)
        assert np.abs(grad).max() > 1e-3
        np.testing.assert_allclose((new - P) / lr, -grad, rtol=1e-4, atol=1e-6)


def test_matches_torch_embeddingbag():
    torch = pytest.importorskip("torch")
    indptr, indices, labels, order, _, E, W, b = _problem(np.float64, n=8, seed=2)
    order = np.arange(8, dtype=np.int64)
    keep = np.diff(indptr) > 0
    emb = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(E), freeze=False, mode="mean")
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    h = emb(torch.tensor(indices, dtype=torch.long), torch.tensor(indptr[:-1]))
    z = h @ Wt.T + bt
    loss = torch.nn.functional.cross_entropy(z[keep], torch.tensor(labels[keep], dtype=torch.long),
                                             reduction="sum")
    loss.backward()
    sel = order[keep]
    lr = 1e-8
    pe = [a.copy() for a in (E, W, b)]
    # Sum of per-document gradients = gradient of the summed loss (first order in lr).
    ref_loss = ref.train_epoch(indptr, indices, labels, sel, np.full(len(sel), lr), *pe)
    np.testing.assert_allclose(ref_loss, loss.item(), rtol=1e-6)
    np.testing.assert_allclose((pe[0] - E) / lr, -emb.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose((pe[1] - W) / lr, -Wt.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose((pe[2] - b) / lr, -bt.grad.numpy(), rtol=1e-4, atol=1e-6)
