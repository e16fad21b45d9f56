"""Linear models reach scikit-learn's optimum, stream, persist, compose and fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from maaskit._backend import available_backends
from maaskit.exceptions import ModelFitError
from maaskit.linear_model import LinearRegression, LogisticRegression, SGDClassifier, SGDRegressor


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(StandardScaler().fit_transform(X), y, random_state=0)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _objective(model, X, y, C):
    return log_loss(y, model.predict_proba(X)) + 0.5 * np.sum(model.coef_**2) / (C * len(y))


# ----------------------------------------------------------------- LogisticRegression


def test_logistic_binary_matches_sklearn_optimum(cancer):
    X, y = cancer
    ref = sk.LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X, y)
    got = LogisticRegression(C=1.0, tol=1e-7, max_iter=3000).fit(X, y)
    assert got.coef_.shape == (1, X.shape[1])
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=2e-4)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, atol=2e-4)
    np.testing.assert_allclose(got.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert got.score(X, y) == ref.score(X, y)


def test_logistic_multinomial_matches_sklearn_optimum(digits):
    X, Xte, y, yte = digits
    ref = sk.LogisticRegression(C=0.1, tol=1e-8, max_iter=1000).fit(X, y)
    got = LogisticRegression(C=0.1, tol=1e-6, max_iter=3000).fit(X, y)
    assert got.coef_.shape == (10, X.shape[1])
    assert _objective(got, X, y, 0.1) == pytest.approx(_objective(ref, X, y, 0.1), rel=1e-6)
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=5e-3)
    assert got.score(Xte, yte) >= ref.score(Xte, yte) - 0.005


def test_logistic_l1_is_sparse_and_optimal(cancer):
    X, y = cancer
    C = 0.2
    got = LogisticRegression(penalty="l1", C=C, tol=1e-5, max_iter=5000).fit(X, y)
    ref = sk.LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-8, max_iter=20000).fit(X, y)

    def obj(m):
        return log_loss(y, m.predict_proba(X)) + np.abs(m.coef_).sum() / (C * len(y))

    assert obj(got) <= obj(ref) + 1e-5
    assert np.sum(got.coef_ == 0) >= X.shape[1] // 3
    assert set(np.flatnonzero(got.coef_)) == set(np.flatnonzero(np.abs(ref.coef_) > 1e-6))


def test_logistic_backends_agree(cancer):
    X, y = cancer
    fits = [LogisticRegression(backend=b, tol=1e-8).fit(X, y).coef_
            for b in ("numpy",) + available_backends("linear")]
    for other in fits[1:]:
        np.testing.assert_allclose(other, fits[0], rtol=1e-6, atol=1e-8)


def test_logistic_sparse_equals_dense(cancer):
    X, y = cancer
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    dense = LogisticRegression(tol=1e-8).fit(X, y)
    sparse = LogisticRegression(tol=1e-8).fit(sp.csr_matrix(X), y)
    # sparse input is scaled but not centred: another path to the same optimum
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-4)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), atol=1e-5)


def test_logistic_string_labels_and_class_weight(cancer):
    X, y = cancer
    labels = np.array(["benign", "malignant"])[y]
    m = LogisticRegression().fit(X, labels)
    assert list(m.classes_) == ["benign", "malignant"]
    assert set(m.predict(X)) <= set(labels)
    heavy = LogisticRegression(class_weight={"benign": 20.0}).fit(X, labels)
    assert np.mean(heavy.predict(X) == "benign") > np.mean(m.predict(X) == "benign")


# ----------------------------------------------------------------- LinearRegression


@pytest.mark.parametrize("solver", ["lstsq", "gd"])
def test_linear_regression_matches_sklearn(diabetes, solver):
    X, y = diabetes
    ref = sk.LinearRegression().fit(X, y)
    got = LinearRegression(solver=solver, tol=1e-8, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-5, atol=1e-3)
    assert got.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)
    assert got.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-8)


@pytest.mark.parametrize("solver", ["lstsq", "gd"])
def test_linear_regression_multi_output_weights_sparse(solver):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    W = rng.randn(5, 3)
    Y = X @ W + 0.5 + 0.01 * rng.randn(200, 3)
    sw = rng.rand(200)
    ref = sk.LinearRegression().fit(X, Y, sample_weight=sw)
    got = LinearRegression(solver=solver, tol=1e-9, max_iter=5000).fit(X, Y, sample_weight=sw)
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, atol=1e-6)
    sparse = LinearRegression(solver=solver, tol=1e-9, max_iter=5000).fit(sp.csr_matrix(X), Y)
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X)), sk.LinearRegression().fit(X, Y).predict(X),
                               atol=1e-5)


# ----------------------------------------------------------------- SGD estimators


def test_sgd_regressor_reaches_ridge():
    X, y = make_regression(3000, 8, noise=20.0, random_state=0)
    X = X * np.linspace(0.5, 5, 8) + 3  # unscaled, uncentred features
    ridge = sk.Ridge(alpha=30.0).fit(X, y)
    got = SGDRegressor(alpha=30.0 / len(y), tol=1e-5, random_state=0).fit(X, y)
    np.testing.assert_allclose(got.coef_, ridge.coef_, rtol=5e-3, atol=5e-2)
    assert got.score(X, y) == pytest.approx(ridge.score(X, y), abs=1e-3)


@pytest.mark.parametrize("loss", ["huber", "epsilon_insensitive"])
def test_sgd_regressor_robust_losses(diabetes, loss):
    X, y = diabetes
    X = StandardScaler().fit_transform(X)
    ref = sk.SGDRegressor(loss=loss, epsilon=10.0, random_state=0, max_iter=5000).fit(X, y)
    got = SGDRegressor(loss=loss, epsilon=10.0, tol=1e-5, random_state=0).fit(X, y)

    def objective(m):
        r = np.abs(y - m.predict(X))
        if loss == "huber":
            per = np.where(r <= 10, 0.5 * r * r, 10 * r - 50)
        else:
            per = np.maximum(r - 10, 0)
        return per.mean() + 0.5e-4 * m.coef_ @ m.coef_

    # within 2 %: huber with a wide epsilon is nearly linear and SGD stops a little short
    assert objective(got) <= objective(ref) * 1.02


def test_sgd_classifier_as_good_as_sklearn_on_digits(digits):
    X, Xte, y, yte = digits
    ref = sk.SGDClassifier(random_state=0).fit(X, y).score(Xte, yte)
    for loss in ("hinge", "log_loss", "modified_huber", "squared_hinge"):
        got = SGDClassifier(loss=loss, random_state=0).fit(X, y)
        assert got.score(Xte, yte) >= ref - 0.01, loss
        assert got.coef_.shape == (10, X.shape[1])


def test_sgd_classifier_proba_and_decision(cancer):
    X, y = cancer
    m = SGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    P = m.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert np.array_equal(P.argmax(axis=1), (m.decision_function(X) > 0).astype(int))
    assert not hasattr(SGDClassifier(loss="hinge"), "predict_proba")
    assert m.score(X, y) > 0.97


def test_sgd_elasticnet_and_l1_zero_out_noise():
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 20)
    y = X[:, 0] * 3 - 2 * X[:, 1] + 0.1 * rng.randn(2000)
    for penalty in ("l1", "elasticnet"):
        m = SGDRegressor(penalty=penalty, alpha=0.05, l1_ratio=0.9, random_state=0).fit(X, y)
        assert np.sum(m.coef_ == 0) >= 15, penalty
        assert abs(m.coef_[0] - 3) < 0.2 and abs(m.coef_[1] + 2) < 0.2


def test_partial_fit_streams(digits):
    X, Xte, y, yte = digits
    m = SGDClassifier(loss="log_loss", random_state=0)
    for epoch in range(5):
        for chunk in np.array_split(np.arange(len(y)), 10):
            m.partial_fit(X[chunk], y[chunk], classes=np.unique(y))
    assert m.n_iter_ == 50
    assert m.score(Xte, yte) > 0.93
    r = SGDRegressor(random_state=0)
    Xr, yr = load_diabetes(return_X_y=True)
    Xr = StandardScaler().fit_transform(Xr)
    for _ in range(10):
        for chunk in np.array_split(np.arange(len(yr)), 4):
            r.partial_fit(Xr[chunk], yr[chunk])
    assert r.score(Xr, yr) > 0.42


def test_sgd_sparse_input(digits):
    X, Xte, y, yte = digits
    Xs = np.where(np.abs(X) < 0.7, 0, X)
    m = SGDClassifier(random_state=0).fit(sp.csr_matrix(Xs), y)
    assert m.score(sp.csr_matrix(np.where(np.abs(Xte) < 0.7, 0, Xte)), yte) > 0.85


# ----------------------------------------------------------------- contract


ALL = [LinearRegression(), LinearRegression(solver="gd", tol=1e-3, max_iter=5000), LogisticRegression(),
       SGDClassifier(random_state=0), SGDRegressor(random_state=0)]


@pytest.mark.parametrize("est", ALL, ids=lambda e: repr(e))
def test_save_load_identical_predictions(est, cancer, tmp_path):
    X, y = cancer
    est.fit(X, y)
    path = est.save(tmp_path / "m.npz")
    back = type(est).load(path)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    if hasattr(est, "decision_function"):
        np.testing.assert_array_equal(back.decision_function(X), est.decision_function(X))


def test_pipeline_and_grid_search():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = GridSearchCV(pipe, {"logisticregression__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.95
    grid = GridSearchCV(make_pipeline(StandardScaler(), SGDClassifier(random_state=0)),
                        {"sgdclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.94


@pytest.mark.parametrize("Est", [LogisticRegression, SGDClassifier])
def test_classifier_errors(Est, cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="NaN"):
        Est().fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        Est().fit(np.array([["a", "b"], ["c", "d"]]), [0, 1])
    with pytest.raises(ValueError, match=rf"{Est.__name__}.fit: y must contain at least 2 classes"):
        Est().fit(X, np.zeros(len(y)))
    m = Est().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but"):
        m.predict(X[:, :3])
    with pytest.raises(ValueError, match="The 'tol' parameter"):
        Est(tol=-1).fit(X, y)


def test_partial_fit_errors(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="SGDClassifier.partial_fit: classes must be given"):
        SGDClassifier().partial_fit(X, y)
    m = SGDClassifier().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="every label in y must be one of classes"):
        m.partial_fit(X, y + 5)


def test_divergence_raises_model_fit_error(diabetes):
    X, y = diabetes
    with pytest.raises(ModelFitError, match="smaller learning rate"):
        SGDRegressor(eta0=1e6, learning_rate="constant", tol=None, max_iter=100,
                     random_state=0).fit(X * 100, y)


# ----------------------------------------------------------------- LogisticRegression solvers


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_lbfgs_and_fista_reach_the_same_optimum(n_classes, fit_intercept):
    # raw, badly scaled, correlated features: what the preconditioners are for
    X, y = load_digits(n_class=n_classes, return_X_y=True)
    X = X[:300]
    y = y[:300]
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    kw = dict(C=0.5, fit_intercept=fit_intercept, tol=1e-8, max_iter=20000)
    lb = LogisticRegression(solver="lbfgs", **kw).fit(X, y, sample_weight=sw)
    fi = LogisticRegression(solver="fista", **kw).fit(X, y, sample_weight=sw)
    auto = LogisticRegression(**kw).fit(X, y, sample_weight=sw)
    # both stop at a scaled gradient of 1e-8; weakly penalised directions keep ~1e-5 of slack
    np.testing.assert_allclose(lb.coef_, fi.coef_, atol=1e-4)
    np.testing.assert_allclose(lb.intercept_, fi.intercept_, atol=1e-4)
    np.testing.assert_allclose(lb.predict_proba(X), fi.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(auto.coef_, lb.coef_)  # auto picks lbfgs for l2
    assert lb.n_iter_[0] < fi.n_iter_[0]


def test_logistic_lbfgs_float32_and_sparse(cancer):
    X, y = cancer
    ref = LogisticRegression(solver="fista", tol=1e-8, max_iter=20000).fit(X, y)
    f32 = LogisticRegression(solver="lbfgs", tol=1e-5).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(f32.coef_, ref.coef_, atol=3e-3)
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    dense = LogisticRegression(solver="fista", tol=1e-8, max_iter=20000).fit(Xs.toarray(), y)
    sparse = LogisticRegression(solver="lbfgs", tol=1e-8).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-5)


def test_logistic_lbfgs_needs_a_smooth_penalty_and_warns(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match=r"LogisticRegression.fit: penalty must be 'l2' or None "
                                         r"with solver='lbfgs'; got 'l1'\."):
        LogisticRegression(penalty="l1", solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="The 'solver' parameter"):
        LogisticRegression(solver="newton").fit(X, y)
    with pytest.warns(ConvergenceWarning):
        m = LogisticRegression(solver="lbfgs", max_iter=2).fit(X, y)
    assert m.n_iter_[0] == 2
    # auto keeps the proximal path for L1 and elastic-net
    m = LogisticRegression(penalty="elasticnet", l1_ratio=0.9, C=0.1).fit(X, y)
    assert np.sum(m.coef_ == 0) > 0
