"""CRNNClassifier: learns moving digits, gradients, torch engine parity, input forms, persistence;
make_moving_digits."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit.datasets import make_moving_digits
from maaskit.neural_network import CRNNClassifier
from maaskit.neural_network._layers import Network


@pytest.fixture(scope="module")
def clips():
    # 3 digits x 2 directions = 6 classes (chance 1/6); the direction is only visible across frames
    return make_moving_digits(480, n_frames=5, digits=(0, 1, 7), directions=("right", "left"),
                              random_state=0)


def _small(**kw):
    base = dict(filters=(4,), frame_size=16, hidden_size=16, max_iter=2, batch_size=32,
                learning_rate_init=0.005, random_state=0)
    return CRNNClassifier(**{**base, **kw})


def test_learns_moving_digits_well_above_chance(clips):
    X, y = clips
    clf = _small(filters=(8,), frame_size=32, hidden_size=32, max_iter=8).fit(X[:360], y[:360])
    acc = clf.score(X[360:], y[360:])
    assert acc > 0.75, acc  # chance is 1/6
    # both halves of the label are learned: the digit and the direction
    pred = clf.predict(X[360:])
    assert np.mean(pred % 2 == y[360:] % 2) > 0.85
    assert np.mean(pred // 2 == y[360:] // 2) > 0.8
    assert len(clf.history_["loss"]) == clf.n_iter_ == 8
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradients_match_finite_differences(cell):
    rng = np.random.RandomState(0)
    clf = _small(filters=(2,), frame_size=4, hidden_size=3, cell=cell)
    layers = clf._build_layers((3, 2, 5, 5), 3)
    net = Network(layers, (3, 2, 5, 5), np.float64)
    net.init_params(rng)
    net.bind({k: "numpy" for k in net.kernel_names()})
    x = rng.randn(4, 3, 2, 5, 5)
    w = rng.randn(4, 3)

    def loss():
        return float((net.forward(x, False) * w).sum())

    net.forward(x, True)
    net.grads[...] = 0
    net.backward(w.copy())
    analytic = net.grads.copy()
    idx = rng.choice(net.n_params, 25, replace=False)
    eps = 1e-6
    for i in idx:
        old = net.params[i]
        net.params[i] = old + eps
        up = loss()
        net.params[i] = old - eps
        down = loss()
        net.params[i] = old
        np.testing.assert_allclose(analytic[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_torch_engine_matches_the_kernel_engine(clips):
    pytest.importorskip("torch")
    X, y = clips
    X = X[:96].astype(np.float64)
    kw = dict(max_iter=2, shuffle=False)
    kern = _small(**kw).fit(X, y[:96])
    tch = _small(**kw)
    tch._torch_device = "cpu"  # the torch path device="cuda" takes, on the CPU
    tch.fit(X, y[:96])
    np.testing.assert_allclose(tch.params_, kern.params_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tch.history_["loss"], kern.history_["loss"], rtol=1e-8)
    from maaskit.neural_network._torch_path import TorchEngine

    Xn = kern._to_network_input(kern._validate_input(X[:20], reset=False))
    np.testing.assert_allclose(TorchEngine(kern, "cpu").predict_raw(Xn),
                               kern.network_.forward(Xn, False), rtol=1e-8, atol=1e-10)


def test_input_forms_and_errors(clips):
    X, y = clips
    X, y = X[:64], y[:64]
    clf = _small(max_iter=1).fit(X, y)
    assert clf.input_shape_ == [5, 1, 16, 16] and clf.n_features_in_ == 5 * 16 * 16
    p = clf.predict_proba(X[:6])
    np.testing.assert_allclose(clf.predict_proba(list(X[:6])), p)  # a list of clips
    np.testing.assert_allclose(clf.predict_proba(X[:6, :, None]), p)  # explicit channel axis
    with pytest.raises(ValueError, match="Variable T is not supported"):
        clf.predict([X[0], X[1, :3]])
    with pytest.raises(ValueError, match="per-sample shape"):
        clf.predict(X[:4, :3])  # fewer frames than fitted
    # colour clips (n, T, c, h, w)
    rgb = np.repeat(X[:, :, None], 3, axis=2) * np.array([1.0, 0.5, 0.2])[:, None, None]
    c3 = _small(max_iter=1, cell="lstm").fit(rgb, y)
    assert c3.input_shape_ == [5, 3, 16, 16] and c3.predict(rgb[:3]).shape == (3,)


def test_partial_fit_and_save_load(clips, tmp_path):
    X, y = clips
    X, y = X[:64], y[:64]
    clf = _small(max_iter=1)
    clf.partial_fit(X[:32], y[:32], classes=np.arange(6))
    clf.partial_fit(X[32:], y[32:])
    assert clf.n_iter_ == 2 and list(clf.classes_) == list(range(6))
    back = CRNNClassifier.load(clf.save(tmp_path / "crnn.npz"))
    np.testing.assert_array_equal(back.predict_proba(X[:8]), clf.predict_proba(X[:8]))
    back.partial_fit(X, y)  # optimiser state travelled with the model
    assert back.n_iter_ == 3


def test_make_moving_digits_moves_the_digit():
    X, y = make_moving_digits(40, n_frames=4, canvas_size=12, random_state=1)
    assert X.shape == (40, 4, 12, 12) and X.dtype == np.float32
    assert y.min() >= 0 and y.max() < 40
    rows = np.arange(12)
    for clip, label in zip(X, y):
        direction = ("right", "left", "down", "up")[label % 4]
        mass = clip.sum(axis=(1, 2))
        col = (clip.sum(axis=1) * rows).sum(axis=1) / mass
        row = (clip.sum(axis=2) * rows).sum(axis=1) / mass
        moved = {"right": col[-1] - col[0], "left": col[0] - col[-1],
                 "down": row[-1] - row[0], "up": row[0] - row[-1]}[direction]
        assert moved == pytest.approx(4, abs=0.01)  # canvas 12 - digit 8
    a, _ = make_moving_digits(5, random_state=3)
    b, _ = make_moving_digits(5, random_state=3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kw, msg", [
    (dict(n_frames=1), "n_frames must be an int >= 2"),
    (dict(canvas_size=8), "canvas_size must be an int >= 9"),
    (dict(digits=(1, 1)), "digits must be distinct"),
    (dict(digits=(10,)), "digits must be distinct"),
    (dict(directions=("north",)), "directions must be distinct"),
    (dict(noise=-1.0), "noise must be"),
])
def test_make_moving_digits_rejects_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        make_moving_digits(4, **kw)


def test_saved_state_must_keep_its_frame_count(clips, tmp_path):
    from maaskit.exceptions import ArtifactError
    from maaskit.persistence import load

    X, y = clips
    clf = _small(max_iter=1).fit(X[:40], y[:40])
    CRNNClassifier.load(clf.save(tmp_path / "good.npz"))
    clf.architecture_ = [dict(c, n_frames=4) if c["type"] == "BatchToFrames" else c
                         for c in clf.architecture_]
    path = clf.save(tmp_path / "bad.npz")
    with pytest.raises(ArtifactError, match="BatchToFrames"):
        load(path)
