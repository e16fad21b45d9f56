"""MLPClassifier / MLPRegressor behaviour: accuracy, training features, errors, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from maaskit.exceptions import ModelFitError, NotFittedError
from maaskit.neural_network import MLPClassifier, MLPRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.mark.parametrize("backend", ["numba", "cython", "numpy"])
def test_digits_accuracy_every_backend(digits, backend):
    Xtr, Xte, ytr, yte = digits
    clf = MLPClassifier((64,), learning_rate_init=0.01, max_iter=15, random_state=0, backend=backend).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.95
    assert clf.n_iter_ == 15 and len(clf.history_["loss"]) == 15
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.t_ == 15 * int(np.ceil(len(Xtr) / 200))
    assert clf.backend_["dense"] == backend and clf.params_.dtype == np.float32


def test_backends_give_the_same_model(digits):
    Xtr, _, ytr, _ = digits
    X64 = Xtr[:300].astype(np.float64)
    fits = [MLPClassifier((16, 8), activation=act, max_iter=3, random_state=1, backend=b).fit(X64, ytr[:300])
            for b in ("numpy", "numba", "cython") for act in ("tanh",)]
    for other in fits[1:]:
        np.testing.assert_allclose(other.params_, fits[0].params_, rtol=1e-9, atol=1e-11)


def test_string_labels_and_predict_proba(digits):
    Xtr, Xte, ytr, yte = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = MLPClassifier((32,), learning_rate_init=0.01, max_iter=10, random_state=0).fit(Xtr, names[ytr])
    assert set(clf.classes_) == set(names)
    pred = clf.predict(Xte)
    assert pred.dtype.kind == "U" and np.mean(pred == names[yte]) > 0.9
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], pred)


def test_reproducible_with_random_state(digits):
    Xtr, Xte, ytr, _ = digits
    a = MLPClassifier((16,), max_iter=3, random_state=5).fit(Xtr, ytr)
    b = MLPClassifier((16,), max_iter=3, random_state=5).fit(Xtr, ytr)
    c = MLPClassifier((16,), max_iter=3, random_state=6).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.params_, b.params_)
    assert not np.array_equal(a.params_, c.params_)


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("schedule", ["constant", "invscaling", "cosine"])
def test_solvers_and_schedules_learn(digits, solver, schedule):
    Xtr, Xte, ytr, yte = digits
    lr = 0.1 if solver == "sgd" else 0.01
    clf = MLPClassifier((32,), solver=solver, learning_rate=schedule, learning_rate_init=lr, max_iter=8,
                        random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.85, (solver, schedule)


def test_partial_fit_and_warm_start_continue_training(digits):
    Xtr, Xte, ytr, yte = digits
    clf = MLPClassifier((32,), learning_rate_init=0.01, random_state=0)
    clf.partial_fit(Xtr[:100], ytr[:100], classes=np.arange(10))
    first = clf.history_["loss"][0]
    for _ in range(5):
        clf.partial_fit(Xtr, ytr)
    assert clf.n_iter_ == 6 and clf.history_["loss"][-1] < first
    with pytest.raises(ValueError, match="classes seen in the first fit"):
        clf.partial_fit(Xtr[:5], np.array([0, 1, 2, 3, 11]))
    warm = MLPClassifier((32,), max_iter=2, warm_start=True, random_state=0).fit(Xtr, ytr)
    p1 = warm.params_.copy()
    warm.fit(Xtr, ytr)
    assert warm.n_iter_ == 4 and not np.array_equal(p1, warm.params_)
    cold = MLPClassifier((32,), max_iter=2, random_state=0).fit(Xtr, ytr)
    cold.fit(Xtr, ytr)
    assert cold.n_iter_ == 2


def test_early_stopping_records_validation_scores(digits):
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier((32,), learning_rate_init=0.05, max_iter=200, early_stopping=True,
                        n_iter_no_change=3, random_state=0).fit(Xtr, ytr)
    assert clf.n_iter_ < 200
    assert len(clf.history_["val_score"]) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.history_["val_score"]) > 0.9


def test_stops_when_training_loss_stalls():
    X = np.random.RandomState(0).rand(60, 3)
    y = (X[:, 0] > 0.5).astype(int)
    clf = MLPClassifier((8,), max_iter=500, tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
    # epoch 1 sets the best loss; epochs 2-4 fail to improve by tol; stop after > 2 of them
    assert clf.n_iter_ == 4


def test_divergence_raises_model_fit_error():
    X = np.random.RandomState(0).rand(50, 4) * 1e3
    y = X.sum(axis=1)
    with pytest.raises(ModelFitError, match="diverged.*smaller learning_rate_init"):
        MLPRegressor((8,), activation="identity", solver="sgd", learning_rate_init=10.0, max_iter=50,
                     random_state=0).fit(X, y)


def test_regressor_single_and_multi_output():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (300, 2))
    Y = np.c_[X[:, 0] ** 2, np.sin(2 * X[:, 1])]
    reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, max_iter=150, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (300, 2) and reg.score(X, Y) > 0.8
    reg1 = MLPRegressor((32,), activation="gelu", learning_rate_init=0.01, max_iter=150, random_state=0).fit(X, Y[:, 1])
    assert reg1.predict(X).shape == (300,) and reg1.score(X, Y[:, 1]) > 0.8


def test_clear_errors(digits):
    Xtr, _, ytr, _ = digits
    with pytest.raises(NotFittedError, match="not fitted"):
        MLPClassifier().predict(Xtr)
    clf = MLPClassifier((8,), max_iter=1, random_state=0).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="X has 10 features, but MLPClassifier is expecting 64"):
        clf.predict(Xtr[:, :10])
    bad = Xtr[:10].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        MLPClassifier().fit(bad, ytr[:10])
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict(Xtr[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.predict(Xtr[0])
    with pytest.raises(ValueError, match="The 'learning_rate_init' parameter of MLPClassifier must be"):
        MLPClassifier(learning_rate_init=-1).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive"):
        MLPClassifier((0,)).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="device must be one of|'device' parameter"):
        MLPClassifier(device="tpu").fit(Xtr, ytr)


def test_save_load_gives_identical_predictions(digits, tmp_path):
    Xtr, Xte, ytr, _ = digits
    clf = MLPClassifier((16,), solver="adam", max_iter=3, random_state=0).fit(Xtr, ytr.astype(str))
    path = clf.save(tmp_path / "mlp.npz")
    back = MLPClassifier.load(path)
    np.testing.assert_array_equal(back.predict_proba(Xte), clf.predict_proba(Xte))
    np.testing.assert_array_equal(back.predict(Xte), clf.predict(Xte))
    assert back.history_ == clf.history_ and back.architecture_ == clf.architecture_
    # the optimizer state travels too: continuing after load equals continuing in memory
    back.partial_fit(Xtr, ytr.astype(str))
    clf._rng = np.random.RandomState(0)
    back._rng = np.random.RandomState(0)
    clf.partial_fit(Xtr, ytr.astype(str))
    np.testing.assert_allclose(back.params_, clf.params_, rtol=1e-6)
    reg = MLPRegressor((8,), max_iter=3, random_state=0).fit(Xtr, ytr.astype(float))
    back = MLPRegressor.load(reg.save(tmp_path / "reg.npz"))
    np.testing.assert_array_equal(back.predict(Xte), reg.predict(Xte))


def test_pipeline_and_grid_search(digits):
    Xtr, Xte, ytr, yte = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=10, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [0.001, 0.01]}, cv=2).fit(Xtr, ytr)
    assert grid.best_params_["mlpclassifier__learning_rate_init"] == 0.01
    assert grid.score(Xte, yte) > 0.9


def test_torch_path_matches_kernel_path(digits):
    pytest.importorskip("torch")
    Xtr, Xte, ytr, _ = digits
    X64 = Xtr.astype(np.float64)
    for solver in ("adam", "sgd"):
        cpu = MLPClassifier((16,), solver=solver, learning_rate_init=0.01, max_iter=4, random_state=0).fit(X64, ytr)
        tch = MLPClassifier((16,), solver=solver, learning_rate_init=0.01, max_iter=4, random_state=0)
        tch._torch_device = "cpu"
        tch.fit(X64, ytr)
        np.testing.assert_allclose(tch.history_["loss"], cpu.history_["loss"], rtol=1e-9)
        np.testing.assert_allclose(tch.predict_proba(Xte), cpu.predict_proba(Xte), rtol=1e-7, atol=1e-10)
    reg = MLPRegressor((8,), solver="adamw", max_iter=3, random_state=0).fit(X64, ytr.astype(float))
    treg = MLPRegressor((8,), solver="adamw", max_iter=3, random_state=0)
    treg._torch_device = "cpu"
    treg.fit(X64, ytr.astype(float))
    np.testing.assert_allclose(treg.predict(Xte), reg.predict(Xte), rtol=1e-7)


def test_verbose_shows_progress(digits, capsys):
    Xtr, _, ytr, _ = digits
    MLPClassifier((8,), max_iter=2, verbose=True, random_state=0).fit(Xtr[:200], ytr[:200])
    assert "MLPClassifier" in capsys.readouterr().err


def test_cuda_device_without_cuda_is_a_clear_error(digits):
    from maaskit._backend import has_cuda

    if has_cuda():
        pytest.skip("CUDA present: the error case does not apply")
    Xtr, _, ytr, _ = digits
    with pytest.raises(ValueError, match="device='cuda' was requested"):
        MLPClassifier(device="cuda").fit(Xtr, ytr)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_fitted_attributes_are_documented(digits, cls):
    from numpydoc.docscrape import ClassDoc

    Xtr, _, ytr, _ = digits
    est = cls((4,), max_iter=2, early_stopping=True, random_state=0).fit(Xtr, ytr)
    documented = {n.strip() for e in ClassDoc(cls)["Attributes"] for n in e.name.split(",")}
    fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert fitted <= documented, sorted(fitted - documented)
