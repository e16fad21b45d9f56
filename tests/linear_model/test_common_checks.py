"""scikit-learn's estimator checks, with no expected failures."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.linear_model import LinearRegression, LogisticRegression, SGDClassifier, SGDRegressor

ESTIMATORS = [
    LinearRegression(),
    LinearRegression(solver="gd"),
    LogisticRegression(),
    SGDClassifier(),
    SGDClassifier(loss="log_loss"),
    SGDRegressor(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
