"""Support vector machines: :class:`SVMClassifier` (linear dual CD and kernel SMO solvers)."""

from ._classifier import SVMClassifier

__all__ = ["SVMClassifier"]
