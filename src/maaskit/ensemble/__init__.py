"""Ensembles of decision trees grown on histogram-binned features."""

from ._forest import RandomForestClassifier, RandomForestRegressor

__all__ = ["RandomForestClassifier", "RandomForestRegressor"]
