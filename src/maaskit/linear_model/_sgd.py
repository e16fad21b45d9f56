"""Linear classifiers and regressors trained by mini-batch SGD with momentum.

Kernels: ``linear`` (per-sample loss and derivative) and ``optim`` (``sgd_update``, the fused
momentum step shared with the neural networks), through :mod:`maaskit.linear_model._gd`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from ..utils.validation import check_is_fitted

from .._kernels.reference.linear import LOSSES
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from . import _base, _gd

_SGD_CONSTRAINTS = {
    "penalty": [Options(frozenset({"l2", "l1", "elasticnet"})), None],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
    "epsilon": [Interval(numbers.Real, 0, None, closed="left")],
    "learning_rate": [Options(frozenset({"adaptive", "constant", "invscaling"}))],
    "eta0": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), Options(frozenset({"auto"}))],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    **_base.COMMON_CONSTRAINTS,
    "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
}

# "adaptive" stops after this many divisions of the learning rate by 5.
_MAX_DECAYS = 3


class _BaseSGD(_base.SparseInputMixin, PersistableMixin, BaseEstimator):
    """Training loop shared by :class:`SGDClassifier` and :class:`SGDRegressor`."""

    _name = "SGD"

    def _loss_name(self, n_outputs: int) -> str:
        return self.loss

    def _batch_size(self, n: int) -> int:
        return min(256, n) if self.batch_size == "auto" else int(self.batch_size)

    def _new_problem(self, X, Y, sw, rng, scaling=None):
        a = 0.0 if self.penalty is None else self.alpha
        alpha2, alpha1 = _base.split_penalty(self.penalty, self.l1_ratio, a)
        name = self._loss_name(Y.shape[1])
        return name, _gd.make_problem(X, Y, sw, LOSSES[name], self.epsilon, alpha2, alpha1,
                                      self.fit_intercept, self.backend_, scaling=scaling, rng=rng)

    def _initial_lr(self, prob, name: str) -> float:
        if self.eta0 is not None:
            return float(self.eta0)
        return 1.0 / _gd.step_bound(prob, _base.CURVATURE[name])

    def _run(self, X, Y, sw, where: str, epochs: int, incremental: bool):
        """Run ``epochs`` passes (or until the stopping rule fires) from the current state."""
        state = getattr(self, "_sgd_state", None) if incremental else None
        rng = self._rng if state is not None else check_random_state(self.random_state)
        scaling = getattr(self, "_scaling", None) if state is not None else None
        name, prob = self._new_problem(X, Y, sw, rng, scaling)
        if state is None:
            state = _gd.SGDState(np.zeros_like(prob.params), self._initial_lr(prob, name))
            self._scaling = prob.scaling
            self._rng = rng
        if hasattr(self, "coef_") and (incremental or self.warm_start):
            coef = self.coef_.T if self.coef_.ndim == 2 else self.coef_[:, None]
            prob.set_coef(coef.astype(prob.params.dtype), self.intercept_.astype(prob.params.dtype))
        elif self.fit_intercept and isinstance(self, RegressorMixin):
            # start the intercept at the weighted mean target: robust losses (bounded
            # gradients) would otherwise spend many epochs walking there
            prob.b[...] = prob.sample_weight @ prob.Y[:, 0] / prob.sample_weight.sum()
        bs = self._batch_size(prob.X.shape[0])
        lr0 = state.lr
        best, no_change, decays, n_iter, converged = np.inf, 0, 0, 0, False
        for epoch in range(epochs):
            if self.learning_rate == "invscaling":
                state.lr = lr0 / np.sqrt(1.0 + epoch)
            loss = _gd.sgd_epoch(prob, state, bs, self.momentum, rng, where)
            n_iter += 1
            if incremental or self.tol is None:
                continue
            if loss > best - self.tol:
                no_change += 1
            else:
                no_change = 0
            best = min(best, loss)
            if no_change >= self.n_iter_no_change:
                if self.learning_rate == "adaptive" and decays < _MAX_DECAYS:
                    state.lr /= 5.0
                    state.velocity[...] = 0.0
                    decays += 1
                    no_change = 0
                else:
                    converged = True
                    break
        if not incremental and self.learning_rate == "invscaling":
            state.lr = lr0
        if not incremental and self.tol is not None and not converged:
            _base.warn_not_converged(where, self.max_iter)
        self._sgd_state = state
        coef, intercept = prob.get_coef()
        self._store(coef, intercept)
        self.n_iter_ = getattr(self, "n_iter_", 0) + n_iter if incremental else n_iter
        self.t_ = float(state.t)
        return self

    def _fit(self, X, y, sample_weight, where: str, incremental: bool, classes=None):
        validate_parameters(self)
        first = not (incremental and hasattr(self, "coef_"))
        if first:
            X, y = self._check_Xy(X, y, where)
            self.backend_ = _base.resolve(self, where)
        else:
            X = _base.check_X(self, X, reset=False, where=where)
            y = self._check_y_again(X, y)
        Y, sw = self._encode(X, y, sample_weight, where, first, classes)
        if first and incremental:
            for name in ("_sgd_state", "_scaling", "n_iter_"):
                self.__dict__.pop(name, None)
        return self._run(X, Y, sw, where, 1 if incremental else self.max_iter, incremental)

    def _fit_all(self, X, y, sample_weight, where: str):
        """``fit``: forget the previous state unless ``warm_start``, then run ``max_iter`` epochs."""
        if not self.warm_start:
            for name in ("coef_", "intercept_", "_sgd_state", "n_iter_"):
                self.__dict__.pop(name, None)
        return self._fit(X, y, sample_weight, where, incremental=False)

    def _check_y_again(self, X, y):
        from sklearn.utils.validation import column_or_1d

        y = column_or_1d(y, warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{X.shape[0]}, {len(y)}]"
            )
        return y


@register
class SGDClassifier(_base.LinearClassifierMixin, ClassifierMixin, _BaseSGD):
    """Linear classifier fitted by mini-batch stochastic gradient descent with momentum.

    Minimises ``sum_i w_i l(y_i, x_i . coef + b) / sum_i w_i + alpha * R(coef)`` by
    mini-batch SGD with Nesterov momentum (the shared ``optim`` kernel). Margin losses
    (hinge, squared hinge, modified Huber) are trained one-vs-rest, all classes together in
    one pass; ``log_loss`` is binary logistic for two classes and multinomial (softmax) for
    more. The L1 part of the penalty is applied as a soft threshold after every step.

    Parameters
    ----------
    loss : {"hinge", "log_loss", "modified_huber", "squared_hinge"}, default="hinge"
        Loss function.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Regularisation term ``R``.
    alpha : float, default=1e-4
        Regularisation strength.
    l1_ratio : float, default=0.15
        Share of L1 in the elastic-net penalty.
    fit_intercept : bool, default=True
        Learn an unpenalised intercept.
    max_iter : int, default=1000
        Maximum number of epochs (passes over the data) in ``fit``.
    tol : float or None, default=1e-3
        An epoch whose mean loss is not below the best so far minus ``tol`` counts as no
        change; None runs ``max_iter`` epochs.
    epsilon : float, default=0.1
        Unused by the classification losses (kept for a shared signature with the regressor).
    learning_rate : {"adaptive", "constant", "invscaling"}, default="adaptive"
        ``"adaptive"`` divides the step by 5 after ``n_iter_no_change`` epochs without
        change, at most 3 times, then stops; ``"constant"`` stops at the first such plateau;
        ``"invscaling"`` uses ``eta0 / sqrt(1 + epoch)``.
    eta0 : float or None, default=None
        Initial step; None uses ``1 / L``, ``L`` the loss curvature times the largest
        eigenvalue of the scaled data's covariance (estimated by power iteration).
    momentum : float, default=0.9
        Nesterov momentum.
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(256, n_samples)``.
    n_iter_no_change : int, default=2
        Epochs without change before the learning rate drops or training stops.
    class_weight : dict, "balanced" or None, default=None
        Per-class multipliers of the sample weights.
    warm_start : bool, default=False
        Start ``fit`` from the previous coefficients.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling.
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
    n_iter_ : int
        Epochs run.
    t_ : float
        Number of optimizer steps taken in the last call.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit`` (only when ``X`` had string column names).
    backend_ : str
        Backend that ran the kernels.
    """

    _state_schema = _base.LINEAR_CLASSIFIER_SCHEMA
    _parameter_constraints = {
        **_SGD_CONSTRAINTS,
        "loss": [Options(frozenset({"hinge", "log_loss", "modified_huber", "squared_hinge"}))],
        "class_weight": [dict, Options(frozenset({"balanced"})), None],
    }

    def __init__(self, loss="hinge", *, penalty="l2", alpha=1e-4, l1_ratio=0.15,
                 fit_intercept=True, max_iter=1000, tol=1e-3, epsilon=0.1,
                 learning_rate="adaptive", eta0=None, momentum=0.9, batch_size="auto",
                 n_iter_no_change=2, class_weight=None, warm_start=False, random_state=None,
                 backend="auto"):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.epsilon = epsilon
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.momentum = momentum
        self.batch_size = batch_size
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.backend = backend

    def _loss_name(self, n_outputs: int) -> str:
        if self.loss == "log_loss" and n_outputs > 1:
            return "multinomial"
        return self.loss

    def _check_Xy(self, X, y, where):
        return _base.check_Xy(self, X, y, where)

    def _encode(self, X, y, sample_weight, where, first, classes):
        if first:
            if classes is None and hasattr(self, "_partial_classes"):
                classes = self._partial_classes
            self.classes_, idx = _base.encode_classes(self, y, where, classes)
        else:
            _, idx = _base.encode_classes(self, y, where, self.classes_)
        sw = _base.weighted_samples(sample_weight, X, self.class_weight, self.classes_, idx)
        if first and classes is None:  # fit, not a partial_fit batch
            _base.check_weighted_classes(sw, idx, self.classes_, where)
        sw = _base.normalised_weights(sw, X, X.dtype)
        Y = _base.encode_targets(idx, len(self.classes_), X.dtype,
                                 one_hot=self.loss == "log_loss")
        return Y, sw

    def _store(self, coef, intercept):
        self.coef_ = np.ascontiguousarray(coef.T, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)

    def fit(self, X, y, sample_weight=None):
        """Fit the model with mini-batch SGD.

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
        self : SGDClassifier
            The fitted estimator.
        """
        return self._fit_all(X, y, sample_weight, "SGDClassifier.fit")

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch of SGD on a batch of a stream.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Batch features.
        y : array-like of shape (n_samples,)
            Batch labels.
        classes : array-like of shape (n_classes,), default=None
            All classes of the stream; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : SGDClassifier
            The updated estimator.
        """
        where = "SGDClassifier.partial_fit"
        if not hasattr(self, "coef_"):
            if classes is None:
                raise ValueError(
                    f"{where}: classes must be given on the first call; got None."
                )
            self._partial_classes = np.unique(np.asarray(classes))
        return self._fit(X, y, sample_weight, where, incremental=True, classes=classes)

    def decision_function(self, X):
        """Return raw scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Signed distance to the hyperplane (two classes) or per-class scores.
        """
        return _base.squeeze_binary(_base.decision(self, X))

    def _has_proba(self):
        return self.loss in ("log_loss", "modified_huber")

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Return class probabilities (``log_loss`` and ``modified_huber`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        Z = _base.decision(self, X)
        if self.loss == "log_loss":
            return _base.logistic_proba(Z)
        P = (np.clip(Z, -1, 1) + 1) / 2
        if Z.shape[1] == 1:
            return _base.two_columns(P[:, 0])
        s = P.sum(axis=1, keepdims=True)
        zero = s[:, 0] == 0
        P[zero] = 1.0
        s[zero] = P.shape[1]
        return P / s

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """Return log-probabilities (``log_loss`` and ``modified_huber`` only).

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


@register
class SGDRegressor(RegressorMixin, _BaseSGD):
    """Linear regressor fitted by mini-batch stochastic gradient descent with momentum.

    Minimises ``sum_i w_i l(y_i, x_i . coef + b) / sum_i w_i + alpha * R(coef)`` with the
    shared ``optim`` kernel (Nesterov momentum) and a soft-threshold step for L1.

    Parameters
    ----------
    loss : {"squared_error", "huber", "epsilon_insensitive"}, default="squared_error"
        Loss function.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Regularisation term ``R``.
    alpha : float, default=1e-4
        Regularisation strength.
    l1_ratio : float, default=0.15
        Share of L1 in the elastic-net penalty.
    fit_intercept : bool, default=True
        Learn an unpenalised intercept.
    max_iter : int, default=1000
        Maximum number of epochs in ``fit``.
    tol : float or None, default=1e-3
        An epoch whose mean loss is not below the best so far minus ``tol`` counts as no
        change; None runs ``max_iter`` epochs.
    epsilon : float, default=0.1
        Width of the ``huber`` and ``epsilon_insensitive`` losses.
    learning_rate : {"adaptive", "constant", "invscaling"}, default="adaptive"
        Step-size schedule, as in :class:`SGDClassifier`.
    eta0 : float or None, default=None
        Initial step; None uses ``1 / L`` (see :class:`SGDClassifier`).
    momentum : float, default=0.9
        Nesterov momentum.
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(256, n_samples)``.
    n_iter_no_change : int, default=2
        Epochs without change before the learning rate drops or training stops.
    warm_start : bool, default=False
        Start ``fit`` from the previous coefficients.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients.
    intercept_ : ndarray of shape (1,)
        Intercept.
    n_iter_ : int
        Epochs run.
    t_ : float
        Number of optimizer steps taken in the last call.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit`` (only when ``X`` had string column names).
    backend_ : str
        Backend that ran the kernels.
    """

    _state_schema = _base.LINEAR_SCHEMA
    _parameter_constraints = {
        **_SGD_CONSTRAINTS,
        "loss": [Options(frozenset({"squared_error", "huber", "epsilon_insensitive"}))],
    }

    def __init__(self, loss="squared_error", *, penalty="l2", alpha=1e-4, l1_ratio=0.15,
                 fit_intercept=True, max_iter=1000, tol=1e-3, epsilon=0.1,
                 learning_rate="adaptive", eta0=None, momentum=0.9, batch_size="auto",
                 n_iter_no_change=2, warm_start=False, random_state=None, backend="auto"):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.epsilon = epsilon
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.momentum = momentum
        self.batch_size = batch_size
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.backend = backend

    def _check_Xy(self, X, y, where):
        return _base.check_Xy(self, X, y, where, y_numeric=True)

    def _encode(self, X, y, sample_weight, where, first, classes):
        sw = _base.normalised_weights(sample_weight, X, X.dtype)
        return np.asarray(y, dtype=X.dtype).reshape(-1, 1), sw

    def _store(self, coef, intercept):
        self.coef_ = np.ascontiguousarray(coef[:, 0], dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)

    def fit(self, X, y, sample_weight=None):
        """Fit the model with mini-batch SGD.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : SGDRegressor
            The fitted estimator.
        """
        return self._fit_all(X, y, sample_weight, "SGDRegressor.fit")

    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch of SGD on a batch of a stream.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Batch features.
        y : array-like of shape (n_samples,)
            Batch targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : SGDRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, "SGDRegressor.partial_fit", incremental=True)

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predictions.
        """
        check_is_fitted(self)
        return _base.decision(self, X)[:, 0]
