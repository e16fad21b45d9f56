"""TransformerClassifier: the encoder layer against torch autograd and torch's own
TransformerEncoderLayer, learning on token tasks, the sklearn contract on token data,
persistence, the torch path and the error messages."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit._backend import has_cuda
from maaskit.neural_network._layers import Network
from maaskit.neural_network._transformer import (
    TransformerClassifier,
    TransformerEncoder,
    sinusoidal_encoding,
)

SMALL = dict(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32, random_state=0)


def _order_task(n=300, V=16, seed=0):
    """Label: does token 1 come before token 2?  Needs positions, not just a bag of tokens."""
    rng = np.random.RandomState(seed)
    X, y = [], []
    for _ in range(n):
        L = rng.randint(3, 12)
        s = list(rng.randint(3, V, size=L))
        i, j = rng.choice(L, size=2, replace=False)
        s[i], s[j] = 1, 2
        X.append(s)
        y.append("before" if i < j else "after")
    return X, np.array(y)


def _bag_task(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = [list(rng.randint(1, 20, size=rng.randint(2, 10))) for _ in range(n)]
    return X, np.array([int(7 in s) for s in X])


def _padded(X, width):
    out = np.full((len(X), width), -1, dtype=np.int64)
    for i, s in enumerate(X):
        out[i, :len(s)] = s
    return out


# ---------------------------------------------------------------------------- layer maths
@pytest.mark.parametrize("positional,causal,backend",
                         [("sinusoidal", False, "numba"), ("learned", True, "numba"),
                          ("sinusoidal", True, "cython"), ("learned", False, "numpy")])
def test_encoder_matches_torch_autograd(positional, causal, backend, assert_matches_torch_autograd):
    layer = TransformerEncoder(n_tokens=11, max_len=7, d_model=8, n_heads=2, n_layers=2,
                               dim_feedforward=12, positional=positional, causal=causal)
    x = np.array([[1, 2, 3, 4, 5, -1, -1], [6, 7, 8, 9, 10, 0, 1], [3, -1, -1, -1, -1, -1, -1]])
    net = Network([layer], (7,), np.float64)
    rng = np.random.RandomState(0)
    net.init_params(rng)
    net.params[...] += 0.05 * rng.randn(net.n_params)  # biases and norms away from 0 / 1
    backends = {"attention": backend, "layernorm": "numba" if backend == "cython" else backend,
                "embedding": "numba" if backend == "cython" else backend}
    net.bind(backends)
    assert_matches_torch_autograd(net, layer, x, rng, out_tol=(1e-9, 1e-11), grad_tol=(1e-7, 1e-10))


def test_encoder_block_matches_torch_transformer_encoder_layer():
    # our post-norm block is torch's TransformerEncoderLayer(norm_first=False, relu, no dropout)
    torch = pytest.importorskip("torch")
    d, H, F = 8, 2, 12
    layer = TransformerEncoder(n_tokens=6, max_len=5, d_model=d, n_heads=H, n_layers=1,
                               dim_feedforward=F)
    net = Network([layer], (5,), np.float64)
    net.init_params(np.random.RandomState(1))
    net.bind({"attention": "numba", "layernorm": "numba", "embedding": "numba"})
    ids = np.array([[1, 2, 3, 4, 5], [5, 4, 3, -1, -1]])
    pooled = net.forward(ids, False)

    tl = torch.nn.TransformerEncoderLayer(d, H, F, dropout=0.0, batch_first=True).double().eval()
    v = dict((name, net.params[off:off + size].reshape(shp)) for _, name, off, size, shp in net.layout)
    with torch.no_grad():
        tl.self_attn.in_proj_weight.copy_(torch.tensor(v["0.Wqkv"].T))
        tl.self_attn.in_proj_bias.copy_(torch.tensor(v["0.bqkv"]))
        tl.self_attn.out_proj.weight.copy_(torch.tensor(v["0.Wo"].T))
        tl.self_attn.out_proj.bias.copy_(torch.tensor(v["0.bo"]))
        tl.linear1.weight.copy_(torch.tensor(v["0.W1"].T))
        tl.linear1.bias.copy_(torch.tensor(v["0.c1"]))
        tl.linear2.weight.copy_(torch.tensor(v["0.W2"].T))
        tl.linear2.bias.copy_(torch.tensor(v["0.c2"]))
        tl.norm1.weight.copy_(torch.tensor(v["0.g1"]))
        tl.norm1.bias.copy_(torch.tensor(v["0.b1"]))
        tl.norm2.weight.copy_(torch.tensor(v["0.g2"]))
        tl.norm2.bias.copy_(torch.tensor(v["0.b2"]))
        emb = v["E"][np.where(ids >= 0, ids, 0)] + sinusoidal_encoding(5, d)
        pad = torch.tensor(ids < 0)
        out = tl(torch.tensor(emb), src_key_padding_mask=pad).numpy()
    valid = (ids >= 0)[:, :, None]
    want = (out * valid).sum(axis=1) / valid.sum(axis=1)
    np.testing.assert_allclose(pooled, want, rtol=1e-9, atol=1e-11)


def test_sinusoidal_encoding_known_values():
    pe = sinusoidal_encoding(3, 4)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1])
    np.testing.assert_allclose(pe[1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)])
    assert sinusoidal_encoding(2, 5).shape == (2, 5)


# ---------------------------------------------------------------------------- learning
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_learns_an_order_dependent_task(positional):
    X, y = _order_task()
    clf = TransformerClassifier(**SMALL, positional=positional, learning_rate_init=0.01,
                                max_iter=40).fit(X[:240], y[:240])
    assert set(clf.classes_) == {"after", "before"}
    assert clf.score(X[240:], y[240:]) >= 0.85
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


def test_padding_and_batch_composition_do_not_change_predictions():
    X, y = _bag_task()
    clf = TransformerClassifier(**SMALL, max_len=12, max_iter=3).fit(X, y)
    p_list = clf.predict_proba(X[:20])
    np.testing.assert_allclose(clf.predict_proba(_padded(X[:20], 12)), p_list, rtol=1e-5)
    one_by_one = np.vstack([clf.predict_proba([s]) for s in X[:20]])  # subset invariance
    np.testing.assert_allclose(one_by_one, p_list, rtol=1e-4, atol=1e-6)
    perm = np.random.RandomState(0).permutation(20)  # sample order invariance
    np.testing.assert_allclose(clf.predict_proba([X[i] for i in perm]), p_list[perm], rtol=1e-5)


def test_causal_model_ignores_future_tokens_in_attention():
    X, y = _bag_task(n=60)
    clf = TransformerClassifier(**SMALL, causal=True, max_iter=2).fit(X, y)
    assert clf.architecture_[0]["causal"] is True
    assert np.all(np.isfinite(clf.predict_proba([[5], [], [1, 2, 3]])))


# ---------------------------------------------------------------------------- contract on tokens
def test_fit_returns_self_idempotent_and_n_features_in():
    X, y = _bag_task(n=80)
    clf = TransformerClassifier(**SMALL, max_len=16, max_iter=2)
    assert clf.fit(X, y) is clf
    assert clf.n_features_in_ == 16 and clf.max_len_ == 16
    p1 = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), p1)
    assert clf.vocab_size_ == max(max(s) for s in X) + 1
    c2 = clone(clf)
    assert not hasattr(c2, "network_")


def test_readonly_memmap_int_input(tmp_path):
    X, y = _bag_task(n=60)
    arr = _padded(X, 10)
    np.save(tmp_path / "x.npy", arr)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    clf = TransformerClassifier(**SMALL, max_len=10, max_iter=2).fit(mm, y)
    np.testing.assert_allclose(clf.predict_proba(mm), clf.predict_proba(arr))


def test_partial_fit_warm_start_early_stopping_and_pickle():
    X, y = _bag_task(n=100)
    c = TransformerClassifier(**SMALL)
    for _ in range(2):
        c.partial_fit(X, y, classes=[0, 1])
    assert c.n_iter_ == 2
    w = TransformerClassifier(**SMALL, max_iter=1, warm_start=True).fit(X, y)
    w.fit(X, y)
    assert w.n_iter_ == 2
    es = TransformerClassifier(**SMALL, max_iter=100, early_stopping=True, n_iter_no_change=2,
                               learning_rate_init=0.01).fit(X, y)
    assert es.n_iter_ < 100 and len(es.history_["val_score"]) == es.n_iter_
    back = pickle.loads(pickle.dumps(es))
    np.testing.assert_array_equal(back.predict_proba(X), es.predict_proba(X))


def test_save_load_gives_identical_predictions(tmp_path):
    X, y = _order_task(n=80)
    clf = TransformerClassifier(**SMALL, positional="learned", max_iter=2).fit(X, y)
    back = TransformerClassifier.load(clf.save(tmp_path / "tf.npz"))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_pipeline_and_grid_search():
    X, y = _bag_task(n=120)
    # a "tokeniser" step in front: shift ids by one (0 stays free for padding-style vocabularies)
    pipe = Pipeline([("ids", FunctionTransformer(lambda S: [[t + 1 for t in s] for s in S])),
                     ("tf", TransformerClassifier(**SMALL, learning_rate_init=0.01, max_iter=15))])
    assert pipe.fit(X, y).score(X, y) > 0.9
    gs = GridSearchCV(TransformerClassifier(**SMALL, max_iter=3),
                      {"positional": ["sinusoidal", "learned"]}, cv=2).fit(_padded(X, 10), y)
    assert gs.best_params_["positional"] in ("sinusoidal", "learned")


# ---------------------------------------------------------------------------- devices
@pytest.mark.parametrize("causal", [False, True])
def test_torch_path_matches_kernel_path(causal):
    pytest.importorskip("torch")
    X, y = _bag_task(n=64)
    kw = dict(SMALL, causal=causal, max_iter=3, shuffle=False)
    ref = TransformerClassifier(**kw).fit(X, y)
    tor = TransformerClassifier(**kw)
    tor._torch_device = "cpu"
    tor.fit(X, y)
    # float32 on both paths; different summation orders
    np.testing.assert_allclose(tor.history_["loss"], ref.history_["loss"], rtol=2e-3)
    np.testing.assert_allclose(tor.predict_proba(X), ref.predict_proba(X), atol=2e-3)


@pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU")
def test_cuda_fit_agrees_with_cpu():
    X, y = _bag_task(n=64)
    kw = dict(SMALL, max_iter=3, shuffle=False)
    cpu = TransformerClassifier(**kw, device="cpu").fit(X, y)
    gpu = TransformerClassifier(**kw, device="cuda").fit(X, y)
    np.testing.assert_allclose(gpu.history_["loss"], cpu.history_["loss"], rtol=5e-3)


# ---------------------------------------------------------------------------- errors
def test_clear_errors():
    X, y = _bag_task(n=30)
    clf = TransformerClassifier(**SMALL, max_len=12, max_iter=1)
    with pytest.raises(ValueError, match=r"TransformerClassifier.fit: sequences must be at most "
                                         r"max_len=12 tokens long; got 13 tokens at row 30"):
        clf.fit(X + [[1] * 13], list(y) + [0])
    clf.fit(X, y)
    with pytest.raises(ValueError, match="TransformerClassifier.predict: sequences must be at most max_len=12"):
        clf.predict([[1] * 20])
    with pytest.raises(ValueError, match="token ids must be integers; got dtype 'float64'"):
        clf.predict(np.ones((2, 5)))
    with pytest.raises(ValueError, match="2-D int array"):
        clf.predict(np.ones((2, 5, 1), dtype=int))
    with pytest.raises(ValueError, match="empty batch"):
        clf.predict([])
    with pytest.raises(ValueError, match="padding"):
        clf.predict(np.array([[1, -1, 2]]))
    with pytest.raises(TypeError, match="sparse input is not supported"):
        import scipy.sparse as sp

        clf.predict(sp.csr_matrix(np.ones((2, 3), dtype=int)))
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        TransformerClassifier(d_model=10, n_heads=3, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="'positional' parameter of TransformerClassifier must be"):
        TransformerClassifier(positional="rotary").fit(X, y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        TransformerClassifier().fit(X, None)


# ---------------------------------------------------------------------------- sklearn checks
@parametrize_with_checks([TransformerClassifier(**dict(SMALL, max_iter=5, learning_rate_init=0.01))])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_fitted_attribute_is_documented():
    from numpydoc.docscrape import ClassDoc

    X, y = _bag_task(n=20)
    est = TransformerClassifier(**SMALL, max_iter=1).fit(X, y)
    documented = {a.name for a in ClassDoc(TransformerClassifier)["Attributes"]}
    fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert fitted <= documented, fitted - documented


# ---------------------------------------------------------------------------- continuous input
def _series_task(n=160, T=6, d=3, seed=0):
    """Label: is the first feature's second half larger than its first half?  Needs positions."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, T, d)
    y = (X[:, T // 2:, 0].sum(axis=1) > X[:, :T // 2, 0].sum(axis=1)).astype(int)
    return X, y


@pytest.mark.parametrize("causal", [False, True])
def test_continuous_encoder_matches_torch_autograd(causal, assert_matches_torch_autograd):
    layer = TransformerEncoder(n_tokens=None, max_len=5, d_model=8, n_heads=2, n_layers=2,
                               dim_feedforward=12, positional="learned", causal=causal)
    net = Network([layer], (5, 3), np.float64)
    rng = np.random.RandomState(0)
    net.init_params(rng)
    net.params[...] += 0.05 * rng.randn(net.n_params)
    net.bind({"attention": "numba", "layernorm": "numba", "embedding": "numba"})
    x = rng.randn(4, 5, 3)
    assert_matches_torch_autograd(net, layer, x, rng, out_tol=(1e-9, 1e-11), grad_tol=(1e-7, 1e-10))


def test_continuous_sequences_learn_and_round_trip(tmp_path):
    X, y = _series_task()
    clf = TransformerClassifier(**SMALL, positional="learned", learning_rate_init=0.01,
                                max_iter=40).fit(X, y)
    assert clf.vocab_size_ is None and clf.max_len_ == 6 and clf.input_shape_ == [6, 3]
    assert clf.n_features_in_ == 6
    assert clf.score(X, y) > 0.9
    assert clf.score(*_series_task(seed=1)) > 0.65  # held out; chance is 0.5
    back = TransformerClassifier.load(clf.save(tmp_path / "tf_cont.npz"))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    # a 2-D float X is a sequence of scalar steps, as in RNNClassifier
    X2 = X[:, :, 0]
    flat = TransformerClassifier(**SMALL, max_iter=2).fit(X2, y)
    assert flat.input_shape_ == [6, 1] and flat.n_features_in_ == 6
    np.testing.assert_array_equal(flat.predict_proba(X2), flat.predict_proba(X2[:, :, None]))
    back = TransformerClassifier.load(flat.save(tmp_path / "tf_flat.npz"))
    np.testing.assert_array_equal(back.predict(X2), flat.predict(X2))
    with pytest.raises(ValueError, match="max_len=4 steps"):
        TransformerClassifier(**SMALL, max_len=4, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features"):
        clf.predict(X[:, :5])


def test_continuous_torch_path_matches_kernel_path():
    pytest.importorskip("torch")
    X, y = _series_task(n=64)
    kw = dict(SMALL, max_iter=3, shuffle=False)
    ref = TransformerClassifier(**kw).fit(X, y)
    tor = TransformerClassifier(**kw)
    tor._torch_device = "cpu"
    tor.fit(X, y)
    np.testing.assert_allclose(tor.history_["loss"], ref.history_["loss"], rtol=1e-6)
    np.testing.assert_allclose(tor.predict_proba(X), ref.predict_proba(X), atol=1e-6)
