"""CNNClassifier on real (or generated) images: accuracy, input ranks, torch path, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from maaskit._backend import has_cuda
from maaskit.neural_network import CNNClassifier
from maaskit.datasets import find_data_home


def _images(n=1200):
    """MNIST test digits when the shared data is there, else generated bar/cross images."""
    home = find_data_home()
    if home is not None and (home / "mnist-test" / "t10k-images-idx3-ubyte.gz").is_file():
        from maaskit.datasets import load_mnist

        X, y = load_mnist("mnist-test", data_home=home)
        X = X[:n, ::2, ::2].astype(np.float32) / 255  # 14x14 keeps the test fast
        return X, y[:n].astype(np.int64)
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, n)
    X = rng.rand(n, 14, 14).astype(np.float32) * 0.3
    for i, c in enumerate(y):
        r = rng.randint(2, 12)
        if c == 0:
            X[i, r, :] += 1
        elif c == 1:
            X[i, :, r] += 1
        else:
            X[i, np.arange(14), np.arange(14)] += 1
    return X, y


@pytest.fixture(scope="module")
def images():
    X, y = _images()
    return X[:1000], X[1000:], y[:1000], y[1000:]


def test_learns_real_images(images):
    Xtr, Xte, ytr, yte = images
    clf = CNNClassifier(filters=(8, 16), hidden_layer_sizes=(32,), learning_rate_init=0.005, max_iter=6,
                        batch_size=50, random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.85
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    kinds = [a["type"] for a in clf.architecture_]
    assert kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "Dense"]
    assert clf.input_shape_ == [1, 14, 14]


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_backends_agree_and_inputs_3d_4d_2d_are_the_same_images(images, backend):
    Xtr, Xte, ytr, _ = images
    X = Xtr[:120].astype(np.float64)
    kw = dict(filters=(3,), hidden_layer_sizes=(8,), pool="avg", max_iter=2, batch_size=40, random_state=0)
    a = CNNClassifier(backend=backend, **kw).fit(X, ytr[:120])
    b = CNNClassifier(backend="numpy", **kw).fit(X[:, None], ytr[:120])
    c = CNNClassifier(backend="numpy", **kw).fit(X.reshape(120, -1), ytr[:120])
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.params_, b.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.predict_proba(Xte[:20]), b.predict_proba(Xte[:20, None]), rtol=1e-9)


def test_multichannel_and_strided_geometry():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3, 9, 7).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > X[:, 1].mean(axis=(1, 2))).astype(int)
    clf = CNNClassifier(filters=(4, 4, 4), kernel_size=2, hidden_layer_sizes=(), max_iter=2,
                        random_state=0).fit(X, y)
    assert clf.predict(X).shape == (40,) and clf.n_features_in_ == 3 * 9 * 7


def test_clear_errors(images):
    Xtr, _, ytr, _ = images
    clf = CNNClassifier(filters=(2,), hidden_layer_sizes=(), max_iter=1, random_state=0).fit(Xtr[:50], ytr[:50])
    with pytest.raises(ValueError, match=r"per-sample shape \(1, 14, 14\); got \(1, 12, 12\)"):
        clf.predict(Xtr[:5, :12, :12])
    with pytest.raises(ValueError, match="Found array with dim 5"):
        clf.predict(Xtr[:5, None, None])
    bad = Xtr[:5].copy()
    bad[0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict(Xtr[:0])
    with pytest.raises(ValueError, match="requires y to be passed"):
        CNNClassifier().fit(Xtr[:5], None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CNNClassifier().fit(Xtr[:5], ytr[:4])
    from maaskit.neural_network._layers import Conv2D, MaxPool2D

    with pytest.raises(ValueError, match="Conv2D: a 9x9 window does not fit a 3x3 input"):
        Conv2D(2, 9).build((1, 3, 3))
    with pytest.raises(ValueError, match="MaxPool2D: a 4x4 window does not fit"):
        MaxPool2D(4).build((1, 3, 3))


@pytest.mark.parametrize("pool", ["MaxPool2D", "AvgPool2D"])
@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_pool_layers_match_torch_autograd(pool, backend):
    # the pooling layers share forward/backward/torch_forward in _Pool2D: check both kinds
    torch = pytest.importorskip("torch")
    from maaskit.neural_network import _layers

    layer = getattr(_layers, pool)(2, stride=1 if backend == "numba" else None)
    net = _layers.Network([layer], (2, 5, 6), np.float64)
    net.init_params(np.random.RandomState(0))
    net.bind({"pool": backend})
    rng = np.random.RandomState(1)
    x = rng.randn(3, 2, 5, 6)
    out = layer.forward(x, True)
    dout = rng.randn(*out.shape)
    dx = layer.backward(dout)  # called on the layer: Network skips the input gradient

    tx = torch.tensor(x, requires_grad=True)
    tout = layer.torch_forward(tx, {})
    (tout * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_save_load_identical_predictions(images, tmp_path):
    Xtr, Xte, ytr, _ = images
    clf = CNNClassifier(filters=(4,), hidden_layer_sizes=(8,), max_iter=1, random_state=0).fit(Xtr[:200], ytr[:200])
    back = CNNClassifier.load(clf.save(tmp_path / "cnn.npz"))
    np.testing.assert_array_equal(back.predict_proba(Xte), clf.predict_proba(Xte))
    np.testing.assert_array_equal(back.classes_, clf.classes_)


def test_torch_path_matches_kernel_path(images):
    pytest.importorskip("torch")
    Xtr, Xte, ytr, _ = images
    X = Xtr[:200].astype(np.float64)
    kw = dict(filters=(4, 4), hidden_layer_sizes=(8,), activation="tanh", max_iter=2, batch_size=50, random_state=0)
    cpu = CNNClassifier(**kw).fit(X, ytr[:200])
    tch = CNNClassifier(**kw)
    tch._torch_device = "cpu"
    tch.fit(X, ytr[:200])
    np.testing.assert_allclose(tch.history_["loss"], cpu.history_["loss"], rtol=1e-9)
    np.testing.assert_allclose(tch.predict_proba(Xte), cpu.predict_proba(Xte), rtol=1e-7, atol=1e-10)


def test_pipeline_grid_search(images):
    from sklearn.model_selection import GridSearchCV

    Xtr, _, ytr, _ = images
    grid = GridSearchCV(CNNClassifier(filters=(4,), hidden_layer_sizes=(), max_iter=2, random_state=0),
                        {"pool": ["max", "avg"]}, cv=2).fit(Xtr[:200].reshape(200, -1), ytr[:200])
    assert grid.best_params_["pool"] in ("max", "avg")


@pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(images):
    Xtr, Xte, ytr, _ = images
    kw = dict(filters=(4,), hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    gpu = CNNClassifier(device="cuda", **kw).fit(Xtr.astype(np.float64), ytr)
    cpu = CNNClassifier(device="cpu", **kw).fit(Xtr.astype(np.float64), ytr)
    np.testing.assert_allclose(gpu.history_["loss"], cpu.history_["loss"], rtol=1e-6)


def test_default_epochs_are_few_and_enough(images):
    # Issue 16: the default was 200 epochs (about 9 minutes for 2,000 MNIST images on 2
    # cores). The default architecture now stops after at most 15 epochs, still accurate.
    Xtr, Xte, ytr, yte = images
    clf = CNNClassifier(random_state=0).fit(Xtr[:300], ytr[:300])
    assert clf.n_iter_ <= 15
    assert clf.score(Xte, yte) > 0.7  # 300 14x14 digits; chance is 0.1
