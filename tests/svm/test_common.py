"""scikit-learn's estimator checks, with no expected failures."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.svm import SVMClassifier


@parametrize_with_checks([
    SVMClassifier(),
    SVMClassifier(multi_class="ovr"),
    SVMClassifier(kernel="linear"),
    SVMClassifier(kernel="poly", coef0=1.0, probability=True),
    SVMClassifier(kernel="linear", loss="hinge", class_weight="balanced"),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
