"""CRNNClassifier passes scikit-learn's estimator checks.

A 2-D ``(n, d)`` X is read as ``d`` frames of one pixel each (the per-frame CNN then sees
1x1 images and skips pooling), so every check runs on the real network: none is listed as
not applicable.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from maaskit.neural_network import CRNNClassifier


@parametrize_with_checks([CRNNClassifier(filters=(4,), frame_size=8, hidden_size=8, max_iter=60,
                                         learning_rate_init=0.01, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
