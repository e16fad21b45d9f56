"""MLPClassifier and MLPRegressor pass scikit-learn's estimator checks with no expected failures."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.neural_network import MLPClassifier, MLPRegressor


@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0,
                                        learning_rate_init=0.01),
                          MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, random_state=0,
                                       learning_rate_init=0.01)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
