"""SASRec's network: gradients by finite differences on every CPU backend, and the torch twin."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit.recommender._sasrec_net import SASRecNet, init_params, n_params, param_layout, views

BACKENDS = ("numpy", "numba", "cython")
IDS = np.array([[-1, -1, 1, 2, 3], [0, 4, 5, 6, 2], [-1, -1, -1, -1, 3]], np.int64)
TARGETS = np.array([[-1, -1, 2, 3, 4], [4, 5, 6, 2, 1], [-1, -1, -1, -1, -1]], np.int64).ravel()


def _net(backend, dtype=np.float64, dropout=0.3, n_items=7, d=4, blocks=2, heads=2, L=5):
    rng = np.random.RandomState(0)
    flat = np.zeros(n_params(n_items, d, blocks, L), dtype)
    init_params(views(flat, param_layout(n_items, d, blocks, L)), d, rng)
    flat += (0.1 * rng.randn(len(flat))).astype(dtype)  # break the symmetric start (unit gains)
    return SASRecNet(n_items, d, blocks, heads, L, dropout, backend, flat)


def _loss_and_grad(net, n_neg, seed=1):
    gflat = np.zeros_like(net.flat)
    g = views(gflat, net.layout)
    H, cache = net.forward(IDS, np.random.default_rng(seed), keep=True)
    loss, dH = net.loss(H, TARGETS, g, n_neg, np.random.default_rng(seed + 1))
    net.backward(dH, cache, g)
    return loss, gflat


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_neg", [None, 5], ids=["softmax", "sampled"])
def test_gradients_match_finite_differences(backend, n_neg):
    # float64, dropout on (same masks for every evaluation: same seeds), padded rows included
    net = _net(backend)
    _, grad = _loss_and_grad(net, n_neg)
    num = np.zeros_like(grad)
    eps = 1e-6
    rng = np.random.RandomState(3)
    check = rng.choice(len(grad), 150, replace=False)  # a sample of every parameter kind
    check = np.union1d(check, np.arange(0, len(grad), 7))
    for i in check:
        old = net.flat[i]
        net.flat[i] = old + eps
        lp = _loss_and_grad(net, n_neg)[0]
        net.flat[i] = old - eps
        lm = _loss_and_grad(net, n_neg)[0]
        net.flat[i] = old
        num[i] = (lp - lm) / (2 * eps)
    np.testing.assert_allclose(grad[check], num[check], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_float32_backends_match_reference(backend):
    ref_loss, ref_grad = _loss_and_grad(_net("numpy", np.float32), None)
    loss, grad = _loss_and_grad(_net(backend, np.float32), None)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_last_only_forward_matches_the_newest_row(backend):
    # inference runs the last block at the newest position only; the all-padding row (no key
    # at all) must give what the full pass gives, not NaN
    net = _net(backend, np.float32)
    ids = np.vstack([IDS, np.full((1, 5), -1, np.int64)])
    full, _ = net.forward(ids)
    last, _ = net.forward(ids, last_only=True)
    assert last.shape == (len(ids), net.d)
    np.testing.assert_allclose(last, full.reshape(len(ids), 5, net.d)[:, -1], rtol=1e-5, atol=1e-6)


def test_torch_twin_matches():
    torch = pytest.importorskip("torch")
    from maaskit.recommender._sasrec_torch import _views, torch_forward, torch_loss

    net = _net("numpy", dropout=0.0)
    loss, grad = _loss_and_grad(net, None)
    p = torch.tensor(net.flat, requires_grad=True)
    w = _views(p, net.layout)
    H = torch_forward(w, torch.as_tensor(IDS), net.n_heads, net.max_len, 0.0, None)
    H_np, _ = net.forward(IDS)
    np.testing.assert_allclose(H.detach().numpy(), H_np, rtol=1e-10, atol=1e-12)
    tl = torch_loss(w, H, torch.as_tensor(TARGETS), None, None)
    tl.backward()
    np.testing.assert_allclose(tl.item(), loss, rtol=1e-10)
    np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-8, atol=1e-12)


def test_torch_training_path_on_cpu(monkeypatch):
    # device="cuda" trains through torch; here CPU torch stands in for the GPU
    pytest.importorskip("torch")
    import maaskit.recommender._sasrec as sasrec_mod
    import maaskit.recommender._sasrec_torch as torch_mod
    from maaskit.recommender import SASRec

    monkeypatch.setattr(sasrec_mod, "resolve_device", lambda device, where="": "cuda")
    real = torch_mod.torch_device
    monkeypatch.setattr(torch_mod, "torch_device", lambda name: real("cpu"))
    seqs = {f"u{u}": [f"i{(u + t) % 6}" for t in range(8)] for u in range(18)}
    est = SASRec(n_factors=16, n_blocks=1, max_len=5, dropout=0.1, learning_rate=1e-2, max_iter=30,
                 early_stopping=False, random_state=0, device="cuda").fit(seqs)
    assert est.backend_ == "torch" and est.n_iter_ == 30
    assert est.history_["loss"][-1] < 0.5 * est.history_["loss"][0]
    ids, _ = est.recommend_history(["i2", "i3"], n=1, exclude_seen=False)
    assert ids[0] == "i4"
