"""The rnn kernel (Elman, GRU, LSTM through time): Numba and Cython vs the NumPy reference,
finite differences, and torch's nn.RNN / nn.GRU / nn.LSTM."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import get_kernel
from maaskit._kernels.reference import rnn as ref

BACKENDS = ("numpy", "numba", "cython")
COMPILED = ("numba", "cython")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _problem(cell, dtype, T=6, B=5, H=7, seed=0, ragged=True):
    rng = np.random.RandomState(seed)
    G = GATES[cell] * H
    p = dict(
        xw=rng.randn(T, B, G).astype(dtype),
        w_hh=(0.5 * rng.randn(G, H)).astype(dtype),
        h0=(0.5 * rng.randn(B, H)).astype(dtype),
        # ragged rows include an empty one (length 0: its state stays h0, its inputs get no grad)
        lengths=np.array(([T, 3, 1, 0, T - 1] * B)[:B] if ragged else [T] * B, dtype=np.int64),
    )
    if cell == "gru":
        p["b_hh"] = (0.3 * rng.randn(G)).astype(dtype)
    if cell == "lstm":
        p["c0"] = (0.5 * rng.randn(B, H)).astype(dtype)
    return p


def _run(mod, cell, p, dhs):
    """Forward then backward; returns (hs, grads dict)."""
    T, B, _ = p["xw"].shape
    H = p["h0"].shape[1]
    dt = p["xw"].dtype
    hs = np.empty((T, B, H), dt)
    dxw = np.empty_like(p["xw"])
    dw = np.empty_like(p["w_hh"])
    dh0 = np.empty_like(p["h0"])
    if cell == "rnn":
        mod.rnn_forward(p["xw"], p["w_hh"], p["h0"], p["lengths"], hs)
        mod.rnn_backward(dhs, p["w_hh"], p["h0"], p["lengths"], hs, dxw, dw, dh0)
        return hs, dict(xw=dxw, w_hh=dw, h0=dh0)
    gates = np.empty((T, B, 4 * H), dt)
    if cell == "gru":
        db = np.empty_like(p["b_hh"])
        mod.gru_forward(p["xw"], p["w_hh"], p["b_hh"], p["h0"], p["lengths"], hs, gates)
        mod.gru_backward(dhs, p["w_hh"], p["h0"], p["lengths"], hs, gates, dxw, dw, db, dh0)
        return hs, dict(xw=dxw, w_hh=dw, b_hh=db, h0=dh0)
    cs = np.empty((T, B, H), dt)
    dc0 = np.empty_like(p["c0"])
    mod.lstm_forward(p["xw"], p["w_hh"], p["h0"], p["c0"], p["lengths"], hs, cs, gates)
    mod.lstm_backward(dhs, p["w_hh"], p["h0"], p["c0"], p["lengths"], hs, cs, gates,
                      dxw, dw, dh0, dc0)
    return hs, dict(xw=dxw, w_hh=dw, h0=dh0, c0=dc0)


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(cell, backend, dtype):
    p = _problem(cell, dtype)
    dhs = np.random.RandomState(1).randn(*p["xw"].shape[:2], p["h0"].shape[1]).astype(dtype)
    hs_r, g_r = _run(ref, cell, p, dhs)
    hs_k, g_k = _run(get_kernel("rnn", backend), cell, p, dhs)
    np.testing.assert_allclose(hs_k, hs_r, **TOL[dtype])
    for name in g_r:
        np.testing.assert_allclose(g_k[name], g_r[name], err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("backend", COMPILED)
def test_padded_steps_carry_state_and_get_no_gradient(cell, backend):
    p = _problem(cell, np.float64)
    dhs = np.random.RandomState(1).randn(*p["xw"].shape[:2], p["h0"].shape[1])
    hs, g = _run(get_kernel("rnn", backend), cell, p, dhs)
    # row 2 has one real step: every later state equals the first, and later inputs get no grad
    np.testing.assert_array_equal(hs[1:, 2], np.broadcast_to(hs[0, 2], hs[1:, 2].shape))
    assert np.all(g["xw"][1:, 2] == 0)
    assert np.any(g["xw"][0, 2] != 0)
    # row 3 has no real step: it keeps h0 throughout, and its gradient passes straight to h0
    np.testing.assert_array_equal(hs[:, 3], np.broadcast_to(p["h0"][3], hs[:, 3].shape))
    assert np.all(g["xw"][:, 3] == 0)
    np.testing.assert_allclose(g["h0"][3], dhs[:, 3].sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(cell, backend):
    mod = get_kernel("rnn", backend)
    p = _problem(cell, np.float64, T=4, B=4, H=3)
    dhs = np.random.RandomState(2).randn(4, 4, 3)
    _, grads = _run(mod, cell, p, dhs)

    def loss():
        return float(np.sum(_run(mod, cell, p, dhs)[0] * dhs))

    eps = 1e-6
    rng = np.random.RandomState(3)
    for name, g in grads.items():
        arr = p[name]
        for _ in range(6):
            idx = tuple(rng.randint(s) for s in arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            np.testing.assert_allclose(g[idx], (up - down) / (2 * eps), rtol=1e-6, atol=1e-8,
                                       err_msg=f"{cell} d{name}{idx}")


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("backend", COMPILED)
def test_matches_torch(cell, backend):
    torch = pytest.importorskip("torch")
    T, B, D, H = 5, 3, 4, 6
    rng = np.random.RandomState(0)
    x = rng.randn(T, B, D)
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    torch.manual_seed(0)
    net = cls(D, H).double()
    w_ih = net.weight_ih_l0.detach().numpy()
    w_hh = net.weight_hh_l0.detach().numpy().copy()
    b_ih = net.bias_ih_l0.detach().numpy()
    b_hh = net.bias_hh_l0.detach().numpy().copy()
    h0 = 0.1 * rng.randn(B, H)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    if cell == "lstm":
        c0 = 0.1 * rng.randn(B, H)
        c0t = torch.tensor(c0[None], requires_grad=True)
        out, _ = net(xt, (h0t, c0t))
    else:
        out, _ = net(xt, h0t)
    dhs = rng.randn(T, B, H)
    out.backward(torch.tensor(dhs))

    xw = x @ w_ih.T + b_ih
    if cell != "gru":
        xw = xw + b_hh  # Elman and LSTM fold the hidden bias into the input projection
    p = dict(xw=np.ascontiguousarray(xw), w_hh=w_hh, h0=h0, lengths=np.full(B, T, np.int64))
    if cell == "gru":
        p["b_hh"] = b_hh
    if cell == "lstm":
        p["c0"] = c0
    hs, g = _run(get_kernel("rnn", backend), cell, p, dhs)
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["w_hh"], net.weight_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(g["xw"].reshape(-1, g["xw"].shape[-1]).T @ x.reshape(-1, D),
                               net.weight_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(g["xw"] @ w_ih, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(g["h0"], h0t.grad.numpy()[0], rtol=1e-9, atol=1e-11)
    if cell == "gru":
        np.testing.assert_allclose(g["b_hh"], net.bias_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-11)
    if cell == "lstm":
        np.testing.assert_allclose(g["c0"], c0t.grad.numpy()[0], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("shape", [(0, 3, 4), (3, 0, 4), (1, 2, 4)])
def test_edge_shapes_match_reference(cell, backend, shape):
    # no steps, an empty batch, a single step: gradients are still fully overwritten
    T, B, H = shape
    p = _problem(cell, np.float64, T=T, B=B, H=H, ragged=False)
    dhs = np.random.RandomState(1).randn(T, B, H)
    hs_r, g_r = _run(ref, cell, p, dhs)
    hs_k, g_k = _run(get_kernel("rnn", backend), cell, p, dhs)
    np.testing.assert_allclose(hs_k, hs_r, **TOL[np.float64])
    for name in g_r:
        np.testing.assert_allclose(g_k[name], g_r[name], err_msg=name, **TOL[np.float64])


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cython_accepts_readonly_inputs(cell, dtype):
    # inputs are const memoryviews: a read-only (e.g. memory-mapped) weight array must work
    p = _problem(cell, dtype, T=5, B=6, H=9)
    dhs = np.random.RandomState(4).randn(5, 6, 9).astype(dtype)
    hs_r, g_r = _run(ref, cell, p, dhs)
    for a in list(p.values()) + [dhs]:
        a.flags.writeable = False
    hs_k, g_k = _run(get_kernel("rnn", "cython"), cell, p, dhs)
    np.testing.assert_allclose(hs_k, hs_r, **TOL[dtype])
    for name in g_r:
        np.testing.assert_allclose(g_k[name], g_r[name], err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("cell", list(GATES))
def test_classifier_trains_on_the_cython_kernel(cell):
    # backend="cython" must run the compiled recurrence (no silent fall-back to Numba) and
    # train like the Numba build: same data and seed, every kernel parity-tested -> same history
    from maaskit.neural_network import RNNClassifier

    rng = np.random.RandomState(0)
    seqs = [list(rng.randint(0, 12, size=rng.randint(1, 12))) for _ in range(160)]
    y = np.array([int(3 in s) for s in seqs])
    fits = {}
    for rnn_backend in COMPILED:
        clf = RNNClassifier(cell, 8, vocab_size=12, max_iter=15, random_state=0,
                            backend=rnn_backend, device="cpu")
        fits[rnn_backend] = clf.fit(seqs, y)
    cy, nb = fits["cython"], fits["numba"]
    assert cy.backend_["rnn"] == "cython"
    assert nb.backend_["rnn"] == "numba"
    assert cy.history_["loss"][-1] < 0.8 * cy.history_["loss"][0]
    np.testing.assert_allclose(cy.history_["loss"], nb.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(cy.predict_proba(seqs), nb.predict_proba(seqs), atol=1e-5)


def _guarded(shape, dtype, pad=64, fill=np.nan):
    """A C-contiguous array inside a larger buffer, with ``pad`` sentinel values each side."""
    n = int(np.prod(shape))
    buf = np.full(n + 2 * pad, fill, dtype=dtype)
    return buf, buf[pad:pad + n].reshape(shape)


@pytest.mark.parametrize("cell", list(GATES))
@pytest.mark.parametrize("backend", COMPILED)
def test_kernels_write_only_inside_their_outputs(cell, backend):
    # the compiled kernels index raw pointers (no bounds checks): every output lives in a
    # buffer with sentinels on both sides, which must come back untouched
    mod = get_kernel("rnn", backend)
    dtype = np.float32
    p = _problem(cell, dtype, T=5, B=5, H=6)
    T, B, G = p["xw"].shape
    H = p["h0"].shape[1]
    dhs = np.random.RandomState(5).randn(T, B, H).astype(dtype)
    sentinel = np.float32(-7.25)
    bufs = {}

    def out(name, shape):
        bufs[name], arr = _guarded(shape, dtype, fill=sentinel)
        arr[...] = np.nan  # kernels must overwrite every output value
        return arr

    hs, dxw = out("hs", (T, B, H)), out("dxw", (T, B, G))
    dw, dh0 = out("dw", (G, H)), out("dh0", (B, H))
    if cell == "rnn":
        mod.rnn_forward(p["xw"], p["w_hh"], p["h0"], p["lengths"], hs)
        mod.rnn_backward(dhs, p["w_hh"], p["h0"], p["lengths"], hs, dxw, dw, dh0)
    elif cell == "gru":
        gates, db = out("gates", (T, B, 4 * H)), out("db", (G,))
        mod.gru_forward(p["xw"], p["w_hh"], p["b_hh"], p["h0"], p["lengths"], hs, gates)
        mod.gru_backward(dhs, p["w_hh"], p["h0"], p["lengths"], hs, gates, dxw, dw, db, dh0)
    else:
        gates, cs, dc0 = out("gates", (T, B, 4 * H)), out("cs", (T, B, H)), out("dc0", (B, H))
        mod.lstm_forward(p["xw"], p["w_hh"], p["h0"], p["c0"], p["lengths"], hs, cs, gates)
        mod.lstm_backward(dhs, p["w_hh"], p["h0"], p["c0"], p["lengths"], hs, cs, gates,
                          dxw, dw, dh0, dc0)
    for name, buf in bufs.items():
        assert np.all(buf[:64] == sentinel) and np.all(buf[-64:] == sentinel), name
        assert np.all(np.isfinite(buf[64:-64])), f"{name} not fully written"
