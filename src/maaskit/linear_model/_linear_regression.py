"""Ordinary least squares by an exact solver or by accelerated gradient descent.

Kernels (``solver="gd"``): ``linear`` (``squared_error``) and ``optim`` (``sgd_update``, the gradient
step of FISTA), through :mod:`maaskit.linear_model._gd`.
"""

from __future__ import annotations


import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr
from sklearn.base import BaseEstimator, RegressorMixin

from .._kernels.reference.linear import LOSSES
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Options, validate_parameters
from . import _base, _gd


@register
class LinearRegression(_base.SparseInputMixin, PersistableMixin, RegressorMixin, BaseEstimator):
    """Ordinary least squares linear regression, solved exactly or by gradient descent.

    Minimises ``sum_i w_i |y_i - x_i . coef - b|^2``. ``solver="lstsq"`` solves it directly
    (normal equations by Cholesky when well conditioned, else LAPACK ``gelsd``, on
    centred, weight-scaled data; LSQR for sparse input);
    ``solver="gd"`` runs maaskit's gradient-descent path (FISTA-accelerated, step
    ``1/L``, adaptive restart, features scaled internally as an exact change of variables).

    Parameters
    ----------
    fit_intercept : bool, default=True
        Learn an intercept.
    solver : {"auto", "lstsq", "gd"}, default="auto"
        ``"auto"`` is ``"lstsq"``.
    max_iter : int, default=1000
        Maximum gradient steps (``solver="gd"``).
    tol : float, default=1e-6
        Stop when the largest entry of the (scaled) gradient is at most ``tol``
        (``solver="gd"``).
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation (``solver="gd"``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients.
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept(s); 0.0 without ``fit_intercept``.
    n_iter_ : int
        Gradient steps taken (1 for the direct solver).
    solver_ : str
        Solver used.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit`` (only when ``X`` had string column names).
    """

    _state_schema = _base.LINEAR_SCHEMA
    _parameter_constraints = {
        "solver": [Options(frozenset({"auto", "lstsq", "gd"}))],
        **_base.COMMON_CONSTRAINTS,
    }

    def __init__(self, *, fit_intercept=True, solver="auto", max_iter=1000, tol=1e-6,
                 backend="auto"):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.backend = backend

    def fit(self, X, y, sample_weight=None):
        """Fit the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : LinearRegression
            The fitted estimator.
        """
        where = "LinearRegression.fit"
        validate_parameters(self)
        X, y = _base.check_Xy(self, X, y, where, multi_output=True, y_numeric=True)
        sw = _base.normalised_weights(sample_weight, X, np.float64)
        Y = np.asarray(y, dtype=np.float64)
        single = Y.ndim == 1
        Y = Y.reshape(len(Y), -1)
        self.solver_ = "lstsq" if self.solver == "auto" else self.solver
        if self.solver_ == "lstsq":
            coef, intercept = self._lstsq(X, Y, sw)
            self.n_iter_ = 1
        else:
            self.backend_ = _base.resolve(self, where)
            prob = _gd.make_problem(X, Y.astype(X.dtype), sw.astype(X.dtype),
                                    LOSSES["squared_error"], 0.0, 0.0, 0.0,
                                    self.fit_intercept, self.backend_)
            n_iter, coef, intercept = _gd.fit_full_batch(prob, _base.CURVATURE["squared_error"],
                                                         None, self.max_iter, self.tol, where)
            self.n_iter_ = n_iter
        coef = np.asarray(coef, dtype=np.float64).T
        intercept = np.asarray(intercept, dtype=np.float64)
        if not self.fit_intercept:
            intercept = np.zeros_like(intercept)
        if single:
            self.coef_, self.intercept_ = np.ascontiguousarray(coef[0]), float(intercept[0])
        else:
            self.coef_, self.intercept_ = np.ascontiguousarray(coef), intercept
        return self

    def _lstsq(self, X, Y, sw):
        root = np.sqrt(sw)
        if sp.issparse(X):
            A = sp.diags(root) @ X.astype(np.float64)
            if self.fit_intercept:
                A = sp.hstack([A, root[:, None]]).tocsr()
            sol = np.column_stack([lsqr(A, root * Y[:, j], atol=1e-12, btol=1e-12)[0]
                                   for j in range(Y.shape[1])])
            if self.fit_intercept:
                return sol[:-1], sol[-1]
            return sol, np.zeros(Y.shape[1])
        X = np.asarray(X, dtype=np.float64)
        if self.fit_intercept:
            w = sw / sw.sum()
            x_mean, y_mean = w @ X, w @ Y
            A, B = (X - x_mean) * root[:, None], (Y - y_mean) * root[:, None]
        else:
            x_mean, y_mean = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
            A, B = X * root[:, None], Y * root[:, None]
        coef = _solve(A, B)
        return coef, y_mean - x_mean @ coef

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions.
        """
        Z = _base.decision(self, X)
        return Z[:, 0] if self.coef_.ndim == 1 else Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _solve(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Least squares ``min |A x - B|``: normal equations when well conditioned, else SVD.

    The Cholesky route costs one GEMM (``A'A``, the BLAS-bound part) plus a tiny solve;
    its error grows like ``cond(A)^2 * eps``, so it is used only when ``cond(A'A) < 1e8``.
    Otherwise (collinear or rank-deficient columns) LAPACK ``gelsd`` returns the
    minimum-norm solution, with ``rcond = eps * max(n, p)`` so repeated rows stay rank-safe.
    """
    n, p = A.shape
    if n >= 2 * p:
        G = A.T @ A
        evals = np.linalg.eigvalsh(G)
        if evals[0] > 1e-8 * evals[-1] > 0:
            c, low = scipy.linalg.cho_factor(G, check_finite=False)
            return scipy.linalg.cho_solve((c, low), A.T @ B, check_finite=False)
    return np.linalg.lstsq(A, B, rcond=None)[0]
