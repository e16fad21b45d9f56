"""RNNClassifier / RNNRegressor: the Recurrent layer against torch autograd, learning on
sequence tasks, the sklearn contract, persistence, the torch path and the error messages."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit._backend import has_cuda
from maaskit.neural_network._layers import Network
from maaskit.neural_network._rnn import Recurrent, RNNClassifier, RNNRegressor

CELLS = ("rnn", "gru", "lstm")


def _sum_sign(n=120, T=8, d=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, T, d)
    return X, np.where(X[:, :, 0].sum(axis=1) > 0, "up", "down")


def _token_task(n=240, V=12, seed=0):
    """Label: does token 3 occur? Variable lengths 1..11 (a play-history flag)."""
    rng = np.random.RandomState(seed)
    seqs = [list(rng.randint(0, V, size=rng.randint(1, 12))) for _ in range(n)]
    return seqs, np.array([int(3 in s) for s in seqs])


# ---------------------------------------------------------------------------- layer maths
@pytest.mark.parametrize("tokens", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_layer_matches_torch_autograd(cell, tokens, assert_matches_torch_autograd):
    rng = np.random.RandomState(0)
    if tokens:
        layer = Recurrent(cell, 5, n_tokens=9, embedding_dim=4)
        x = np.array([[1, 2, 3, 4, -1, -1], [5, 6, 7, 8, 0, 2], [8, -1, -1, -1, -1, -1]])
        shape = (6,)
    else:
        layer = Recurrent(cell, 5)
        x = rng.randn(3, 6, 4)
        shape = (6, 4)
    net = Network([layer], shape, np.float64)
    net.init_params(rng)
    net.bind({"rnn": "numba", "embedding": "numba"})
    assert_matches_torch_autograd(net, layer, x, rng, out_tol=(1e-10, 1e-12), grad_tol=(1e-8, 1e-10))


# ---------------------------------------------------------------------------- learning
@pytest.mark.parametrize("cell", CELLS)
def test_classifier_learns_numeric_sequences(cell):
    X, y = _sum_sign()
    clf = RNNClassifier(cell, 16, max_iter=60, random_state=0).fit(X[:90], y[:90])
    assert set(clf.classes_) == {"down", "up"}
    assert clf.score(X[90:], y[90:]) >= 0.85
    proba = clf.predict_proba(X[90:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert len(clf.history_["loss"]) == clf.n_iter_
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


def test_classifier_learns_variable_length_tokens():
    seqs, y = _token_task()
    clf = RNNClassifier("gru", 16, vocab_size=12, max_iter=40, random_state=0)
    clf.fit(seqs[:200], y[:200])
    assert clf.max_len_ == max(len(s) for s in seqs[:200])
    assert clf.score(seqs[200:], y[200:]) >= 0.9
    # padding must not matter: the same sequences as a -1 padded int matrix predict alike
    mat = np.full((40, clf.max_len_), -1)
    for i, s in enumerate(seqs[200:]):
        mat[i, :len(s)] = s
    np.testing.assert_allclose(clf.predict_proba(mat), clf.predict_proba(seqs[200:]), rtol=1e-6)


def test_unknown_tokens_share_the_oov_row():
    seqs, y = _token_task(n=60)
    clf = RNNClassifier("rnn", 8, vocab_size=12, max_iter=3, random_state=0).fit(seqs, y)
    np.testing.assert_array_equal(clf.predict_proba([[50, 1]]), clf.predict_proba([[12, 1]]))


def test_regressor_learns_running_mean_and_multi_output():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 6, 1)
    Y = np.c_[X[:, :, 0].mean(axis=1), X[:, -1, 0]]
    reg = RNNRegressor("lstm", 16, max_iter=80, random_state=0).fit(X[:240], Y[:240])
    assert reg.predict(X[240:]).shape == (60, 2)
    assert reg.score(X[240:], Y[240:]) > 0.8
    reg1 = RNNRegressor("gru", 8, max_iter=5, random_state=0).fit(X[:, :, 0], Y[:, 0])
    assert reg1.predict(X[:3, :, 0]).shape == (3,)  # 2-D X: univariate sequences


# ---------------------------------------------------------------------------- training features
def test_random_state_partial_fit_warm_start_and_early_stopping():
    X, y = _sum_sign(n=80)
    a = RNNClassifier("gru", 8, max_iter=5, random_state=3).fit(X, y)
    b = RNNClassifier("gru", 8, max_iter=5, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.params_, b.params_)

    c = RNNClassifier("gru", 8, random_state=3)
    for _ in range(3):
        c.partial_fit(X, y, classes=["down", "up"])
    assert c.n_iter_ == 3 and c.t_ == 3

    w = RNNClassifier("gru", 8, max_iter=2, warm_start=True, random_state=0).fit(X, y)
    before = w.params_.copy()
    w.fit(X, y)
    assert w.n_iter_ == 4 and not np.array_equal(before, w.params_)

    es = RNNClassifier("gru", 8, max_iter=200, early_stopping=True, n_iter_no_change=2,
                       random_state=0).fit(X, y)
    assert es.n_iter_ < 200 and len(es.history_["val_score"]) == es.n_iter_


def test_save_load_gives_identical_predictions(tmp_path):
    seqs, y = _token_task(n=80)
    clf = RNNClassifier("lstm", 8, vocab_size=12, max_iter=3, random_state=0).fit(seqs, y)
    path = clf.save(tmp_path / "rnn.npz")
    back = RNNClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(seqs), clf.predict_proba(seqs))
    assert back.max_len_ == clf.max_len_ and back.vocab_size_ == 12

    X, yr = np.random.RandomState(0).randn(30, 5, 2), np.arange(30.0)
    reg = RNNRegressor("rnn", 4, max_iter=2, random_state=0).fit(X, yr)
    back = RNNRegressor.load(reg.save(tmp_path / "reg.npz"))
    np.testing.assert_array_equal(back.predict(X), reg.predict(X))


def test_pipeline_and_grid_search():
    X, y = _sum_sign(n=90)
    pipe = Pipeline([("scale", FunctionTransformer(lambda Z: Z / 2.0)),
                     ("rnn", RNNClassifier("gru", 8, max_iter=60, random_state=0))])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.8
    gs = GridSearchCV(RNNClassifier(max_iter=10, random_state=0),
                      {"cell": ["rnn", "gru"], "hidden_size": [4, 8]}, cv=2).fit(X, y)
    assert gs.best_params_["cell"] in ("rnn", "gru")


# ---------------------------------------------------------------------------- devices
@pytest.mark.parametrize("cell", CELLS)
def test_torch_path_matches_kernel_path(cell):
    pytest.importorskip("torch")
    X, y = _sum_sign(n=60)
    ref = RNNClassifier(cell, 8, max_iter=4, shuffle=False, random_state=0).fit(X, y)
    tor = RNNClassifier(cell, 8, max_iter=4, shuffle=False, random_state=0)
    tor._torch_device = "cpu"
    tor.fit(X, y)
    np.testing.assert_allclose(tor.history_["loss"], ref.history_["loss"], rtol=1e-7)
    np.testing.assert_allclose(tor.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_torch_path_with_tokens():
    pytest.importorskip("torch")
    seqs, y = _token_task(n=50)
    kw = dict(vocab_size=12, max_iter=3, shuffle=False, random_state=0)
    ref = RNNClassifier("gru", 8, **kw).fit(seqs, y)
    tor = RNNClassifier("gru", 8, **kw)
    tor._torch_device = "cpu"
    tor.fit(seqs, y)
    np.testing.assert_allclose(tor.history_["loss"], ref.history_["loss"], rtol=1e-4)


@pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU")
def test_cuda_fit_agrees_with_cpu():
    X, y = _sum_sign(n=60)
    cpu = RNNClassifier("gru", 8, max_iter=3, shuffle=False, random_state=0, device="cpu").fit(X, y)
    gpu = RNNClassifier("gru", 8, max_iter=3, shuffle=False, random_state=0, device="cuda").fit(X, y)
    np.testing.assert_allclose(gpu.history_["loss"], cpu.history_["loss"], rtol=1e-5)


def test_cuda_request_without_cuda_is_a_clear_error():
    if has_cuda():
        pytest.skip("CUDA is available here")
    X, y = _sum_sign(n=20)
    with pytest.raises(ValueError, match="device='cuda' was requested"):
        RNNClassifier(max_iter=1, device="cuda").fit(X, y)


# ---------------------------------------------------------------------------- errors
def test_clear_errors():
    X, y = _sum_sign(n=20)
    with pytest.raises(ValueError, match="NaN"):
        Xn = X.copy()
        Xn[0, 0, 0] = np.nan
        RNNClassifier(max_iter=1).fit(Xn, y)
    with pytest.raises(ValueError, match="infinity"):
        Xi = X.copy()
        Xi[0, 0, 0] = np.inf
        RNNClassifier(max_iter=1).fit(Xi, y)
    with pytest.raises(ValueError, match="shape"):
        RNNClassifier(max_iter=1).fit(X[..., None], y)  # 4-D
    with pytest.raises(ValueError, match="0 sample"):
        RNNClassifier(max_iter=1).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="different lengths. For token sequences set vocab_size"):
        RNNClassifier(max_iter=1).fit([[1, 2], [3]], [0, 1])
    with pytest.raises(ValueError, match="'cell' parameter of RNNClassifier must be"):
        RNNClassifier(cell="transformer").fit(X, y)
    clf = RNNClassifier(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="per-sample shape"):
        clf.predict(X[:, :, :1])

    seqs, yt = _token_task(n=20)
    tok = RNNClassifier(vocab_size=12, max_len=11, max_iter=1)
    with pytest.raises(ValueError, match=r"RNNClassifier.fit: sequences must be at most max_len=11 tokens long; got 13"):
        tok.fit(seqs + [[1] * 13], list(yt) + [0])
    tok.fit(seqs, yt)
    with pytest.raises(ValueError, match="at most max_len=11"):
        tok.predict([[1] * 12])
    with pytest.raises(ValueError, match="token ids must be integers"):
        tok.predict([[1.5, 2.0]])
    with pytest.raises(ValueError, match="token ids must be >= 0"):
        tok.predict([[1, -3]])
    with pytest.raises(ValueError, match="empty batch"):
        tok.predict(np.zeros((0, 11), dtype=int))
    with pytest.raises(ValueError, match="requires y to be passed"):
        RNNClassifier(vocab_size=12).fit(seqs, None)


# ---------------------------------------------------------------------------- sklearn checks
@parametrize_with_checks([RNNClassifier(hidden_size=16, random_state=0),
                          RNNRegressor(hidden_size=16, random_state=0)])
def test_sklearn_compatible(estimator, check):
    # numeric 2-D X is read as (n_samples, n_steps) univariate sequences, so every check applies
    check(estimator)


@pytest.mark.parametrize("Est", [RNNClassifier, RNNRegressor])
def test_every_fitted_attribute_is_documented(Est):
    from numpydoc.docscrape import ClassDoc

    X, y = _sum_sign(n=20)
    est = Est(hidden_size=4, max_iter=1, random_state=0).fit(X, y if Est is RNNClassifier else X[:, 0, 0])
    documented = {a.name for a in ClassDoc(Est)["Attributes"]}
    fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert fitted <= documented, fitted - documented
