"""Logistic regression trained by L-BFGS (smooth penalties) or accelerated proximal gradient.

Kernels: ``linear`` (loss codes ``log_loss`` and ``multinomial``) and ``optim``
(``sgd_update``, the step of L-BFGS and FISTA), through :mod:`maaskit.linear_model._gd`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from . import _base, _gd


@register
class LogisticRegression(_base.LinearClassifierMixin, _base.SparseInputMixin, PersistableMixin,
                         ClassifierMixin, BaseEstimator):
    """Binary and multinomial logistic regression fitted by full-batch gradient descent.

    Minimises ``sum_i w_i l_i / sum_i w_i + R(coef) / (C * sum_i w_i)`` (scikit-learn's
    objective) where ``l_i`` is the binary log loss (two classes) or the multinomial
    cross-entropy (softmax over all classes), and ``R`` is ``0.5 |coef|^2`` (``"l2"``),
    ``|coef|_1`` (``"l1"``) or ``l1_ratio |coef|_1 + 0.5 (1 - l1_ratio) |coef|^2``
    (``"elasticnet"``). Both solvers run on the same loss/gradient kernels, with features
    scaled internally as an exact change of variables, so the optimum is scikit-learn's:
    L-BFGS (two-loop recursion with Armijo backtracking) for the smooth penalties, FISTA
    (accelerated proximal gradient descent with step ``1/L``, ``L`` estimated by power
    iteration, and adaptive restart) for any penalty, and the only one for L1/elastic-net.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Regularisation term; None fits without penalty.
    C : float, default=1.0
        Inverse regularisation strength.
    l1_ratio : float, default=0.5
        Share of L1 in the elastic-net penalty (used only with ``penalty="elasticnet"``).
    fit_intercept : bool, default=True
        Learn an unpenalised intercept.
    class_weight : dict, "balanced" or None, default=None
        Multipliers of the sample weights per class.
    solver : {"auto", "lbfgs", "fista"}, default="auto"
        Optimiser. ``"lbfgs"`` (quasi-Newton) needs a smooth penalty (``"l2"`` or None);
        ``"fista"`` handles every penalty. ``"auto"`` picks ``"lbfgs"`` for ``"l2"``/None
        unless ``momentum`` is set, else ``"fista"``.
    max_iter : int, default=1000
        Maximum number of iterations (L-BFGS iterations or gradient steps).
    tol : float, default=1e-4
        Stop when the largest entry of the (scaled) gradient mapping is at most ``tol``.
    momentum : float or None, default=None
        Constant extrapolation factor of the accelerated method (FISTA only); None uses
        Nesterov's (FISTA) sequence with adaptive restart.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients (one row for two classes).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : ndarray of shape (1,)
        Iterations taken by the solver.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit`` (only when ``X`` had string column names).
    backend_ : str
        Backend that ran the kernels.
    """

    _state_schema = _base.LINEAR_CLASSIFIER_SCHEMA
    _parameter_constraints = {
        "penalty": [Options(frozenset({"l2", "l1", "elasticnet"})), None],
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "class_weight": [dict, Options(frozenset({"balanced"})), None],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "solver": [Options(frozenset({"auto", "lbfgs", "fista"}))],
        **_base.COMMON_CONSTRAINTS,
    }

    def __init__(self, penalty="l2", *, C=1.0, l1_ratio=0.5, fit_intercept=True,
                 class_weight=None, solver="auto", max_iter=1000, tol=1e-4, momentum=None,
                 backend="auto"):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.momentum = momentum
        self.backend = backend

    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X, y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels (any type).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : LogisticRegression
            The fitted estimator.
        """
        where = "LogisticRegression.fit"
        validate_parameters(self)
        smooth = self.penalty in (None, "l2")
        if self.solver == "lbfgs" and not smooth:
            raise ValueError(f"{where}: penalty must be 'l2' or None with solver='lbfgs'; "
                             f"got {self.penalty!r}.")
        use_lbfgs = self.solver == "lbfgs" or (self.solver == "auto" and smooth
                                               and self.momentum is None)
        X, y = _base.check_Xy(self, X, y, where)
        self.classes_, idx = _base.encode_classes(self, y, where)
        self.backend_ = _base.resolve(self, where)
        sw = _base.weighted_samples(sample_weight, X, self.class_weight, self.classes_, idx)
        _base.check_weighted_classes(sw, idx, self.classes_, where)
        total = sw.sum()
        sw = _base.normalised_weights(sw, X, X.dtype)
        Y = _base.encode_targets(idx, len(self.classes_), X.dtype, one_hot=True)
        loss_name = "log_loss" if Y.shape[1] == 1 else "multinomial"
        strength = 0.0 if self.penalty is None else 1.0 / (self.C * total)
        alpha2, alpha1 = _base.split_penalty(self.penalty, self.l1_ratio, strength)
        prob = _gd.make_problem(X, Y, sw, _gd_loss(loss_name), 0.0, alpha2, alpha1,
                                self.fit_intercept, self.backend_)
        if use_lbfgs:
            n_iter, coef, intercept = _gd.fit_lbfgs(prob, _base.CURVATURE[loss_name], self.max_iter,
                                                    self.tol, where,
                                                    softmax=loss_name == "multinomial")
        else:
            n_iter, coef, intercept = _gd.fit_full_batch(prob, _base.CURVATURE[loss_name],
                                                         self.momentum, self.max_iter,
                                                         self.tol, where)
        self.coef_ = np.ascontiguousarray(coef.T, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        self.n_iter_ = np.array([n_iter])
        return self

    def decision_function(self, X):
        """Return raw scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Log-odds of the positive class (two classes) or per-class scores.
        """
        return _base.squeeze_binary(_base.decision(self, X))

    def predict_proba(self, X):
        """Return class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        return _base.logistic_proba(_base.decision(self, X))

    def predict_log_proba(self, X):
        """Return the logarithm of the class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        return _base.log_of(self.predict_proba(X))


def _gd_loss(name: str) -> int:
    from .._kernels.reference.linear import LOSSES

    return LOSSES[name]
