"""The captured torch engine behind ``device="cuda"``.

On the CPU its step function (forward, autograd, hand-written optimizer update reading the
learning rate and step count from tensors) runs eagerly; these tests hold it to the CPU
kernels' loss curve in float64, across the chunk / remainder split an epoch goes through
and across engine switches in warm starts. The CUDA tests, collected when a GPU is
present, check that whole steps are captured (no fallback warning) and agree with the CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from maaskit._backend import has_cuda
from maaskit.exceptions import DeviceWarning
from maaskit.neural_network import CNNClassifier, MLPClassifier, MLPRegressor, RNNClassifier, TransformerClassifier

torch = pytest.importorskip("torch")
from maaskit.neural_network._captured import CapturedTorchEngine  # noqa: E402


@pytest.fixture(scope="module")
def digits64():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:500], y[:500]


@pytest.fixture
def small_chunks(monkeypatch):
    # 500 rows, batch 32: 15 full batches = 3 chunks of 4 plus 3 leftover steps, plus a
    # partial batch of 20, so every branch of an epoch runs
    monkeypatch.setattr(CapturedTorchEngine, "STEPS_PER_GRAPH", 4)


def _captured(est):
    est._torch_device = "cpu"
    est._torch_engine = "captured"
    return est


@pytest.mark.parametrize("solver,extra", [
    ("adam", {}),
    ("adamw", {"alpha": 1e-3}),
    ("sgd", {"momentum": 0.9, "nesterovs_momentum": True, "alpha": 1e-4}),
    ("sgd", {"momentum": 0.0}),
])
def test_mlp_loss_curve_matches_the_kernels(digits64, small_chunks, solver, extra):
    X, y = digits64
    kw = dict(hidden_layer_sizes=(16,), solver=solver, batch_size=32, learning_rate_init=0.01,
              learning_rate="invscaling", max_iter=4, random_state=0, **extra)
    cpu = MLPClassifier(**kw).fit(X, y)
    cap = _captured(MLPClassifier(**kw)).fit(X, y)
    np.testing.assert_allclose(cap.history_["loss"], cpu.history_["loss"], rtol=1e-9)
    np.testing.assert_allclose(cap.params_, cpu.params_, rtol=1e-8, atol=1e-12)
    assert cap.t_ == cpu.t_ == 4 * 16


def test_regressor_and_engine_switch_in_warm_start(digits64, small_chunks):
    X, y = digits64
    target = np.c_[y, y ** 2 / 10.0]
    kw = dict(hidden_layer_sizes=(8,), batch_size=32, max_iter=2, warm_start=True, random_state=0)
    ref = MLPRegressor(**kw)
    ref.fit(X, target)
    ref.fit(X, target)
    mixed = MLPRegressor(**kw)
    mixed.fit(X, target)  # two epochs on the kernels, then two on the captured engine
    _captured(mixed).fit(X, target)
    np.testing.assert_allclose(mixed.history_["loss"], ref.history_["loss"], rtol=1e-9)
    np.testing.assert_allclose(mixed.predict(X), ref.predict(X), rtol=1e-8)
    assert np.any(mixed._opt_state["v"] != 0)


def test_cnn_matches_the_kernels(small_chunks):
    rng = np.random.default_rng(0)
    X = rng.random((150, 1, 8, 8))
    y = (X[:, 0, :4].sum(axis=(1, 2)) > X[:, 0, 4:].sum(axis=(1, 2))).astype(int)
    kw = dict(filters=(4,), hidden_layer_sizes=(8,), batch_size=16, max_iter=2, random_state=0)
    cpu = CNNClassifier(**kw).fit(X, y)
    cap = _captured(CNNClassifier(**kw)).fit(X, y)
    np.testing.assert_allclose(cap.history_["loss"], cpu.history_["loss"], rtol=1e-9)


def _tokens(n=160, T=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 20, size=(n, T))
    lengths = rng.integers(3, T + 1, size=n)
    for i, L in enumerate(lengths):
        X[i, L:] = -1
    y = (np.where(X >= 0, X, 0) % 2).sum(axis=1) > lengths / 2
    return X, y.astype(int)


def test_transformer_and_gru_match_the_kernels(small_chunks):
    X, y = _tokens()
    for make in (lambda: TransformerClassifier(d_model=8, n_heads=2, n_layers=1, dim_feedforward=16,
                                               max_len=12, batch_size=16, max_iter=2, random_state=0),
                 lambda: RNNClassifier("gru", 8, batch_size=16, max_iter=2, random_state=0)):
        cpu = make().fit(X, y)
        cap = _captured(make()).fit(X, y)
        # token models train in float32: agreement to float32 rounding over two epochs
        np.testing.assert_allclose(cap.history_["loss"], cpu.history_["loss"], rtol=2e-6)


def test_capture_needs_cuda():
    est = MLPClassifier((4,)).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="capture needs a CUDA device"):
        CapturedTorchEngine(est, "cpu", capture=True)


# ------------------------------------------------------------------------------- CUDA
needs_cuda = pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_cuda_mlp_is_captured_and_agrees_with_cpu(digits64, solver):
    X, y = digits64
    X = np.tile(X, (8, 1))  # 4,000 rows: several graphs' worth of batches
    y = np.tile(y, 8)
    kw = dict(hidden_layer_sizes=(32,), solver=solver, batch_size=32, max_iter=3, random_state=0,
              momentum=0.9)
    cpu = MLPClassifier(**kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeviceWarning)  # a failed capture warns: make it fail
        gpu = MLPClassifier(device="cuda", **kw).fit(X, y)
    np.testing.assert_allclose(gpu.history_["loss"], cpu.history_["loss"], rtol=1e-9)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-6, atol=1e-9)


@needs_cuda
def test_cuda_transformer_is_captured():
    X, y = _tokens(n=1200)
    kw = dict(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, max_len=12, batch_size=16,
              max_iter=2, random_state=0)
    cpu = TransformerClassifier(**kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeviceWarning)
        gpu = TransformerClassifier(device="cuda", **kw).fit(X, y)
    np.testing.assert_allclose(gpu.history_["loss"], cpu.history_["loss"], rtol=1e-6)
