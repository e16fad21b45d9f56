"""RandomForestClassifier / RandomForestRegressor: contract, accuracy, errors, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_regression
from sklearn.ensemble import RandomForestClassifier as SkRFC
from sklearn.ensemble import RandomForestRegressor as SkRFR
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.ensemble import RandomForestClassifier, RandomForestRegressor
from maaskit.exceptions import NotFittedError


@parametrize_with_checks([RandomForestClassifier(n_estimators=5), RandomForestRegressor(n_estimators=5)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _split(loader):
    X, y = loader(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.mark.parametrize("loader", [load_digits, load_breast_cancer])
def test_classifier_accuracy_comparable_to_sklearn(loader):
    Xtr, Xte, ytr, yte = _split(loader)
    ours = RandomForestClassifier(50, random_state=0).fit(Xtr, ytr).score(Xte, yte)
    theirs = SkRFC(50, random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.02, (ours, theirs)
    assert ours > 0.93


def test_regressor_accuracy_comparable_to_sklearn():
    Xtr, Xte, ytr, yte = _split(load_diabetes)
    ours = RandomForestRegressor(50, random_state=0).fit(Xtr, ytr).score(Xte, yte)
    theirs = SkRFR(50, random_state=0).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.03, (ours, theirs)
    X, y = make_regression(600, 8, n_informative=4, noise=5.0, random_state=0)
    r2 = RandomForestRegressor(30, random_state=0).fit(X[:450], y[:450]).score(X[450:], y[450:])
    assert r2 > 0.75


@pytest.mark.parametrize("Est", [RandomForestClassifier, RandomForestRegressor])
def test_backends_build_identical_forests(Est):
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:150, :8], y[:150]
    fits = [Est(4, max_depth=5, random_state=3, backend=b).fit(X, y) for b in ("numpy", "numba", "cython")]
    for other in fits[1:]:
        for name in ("tree_feature_", "tree_threshold_", "tree_left_", "tree_value_", "feature_importances_"):
            np.testing.assert_array_equal(getattr(other, name), getattr(fits[0], name), err_msg=name)
        np.testing.assert_array_equal(other.predict(X), fits[0].predict(X))


def test_reproducible_regardless_of_n_jobs():
    X, y = load_digits(return_X_y=True)
    a = RandomForestClassifier(12, random_state=7, n_jobs=1).fit(X, y)
    b = RandomForestClassifier(12, random_state=7, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.tree_feature_, b.tree_feature_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = RandomForestClassifier(12, random_state=8).fit(X, y)
    assert not np.array_equal(a.tree_feature_, c.tree_feature_)


def test_predict_proba_string_labels_and_criteria():
    X, y = load_breast_cancer(return_X_y=True)
    labels = np.array(["benign", "malignant"])[y]
    for criterion in ("gini", "entropy", "log_loss"):
        clf = RandomForestClassifier(10, criterion=criterion, random_state=0).fit(X, labels)
        proba = clf.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert set(clf.predict(X)) <= {"benign", "malignant"}
        assert clf.score(X, labels) > 0.97
        np.testing.assert_allclose(np.exp(clf.predict_log_proba(X[:5])), proba[:5])


def test_structure_limits():
    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(5, max_depth=4, min_samples_leaf=7, random_state=0).fit(X, y)
    leaves = clf.tree_left_ < 0
    assert np.all(clf.tree_n_node_samples_[leaves] >= 7)
    for t in range(5):
        assert clf.tree_offsets_[t + 1] - clf.tree_offsets_[t] <= 2**5 - 1
    # max_features=None uses every feature per split (the subtraction-trick path).
    reg = RandomForestRegressor(3, max_features=None, max_samples=0.5, random_state=0).fit(X, y.astype(float))
    assert reg.max_features_ == 64
    assert reg.tree_weighted_n_node_samples_[0] == round(0.5 * len(y))
    reg2 = RandomForestRegressor(3, bootstrap=False, max_features=0.3, random_state=0).fit(X, y.astype(float))
    assert reg2.max_features_ == 19 and reg2.tree_n_node_samples_[0] == len(y)


def test_oob_score_and_feature_importances():
    rng = np.random.RandomState(0)
    X = rng.randn(500, 6)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    clf = RandomForestClassifier(60, oob_score=True, random_state=0).fit(X, y)
    assert 0.85 < clf.oob_score_ <= 1.0
    assert clf.oob_decision_function_.shape == (500, 2)
    fi = clf.feature_importances_
    assert fi.sum() == pytest.approx(1.0) and np.argmax(fi) == 0 and fi[:2].sum() > 0.6
    yr = 3 * X[:, 2] + 0.1 * rng.randn(500)
    reg = RandomForestRegressor(40, oob_score=True, random_state=0).fit(X, yr)
    assert reg.oob_score_ > 0.8 and reg.oob_prediction_.shape == (500,)
    assert np.argmax(reg.feature_importances_) == 2
    with pytest.warns(UserWarning, match="never out of bag"):
        RandomForestClassifier(2, oob_score=True, random_state=0).fit(X, y)


def test_clear_errors():
    X, y = load_breast_cancer(return_X_y=True)
    clf = RandomForestClassifier(3, random_state=0)
    with pytest.raises(NotFittedError, match="not fitted"):
        clf.predict(X)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(Xn, y)
    Xs = X[:10].astype(object)
    Xs[0, 1] = "red"
    with pytest.raises(ValueError, match=r"RandomForestClassifier.fit: X must be numeric.*OrdinalEncoder"):
        clf.fit(Xs, y[:10])
    with pytest.raises(ValueError, match=r"RandomForestClassifier.fit: y must contain at least 2 classes; got 1 class \('a'\)"):
        clf.fit(X[:5], ["a"] * 5)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 29 features, but RandomForestClassifier is expecting 30"):
        clf.predict(X[:, :29])
    with pytest.raises(ValueError, match="oob_score=True needs bootstrap=True"):
        RandomForestClassifier(3, oob_score=True, bootstrap=False).fit(X, y)
    with pytest.raises(ValueError, match="The 'max_depth' parameter of RandomForestRegressor must be"):
        RandomForestRegressor(max_depth=0).fit(X, y)
    with pytest.raises(ValueError, match=r"max_features must be <= n_features \(30\); got 31"):
        RandomForestRegressor(3, max_features=31).fit(X, y)


def test_pipeline_gridsearch_and_dataframe():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(10, random_state=0))
    gs = GridSearchCV(pipe, {"randomforestclassifier__max_depth": [2, None]}, cv=3).fit(X, y)
    assert gs.best_score_ > 0.9
    clf = RandomForestClassifier(5, random_state=0).fit(X, y)
    assert list(clf.feature_names_in_) == list(X.columns)


def test_save_load_identical_predictions(tmp_path):
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    labels = pd.Series(np.where(y == 1, "benign", "malignant"))
    clf = RandomForestClassifier(25, oob_score=True, random_state=0).fit(X, labels)
    path = clf.save(tmp_path / "rf.npz")
    loaded = RandomForestClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert list(loaded.feature_names_in_) == list(X.columns) and loaded.oob_score_ == clf.oob_score_
    reg = RandomForestRegressor(5, random_state=0).fit(X.values, y.values.astype(float))
    loaded = RandomForestRegressor.load(reg.save(tmp_path / "rfr.npz"))
    np.testing.assert_array_equal(loaded.predict(X.values), reg.predict(X.values))


def test_float32_input_and_readonly():
    X, y = load_digits(return_X_y=True)
    X32 = X.astype(np.float32)
    X32.setflags(write=False)
    clf = RandomForestClassifier(5, random_state=0).fit(X32, y)
    np.testing.assert_array_equal(clf.predict(X32), RandomForestClassifier(5, random_state=0).fit(X, y).predict(X))


@pytest.mark.parametrize("Est", [RandomForestClassifier, RandomForestRegressor])
def test_fitted_attributes_are_documented(Est):
    from numpydoc.docscrape import ClassDoc

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    est = Est(25, oob_score=True, random_state=0).fit(X, y)
    documented = set()
    for entry in ClassDoc(Est)["Attributes"]:
        documented.update(n.strip() for n in entry.name.split(","))
    fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert fitted <= documented, sorted(fitted - documented)
