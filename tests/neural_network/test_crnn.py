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
    # other frame counts than the fit's: the recurrence runs over any T
    np.testing.assert_allclose(clf.predict_proba(X[:4, :3]), clf.predict_proba(list(X[:4, :3])))
    assert clf.predict([X[0], X[1, :3]]).shape == (2,)
    with pytest.raises(ValueError, match=r"every frame must have shape \(c, h, w\) = \(1, 16, 16\)"):
        clf.predict(X[:4, :, :8])
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


# ---------------------------------------------------------------------------- variable T
def _ragged(rng, lengths=(2, 5, 3, 5, 1, 4), shape=(6, 6)):
    return [rng.rand(t, *shape) for t in lengths]


def test_variable_length_clips_end_at_their_own_last_frame():
    rng = np.random.RandomState(0)
    clips = _ragged(rng)
    y = np.array([0, 1, 2, 0, 1, 2])
    clf = _small(filters=(2,), frame_size=4, hidden_size=3, max_iter=2, batch_size=4).fit(clips, y)
    assert clf.input_shape_ == [5, 1, 6, 6]  # the longest clip
    batch = clf.predict_proba(clips)
    alone = np.vstack([clf.predict_proba(c[None]) for c in clips])  # 4-D, no padding at all
    np.testing.assert_allclose(batch, alone, rtol=1e-12, atol=1e-14)
    # predict sorts a list by length and pads per chunk: same answers with tiny chunks
    clf._predict_chunk = 1  # 5 frames per forward call
    np.testing.assert_allclose(clf.predict_proba(clips), batch, rtol=1e-12, atol=1e-14)
    del clf._predict_chunk
    # a clip is not its padded version read to the end (what ignoring the mask would give)
    padded_zero = np.zeros((1, 5, 6, 6))
    padded_zero[0, :2] = clips[0]
    assert not np.allclose(clf.predict_proba(padded_zero), batch[:1])
    # longer clips than any seen in fit, and colour clips of different lengths
    assert clf.predict_proba([rng.rand(9, 6, 6)]).shape == (1, 3)
    rgb = [rng.rand(t, 3, 6, 6).astype(np.float32) for t in (3, 1, 2)]
    c3 = _small(filters=(2,), frame_size=4, hidden_size=3, max_iter=1, cell="lstm").fit(rgb, [0, 1, 0])
    assert c3.input_shape_ == [3, 3, 6, 6] and c3.params_.dtype == np.float32
    np.testing.assert_allclose(c3.predict_proba(rgb)[1], c3.predict_proba(rgb[1][None])[0], rtol=1e-5)


def _padded_net(cell, lengths, rng, backend="numpy"):
    clf = _small(filters=(2,), frame_size=4, hidden_size=3, cell=cell)
    shape = (max(lengths), 2, 5, 5)
    net = Network(clf._build_layers(shape, 3), shape, np.float64)
    net.init_params(rng)
    net.bind({k: backend for k in net.kernel_names()})
    x = np.full((len(lengths), *shape), np.nan)
    for i, t in enumerate(lengths):
        x[i, :t] = rng.randn(t, 2, 5, 5)
    return net, x


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_masked_recurrence_gradients_match_finite_differences(cell):
    rng = np.random.RandomState(1)
    net, x = _padded_net(cell, (3, 1, 2, 3), rng)
    w = rng.randn(4, 3)

    def loss():
        return float((net.forward(x, False) * w).sum())

    net.forward(x, True)
    net.grads[...] = 0
    net.backward(w.copy())
    analytic = net.grads.copy()
    eps = 1e-6
    for i in rng.choice(net.n_params, 30, replace=False):
        old = net.params[i]
        net.params[i] = old + eps
        up = loss()
        net.params[i] = old - eps
        down = loss()
        net.params[i] = old
        np.testing.assert_allclose(analytic[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_variable_length_backends_agree():
    from maaskit._backend import available_backends

    rng = np.random.RandomState(2)
    clips = _ragged(rng)
    y = np.array([0, 1, 2, 0, 1, 2])
    ref = _small(filters=(2,), frame_size=4, hidden_size=3, batch_size=4, backend="numpy").fit(clips, y)
    for backend in ("numba", "cython"):
        if backend not in available_backends("conv2d"):
            continue
        other = _small(filters=(2,), frame_size=4, hidden_size=3, batch_size=4, backend=backend).fit(clips, y)
        np.testing.assert_allclose(other.params_, ref.params_, rtol=1e-7, atol=1e-9, err_msg=backend)
        np.testing.assert_allclose(other.predict_proba(clips), ref.predict_proba(clips), rtol=1e-7)


@pytest.mark.parametrize("cell, engine", [("gru", "eager"), ("lstm", "eager"), ("gru", "captured")])
def test_variable_length_torch_path_matches_values_and_gradients(cell, engine):
    torch = pytest.importorskip("torch")
    from maaskit.neural_network._torch_path import TorchEngine

    rng = np.random.RandomState(3)
    clips = _ragged(rng)
    y = np.array([0, 1, 2, 0, 1, 2])
    kw = dict(filters=(2,), frame_size=4, hidden_size=3, batch_size=4, shuffle=False, cell=cell)
    kern = _small(**kw).fit(clips, y)
    tch = _small(**kw)
    tch._torch_device = "cpu"  # the torch path device="cuda" takes, on the CPU
    if engine == "captured":
        tch._torch_engine = "captured"  # device="cuda"'s step function (graphs need CUDA)
    tch.fit(clips, y)
    np.testing.assert_allclose(tch.params_, kern.params_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tch.history_["loss"], kern.history_["loss"], rtol=1e-8)
    if engine == "captured":
        return
    # one backward pass, side by side
    Xn = kern._to_network_input(kern._validate_input(clips, reset=False))
    w = rng.randn(len(clips), 3)
    kern.network_.forward(Xn, True)
    kern.network_.grads[...] = 0
    kern.network_.backward(w.copy())
    eng = TorchEngine(kern, "cpu")
    out = eng._forward(torch.as_tensor(Xn))
    np.testing.assert_allclose(out.detach().numpy(), kern.network_.forward(Xn, False), rtol=1e-8, atol=1e-10)
    (out * torch.as_tensor(w)).sum().backward()
    np.testing.assert_allclose(eng.p.grad.numpy(), kern.network_.grads, rtol=1e-7, atol=1e-10)


def test_variable_length_partial_fit_and_save_load(tmp_path):
    rng = np.random.RandomState(4)
    clips = _ragged(rng)
    y = np.array([0, 1, 2, 0, 1, 2])
    clf = _small(filters=(2,), frame_size=4, hidden_size=3, max_iter=1)
    clf.partial_fit(clips[:3], y[:3], classes=[0, 1, 2])
    clf.partial_fit(clips[3:], y[3:])  # other lengths, same frames
    back = CRNNClassifier.load(clf.save(tmp_path / "ragged.npz"))
    np.testing.assert_array_equal(back.predict_proba(clips), clf.predict_proba(clips))


@pytest.mark.parametrize("X, msg", [
    ([], "X must hold at least one clip; got an empty list"),
    ([np.zeros((2, 6, 6)), np.zeros((0, 6, 6))], r"clip 1 must have at least one frame; got shape \(0, 6, 6\)"),
    ([np.zeros((2, 6, 6)), np.zeros((3, 6, 5))], r"every clip must have frames of shape \(6, 6\) \(the first "
                                                 r"clip's\); clip 1 has frames of shape \(6, 5\)"),
    ([np.zeros((2, 6, 6)), np.zeros((2, 2, 6, 6))], "clip 1 has frames of shape"),
    ([[[[0.0, 1.0], [2.0, 3.0]], [[0.0, 1.0]]]], "clip 0 must be an array of frames of one size"),
    ([np.zeros((2, 6, 6)), np.zeros(6)], r"clip 1 must be \(T, h, w\), \(T, c, h, w\) or \(T, d\)"),
    ([np.zeros((2, 6, 6)), np.full((3, 6, 6), np.nan)], "NaN"),
    ([np.zeros((2, 6, 6)), np.array([[["a"]]])], "clip 1 has frames of shape|could not convert"),
])
def test_clip_list_errors(X, msg):
    with pytest.raises(ValueError, match=msg):
        _small(max_iter=1).fit(X, [0, 1][:max(1, len(X))] if len(X) != 1 else [0])
