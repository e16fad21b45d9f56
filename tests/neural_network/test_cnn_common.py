"""CNNClassifier passes scikit-learn's estimator checks (flat rows are read as 1-channel images)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.neural_network import CNNClassifier


@parametrize_with_checks([CNNClassifier(filters=(4,), hidden_layer_sizes=(16,), max_iter=60,
                                        learning_rate_init=0.01, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
