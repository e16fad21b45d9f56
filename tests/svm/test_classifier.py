"""SVMClassifier on real data against scikit-learn, plus its contract: errors, sparse input,
class weights, probabilities, Pipeline/GridSearchCV and persistence."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from maaskit.svm import SVMClassifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_kernel_accuracy_matches_svc(digits, kernel):
    Xtr, Xte, ytr, yte = digits
    ours = SVMClassifier(kernel=kernel).fit(Xtr, ytr).score(Xte, yte)
    theirs = SVC(kernel=kernel).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.01
    assert ours > 0.97


@pytest.mark.parametrize("solver", ["newton", "dual_cd"])
def test_linear_accuracy_and_objective_match_linearsvc(cancer, solver):
    Xtr, Xte, ytr, yte = cancer
    ours = SVMClassifier(kernel="linear", solver=solver, tol=1e-6, random_state=0).fit(Xtr, ytr)
    sk = LinearSVC(tol=1e-8, max_iter=100000).fit(Xtr, ytr)
    assert ours.solver_ == solver
    assert ours.score(Xte, yte) >= sk.score(Xte, yte) - 0.01
    # same problem (squared hinge, regularised intercept): same primal objective
    w_sk = np.r_[sk.coef_[0], sk.intercept_[0]]
    y = np.where(ytr == 1, 1.0, -1.0)
    xi = np.maximum(0, 1 - y * (Xtr @ sk.coef_[0] + sk.intercept_[0]))
    sk_obj = 0.5 * w_sk @ w_sk + np.sum(xi**2)
    np.testing.assert_allclose(ours.objective_[0], sk_obj, rtol=1e-4)
    np.testing.assert_allclose(ours.coef_[0], sk.coef_[0], rtol=1e-2, atol=1e-3)


def test_linear_multiclass_digits(digits):
    Xtr, Xte, ytr, yte = digits
    ours = SVMClassifier(kernel="linear").fit(Xtr, ytr)
    sk = LinearSVC().fit(Xtr, ytr)
    assert ours.coef_.shape == (10, 64) and ours.intercept_.shape == (10,)
    assert ours.score(Xte, yte) >= sk.score(Xte, yte) - 0.01


def test_smo_linear_kernel_equals_svc(cancer):
    Xtr, Xte, ytr, yte = cancer
    ours = SVMClassifier(kernel="linear", solver="smo", tol=1e-5).fit(Xtr, ytr)
    sk = SVC(kernel="linear", tol=1e-5).fit(Xtr, ytr)
    np.testing.assert_allclose(ours.decision_function(Xte), sk.decision_function(Xte), atol=2e-3)
    np.testing.assert_allclose(ours.objective_[0], -sk_dual(sk, Xtr), rtol=1e-5)


def sk_dual(sk, X):
    ay = sk.dual_coef_[0]
    S = X[sk.support_]
    return 0.5 * ay @ (S @ S.T) @ ay - np.abs(ay).sum()


def test_binary_rbf_decision_equals_svc(cancer):
    Xtr, Xte, ytr, yte = cancer
    ours = SVMClassifier(C=3.0, tol=1e-5).fit(Xtr, ytr)
    sk = SVC(C=3.0, tol=1e-5).fit(Xtr, ytr)
    np.testing.assert_allclose(ours.decision_function(Xte), sk.decision_function(Xte), atol=2e-3)
    assert ours.n_support_[0] == sk.n_support_.sum()
    np.testing.assert_array_equal(np.sort(ours.support_), np.sort(sk.support_))


def test_row_cache_path_equals_full_matrix(digits):
    Xtr, Xte, ytr, _ = digits
    full = SVMClassifier(tol=1e-5).fit(Xtr, ytr)
    cached = SVMClassifier(tol=1e-5, cache_size=0.5).fit(Xtr, ytr)  # 0.5 MB: rows only
    np.testing.assert_allclose(cached.decision_function(Xte), full.decision_function(Xte), atol=1e-3)


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_backends_agree(cancer, backend):
    Xtr, Xte, ytr, _ = cancer
    Xtr, ytr = Xtr[:80], ytr[:80]  # the NumPy reference loops in Python
    for kw in (dict(kernel="rbf"), dict(kernel="linear", solver="dual_cd", loss="hinge")):
        ref = SVMClassifier(backend="numba", tol=1e-5, random_state=0, **kw).fit(Xtr, ytr)
        got = SVMClassifier(backend=backend, tol=1e-5, random_state=0, **kw).fit(Xtr, ytr)
        assert got.backend_ == backend
        np.testing.assert_allclose(got.decision_function(Xte), ref.decision_function(Xte), atol=1e-3)


@pytest.mark.parametrize("kw", [dict(kernel="linear", solver="dual_cd"),
                                dict(kernel="linear", solver="newton"), dict(kernel="rbf")])
def test_sparse_input_equals_dense(digits, kw):
    Xtr, Xte, ytr, _ = digits
    dense = SVMClassifier(random_state=0, tol=1e-5, **kw).fit(Xtr, ytr)
    sparse = SVMClassifier(random_state=0, tol=1e-5, **kw).fit(sp.csr_matrix(Xtr), ytr)
    np.testing.assert_allclose(sparse.decision_function(sp.csr_matrix(Xte)),
                               dense.decision_function(Xte), atol=1e-3)


def test_float32_input(digits):
    Xtr, Xte, ytr, yte = digits
    m = SVMClassifier(kernel="linear", solver="dual_cd").fit(Xtr.astype(np.float32), ytr)
    assert m.score(Xte.astype(np.float32), yte) > 0.93


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_class_weight_matches_svc_semantics(cancer, kernel):
    Xtr, Xte, ytr, _ = cancer
    cw = {0: 5.0, 1: 0.5}
    ours = SVMClassifier(kernel=kernel, solver="smo", class_weight=cw, tol=1e-5).fit(Xtr, ytr)
    sk = SVC(kernel=kernel, class_weight=cw, tol=1e-5).fit(Xtr, ytr)
    np.testing.assert_allclose(ours.decision_function(Xte), sk.decision_function(Xte), atol=5e-3)
    # heavier class 0 means more samples predicted as 0 than unweighted
    plain = SVMClassifier(kernel=kernel, solver="smo").fit(Xtr, ytr)
    assert (ours.predict(Xte) == 0).sum() >= (plain.predict(Xte) == 0).sum()


def test_balanced_class_weight(digits):
    Xtr, _, ytr, _ = digits
    m = SVMClassifier(kernel="linear", class_weight="balanced").fit(Xtr, ytr)
    np.testing.assert_allclose(m.class_weight_, len(ytr) / (10 * np.bincount(ytr)))


def test_predict_proba(digits, cancer):
    Xtr, Xte, ytr, yte = digits
    m = SVMClassifier(probability=True, random_state=0).fit(Xtr, ytr)
    P = m.predict_proba(Xte)
    assert P.shape == (len(Xte), 10)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(m.classes_[P.argmax(axis=1)], m.predict(Xte))
    logloss = -np.mean(np.log(P[np.arange(len(yte)), yte]))
    assert logloss < 0.25  # uniform guessing is log(10) = 2.3
    np.testing.assert_allclose(m.predict_log_proba(Xte), np.log(P))
    Xtr, Xte, ytr, yte = cancer
    b = SVMClassifier(probability=True, random_state=0).fit(Xtr, ytr)
    P = b.predict_proba(Xte)
    # monotone in the decision value, and calibrated better than 0/1 guesses
    order = np.argsort(b.decision_function(Xte))
    assert np.all(np.diff(P[order, 1]) >= 0)
    assert -np.mean(np.log(P[np.arange(len(yte)), yte])) < 0.2
    assert not hasattr(SVMClassifier(), "predict_proba")


def test_string_labels_and_pipeline_gridsearch(cancer):
    Xtr, Xte, ytr, yte = cancer
    labels = np.array(["benign", "malignant"])[ytr]
    pipe = make_pipeline(StandardScaler(), SVMClassifier())
    gs = GridSearchCV(pipe, {"svmclassifier__C": [0.1, 1.0], "svmclassifier__kernel": ["rbf", "linear"]},
                      cv=3).fit(Xtr, labels)
    assert gs.best_score_ > 0.95
    assert set(gs.predict(Xte)) <= {"benign", "malignant"}


@pytest.mark.parametrize("kw", [dict(), dict(kernel="linear"), dict(kernel="linear", solver="dual_cd"),
                                dict(kernel="poly", probability=True)])
def test_save_load_identical(tmp_path, digits, kw):
    Xtr, Xte, ytr, _ = digits
    labels = np.array([f"d{i}" for i in range(10)], dtype=object)[ytr]
    m = SVMClassifier(random_state=0, **kw).fit(Xtr, labels)
    path = m.save(tmp_path / "svm.npz")
    m2 = SVMClassifier.load(path)
    np.testing.assert_array_equal(m2.predict(Xte), m.predict(Xte))
    np.testing.assert_array_equal(m2.decision_function(Xte), m.decision_function(Xte))
    if kw.get("probability"):
        np.testing.assert_array_equal(m2.predict_proba(Xte), m.predict_proba(Xte))
    assert m2.get_params() == m.get_params()


def test_clear_errors():
    X = np.random.RandomState(0).randn(20, 3)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="NaN"):
        SVMClassifier().fit(np.where(X > 1.5, np.nan, X), y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        SVMClassifier().fit(np.array([["a", "b", "c"]] * 20, dtype=object), y)
    with pytest.raises(ValueError, match=r"SVMClassifier.fit: y must contain at least 2 classes; got 1 class"):
        SVMClassifier().fit(X, np.zeros(20))
    m = SVMClassifier().fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but SVMClassifier is expecting 3 features"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="The 'C' parameter of SVMClassifier must be a float in the range"):
        SVMClassifier(C=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="solver='dual_cd' must be used with kernel='linear'; got kernel='rbf'"):
        SVMClassifier(solver="dual_cd").fit(X, y)
    with pytest.raises(ValueError, match="solver='newton' must be used with loss='squared_hinge'"):
        SVMClassifier(kernel="linear", solver="newton", loss="hinge").fit(X, y)


def test_convergence_warning_when_max_iter_is_hit(digits):
    Xtr, _, ytr, _ = digits
    with pytest.warns(ConvergenceWarning, match="did not converge in 5 iterations"):
        SVMClassifier(max_iter=5).fit(Xtr, ytr)
