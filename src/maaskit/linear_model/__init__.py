"""Linear models trained by maaskit's one gradient-descent path (kernels ``linear`` + ``optim``).

:class:`LinearRegression` also has an exact least-squares solver.
"""

from ._linear_regression import LinearRegression
from ._logistic import LogisticRegression
from ._sgd import SGDClassifier, SGDRegressor

__all__ = ["LinearRegression", "LogisticRegression", "SGDClassifier", "SGDRegressor"]
