"""Dropout and batch normalisation in the neural estimators: training-only behaviour,
reproducibility, running statistics saved and used at predict time, and the torch engine
building the same layers (same predictions in eval mode for the same weights)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from maaskit.neural_network import CNNClassifier, MLPClassifier, TransformerClassifier
from maaskit.neural_network._layers import BatchNorm, Dropout, Network


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16.0).astype(np.float64), y[:400]


def _tokens(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = [list(rng.randint(1, 12, size=rng.randint(2, 8))) for _ in range(n)]
    y = [int(3 in s) for s in X]
    return X, y


def test_dropout_layer_is_identity_in_eval_and_inverted_in_training():
    net = Network([Dropout(0.25)], (50,), np.float64)
    net.bind({"dropout": "numpy"})
    net.seed(np.random.RandomState(0))
    x = np.ones((40, 50))
    assert net.forward(x, False) is x
    out = net.forward(x, True)
    kept = out != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(out[kept], 1.0 / 0.75)
    dx = net.layers[0].backward(np.ones_like(x)) if net.layers[0].need_dx else None
    assert dx is None  # first layer: no input gradient


def test_batchnorm_layer_running_statistics_drive_eval():
    net = Network([BatchNorm(momentum=1.0)], (3, 2, 2), np.float64)
    net.bind({"batchnorm": "numpy", "dense": "numpy"})
    rng = np.random.RandomState(0)
    x = 5.0 + 2.0 * rng.randn(30, 3, 2, 2)
    train_out = net.forward(x, True).copy()
    np.testing.assert_allclose(train_out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(net.buffers[:3], x.mean(axis=(0, 2, 3)))
    # momentum 1: running var is the unbiased batch variance; eval differs only by M/(M-1)
    ev = net.forward(x, False)
    M = 30 * 4
    np.testing.assert_allclose(ev, train_out * np.sqrt((M - 1) / M), rtol=1e-4)


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_mlp_dropout_trains_reproducibly_and_predicts_deterministically(digits, backend):
    X, y = digits
    kw = dict(hidden_layer_sizes=(32,), dropout=0.3, max_iter=15, learning_rate_init=0.01,
              random_state=0, backend=backend)
    a = MLPClassifier(**kw).fit(X, y)
    b = MLPClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.params_, b.params_)
    assert [type(layer).__name__ for layer in a.network_.layers] == ["Dense", "Dropout", "Dense"]
    assert "mlp" not in a.backend_  # the fused kernel has no dropout
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))
    assert a.score(X, y) > 0.9
    c = MLPClassifier(**{**kw, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.params_, c.params_)


def test_mlp_dropout_zero_keeps_the_network_unchanged(digits):
    X, y = digits
    a = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(16,), dropout=0.0, max_iter=5, random_state=0).fit(X, y)
    assert len(a.network_.layers) == 2
    np.testing.assert_array_equal(a.params_, b.params_)


def test_cnn_batch_norm_saves_running_statistics(digits, tmp_path):
    X, y = digits
    clf = CNNClassifier(filters=(4,), hidden_layer_sizes=(16,), batch_norm=True, max_iter=3,
                        batch_size=64, learning_rate_init=0.01, random_state=0).fit(X, y)
    names = [type(layer).__name__ for layer in clf.network_.layers]
    assert names[:2] == ["Conv2D", "BatchNorm"] and clf.network_.layers[0].activation == "identity"
    bufs = clf.network_.buffers
    assert bufs.size == 8 and not np.allclose(bufs[4:], 1.0)  # running var moved from 1
    loss = clf.history_["loss"]
    assert loss[0] > loss[1] > loss[2] and clf.score(X, y) > 0.6  # 3 epochs: still learning
    back = CNNClassifier.load(clf.save(tmp_path / "cnn_bn.npz"))
    np.testing.assert_array_equal(back.network_.buffers, bufs)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def _torch_vs_kernels(est, X):
    """Predictions of the torch engine and of the CPU kernels, for the same weights."""
    from maaskit.neural_network._torch_path import TorchEngine

    Xn = est._to_network_input(est._validate_input(X, reset=False))
    torch_out = TorchEngine(est, "cpu").predict_raw(Xn)
    return torch_out, est.network_.forward(Xn, False)


def test_torch_engine_trains_and_matches_kernels_in_eval(digits):
    pytest.importorskip("torch")
    X, y = digits
    cnn = CNNClassifier(filters=(4,), hidden_layer_sizes=(16,), batch_norm=True, max_iter=2,
                        batch_size=64, random_state=0)
    cnn._torch_device = "cpu"
    cnn.fit(X, y)
    assert not np.allclose(cnn.network_.buffers[4:], 1.0)  # torch updated the running stats
    t, k = _torch_vs_kernels(cnn, X[:50])
    np.testing.assert_allclose(t, k, rtol=1e-8, atol=1e-9)

    mlp = MLPClassifier(hidden_layer_sizes=(16,), dropout=0.5, max_iter=3, random_state=0)
    mlp._torch_device = "cpu"
    mlp.fit(X, y)
    t, k = _torch_vs_kernels(mlp, X[:50])
    np.testing.assert_allclose(t, k, rtol=1e-8, atol=1e-9)

    Xt, yt = _tokens()
    tr = TransformerClassifier(d_model=8, n_heads=2, n_layers=1, dim_feedforward=16, dropout=0.2,
                               max_iter=2, random_state=0)
    tr._torch_device = "cpu"
    tr.fit(Xt, yt)
    t, k = _torch_vs_kernels(tr, Xt)
    np.testing.assert_allclose(t, k, rtol=1e-4, atol=1e-5)  # float32 model


def test_transformer_dropout_is_reproducible_and_checks_gradients():
    X, y = _tokens()
    kw = dict(d_model=8, n_heads=2, n_layers=1, dim_feedforward=16, dropout=0.3, max_iter=3,
              random_state=0)
    a = TransformerClassifier(**kw).fit(X, y)
    b = TransformerClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.params_, b.params_)
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))
    # the backward pass through the dropped blocks against finite differences (fixed masks)
    enc = a.network_.layers[0]
    ids = a._to_network_input(a._validate_input(X[:6], reset=False))
    net = a.network_
    p64 = net.params.astype(np.float64)
    net64 = Network.from_architecture(a.architecture_, tuple(a.input_shape_), np.float64)
    net64.params[...] = p64
    net64.bind({k: "numpy" for k in net64.kernel_names()})
    enc = net64.layers[0]
    state = np.random.RandomState(5).get_state()
    dout = np.random.RandomState(1).randn(6, 8)

    def loss():
        enc._rng = np.random.RandomState()
        enc._rng.set_state(state)  # the same masks every call
        return float(np.sum(enc.forward(ids, True) * dout))

    loss()
    enc.backward(dout)
    grads = net64.grads.copy()
    rng = np.random.RandomState(2)
    for i in rng.choice(net64.n_params, 25, replace=False):
        old = net64.params[i]
        net64.params[i] = old + 1e-6
        up = loss()
        net64.params[i] = old - 1e-6
        down = loss()
        net64.params[i] = old
        np.testing.assert_allclose(grads[i], (up - down) / 2e-6, rtol=1e-4, atol=1e-7)
