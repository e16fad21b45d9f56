"""Multi-class strategies of SVMClassifier: one-vs-one (SMO default) against scikit-learn's
SVC (libsvm, also one-vs-one), one-vs-rest, the kernel-matrix paths and persistence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from maaskit.svm import SVMClassifier, _classifier


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def ovo_and_svc(digits):
    Xtr, _, ytr, _ = digits
    return SVMClassifier(tol=1e-5).fit(Xtr, ytr), SVC(tol=1e-5).fit(Xtr, ytr)


def test_ovo_is_default_for_rbf_and_matches_svc(digits, ovo_and_svc):
    Xtr, Xte, ytr, yte = digits
    ours, sk = ovo_and_svc
    assert ours.multi_class_ == "ovo"
    assert ours.n_iter_.shape == (45,) and ours.dual_coef_.shape == (45, len(ours.support_))
    assert ours.score(Xte, yte) >= sk.score(Xte, yte) - 0.01
    # the same 45 pairwise problems: the same support vectors and pairwise values
    np.testing.assert_array_equal(ours.support_, np.sort(sk.support_))
    np.testing.assert_array_equal(ours.n_support_.sum(), (ours.dual_coef_ != 0).sum())
    sk_pairwise = SVC(tol=1e-5, decision_function_shape="ovo").fit(Xtr, ytr).decision_function(Xte)
    np.testing.assert_allclose(ours._kernel_scores(Xte), sk_pairwise, atol=2e-3)
    # sklearn's "ovr" shape (votes + bounded confidences) and its tie breaking
    dec = ours.decision_function(Xte)
    assert dec.shape == (len(Xte), 10)
    np.testing.assert_allclose(dec, sk.decision_function(Xte), atol=2e-3)
    np.testing.assert_array_equal(ours.predict(Xte), ours.classes_[dec.argmax(axis=1)])
    sk_ties = SVC(tol=1e-5, break_ties=True).fit(Xtr, ytr)
    assert np.mean(ours.predict(Xte) == sk_ties.predict(Xte)) >= 0.995
    votes = np.floor(dec + 0.5)  # confidences lie in (-1/3, 1/3)
    np.testing.assert_array_equal(votes.sum(axis=1), 45)


def test_ovo_vs_ovr_options(digits, ovo_and_svc):
    Xtr, Xte, ytr, yte = digits
    ovo, sk = ovo_and_svc
    ovr = SVMClassifier(multi_class="ovr", tol=1e-5).fit(Xtr, ytr)
    assert ovr.multi_class_ == "ovr" and ovr.n_iter_.shape == (10,)
    assert ovr.dual_coef_.shape == (10, len(ovr.support_))
    assert ovr.score(Xte, yte) >= sk.score(Xte, yte) - 0.02
    # one-vs-one problems are smaller: fewer support vectors overall
    assert len(ovo.support_) < len(ovr.support_)
    # the linear kernel keeps one-vs-rest unless asked
    lin = SVMClassifier(kernel="linear").fit(Xtr, ytr)
    assert lin.multi_class_ == "ovr" and lin.coef_.shape == (10, 64)
    smo = SVMClassifier(kernel="linear", solver="smo", multi_class="ovo", C=0.1).fit(Xtr, ytr)
    assert smo.multi_class_ == "ovo" and smo.score(Xte, yte) > 0.95
    with pytest.raises(ValueError, match=r"SVMClassifier.fit: multi_class='ovo' must be used "
                                         r"with solver='smo'; got solver='newton'"):
        SVMClassifier(kernel="linear", multi_class="ovo").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="The 'multi_class' parameter of SVMClassifier must be"):
        SVMClassifier(multi_class="crammer_singer").fit(Xtr, ytr)


def test_two_classes_are_one_problem_either_way(digits):
    Xtr, Xte, ytr, _ = digits
    keep = ytr < 2
    a = SVMClassifier(multi_class="ovo").fit(Xtr[keep], ytr[keep])
    b = SVMClassifier(multi_class="ovr").fit(Xtr[keep], ytr[keep])
    assert a.multi_class_ == b.multi_class_ == "ovr"
    np.testing.assert_array_equal(a.decision_function(Xte), b.decision_function(Xte))


@pytest.mark.parametrize("cache_size", [1.0, 0.05])
def test_ovo_kernel_paths_agree(digits, ovo_and_svc, cache_size):
    # 1 MB: the full matrix does not fit but each pair's block does; 0.05 MB: row cache only
    Xtr, Xte, ytr, _ = digits
    full, _ = ovo_and_svc
    other = SVMClassifier(tol=1e-5, cache_size=cache_size).fit(Xtr, ytr)
    np.testing.assert_array_equal(other.support_, full.support_)
    np.testing.assert_allclose(other._kernel_scores(Xte), full._kernel_scores(Xte), atol=1e-3)


def test_ovo_class_weight_and_threads(digits, monkeypatch):
    Xtr, Xte, ytr, _ = digits
    monkeypatch.setattr(_classifier, "_PARALLEL_MIN_SAMPLES", 0)  # threads on small data too
    cw = {0: 3.0, 5: 0.2}
    ours = SVMClassifier(class_weight=cw, tol=1e-5, n_jobs=2).fit(Xtr, ytr)
    sk = SVC(class_weight=cw, tol=1e-5, decision_function_shape="ovo").fit(Xtr, ytr)
    np.testing.assert_allclose(ours._kernel_scores(Xte), sk.decision_function(Xte), atol=5e-3)
    serial = SVMClassifier(class_weight=cw, tol=1e-5, n_jobs=1).fit(Xtr, ytr)
    np.testing.assert_array_equal(ours.dual_coef_, serial.dual_coef_)


def test_ovo_predict_proba_agrees_with_predict(digits):
    Xtr, Xte, ytr, yte = digits
    m = SVMClassifier(probability=True, random_state=0).fit(Xtr, ytr)
    assert m.multi_class_ == "ovo"
    P = m.predict_proba(Xte)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(m.classes_[P.argmax(axis=1)], m.predict(Xte))
    assert -np.mean(np.log(P[np.arange(len(yte)), yte])) < 0.35  # uniform: log(10) = 2.3


@pytest.mark.parametrize("multi_class", ["ovo", "ovr"])
def test_save_load_keeps_strategy(tmp_path, digits, multi_class):
    Xtr, Xte, ytr, _ = digits
    m = SVMClassifier(multi_class=multi_class).fit(Xtr, ytr)
    m2 = SVMClassifier.load(m.save(tmp_path / "svm.npz"))
    assert m2.multi_class_ == multi_class
    np.testing.assert_array_equal(m2.decision_function(Xte), m.decision_function(Xte))
    np.testing.assert_array_equal(m2.predict(Xte), m.predict(Xte))
