"""Support vector classification: linear (dual coordinate descent) and kernel (SMO) solvers.

Kernels: ``svm_linear`` (``dual_cd``, ``dual_cd_csr``: liblinear-style dual coordinate
descent with shrinking; the primal Newton solver of ``_newton.py`` is BLAS only) and
``svm_kernel`` (``smo``: libsvm-style SMO with WSS2,
shrinking and a kernel row cache). Multi-class problems are solved one-vs-one (SMO, the
default for non-linear kernels, as libsvm) or one-vs-rest; the binary problems run in
parallel over ``n_jobs`` threads and share the precomputed kernel matrix (one-vs-one
slices it) or, for one-vs-rest, kernel rows.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .._backend import get_kernel, resolve_backend
from .._config import effective_n_threads, one_blas_thread
from .._kernels.reference.svm_kernel import KERNELS, kernel_matrix, row_norms_sq
from ..linear_model._base import (SparseInputMixin, encode_targets, labels_from_scores, log_of,
                                  two_columns)
from .._schema import BACKENDS, Arr, Attr, Rule, StateSchema
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils.validation import check_is_fitted
from ..utils._warnings import user_stacklevel
from ._newton import newton_l2svm
from ._platt import sigmoid_fit, sigmoid_predict

_MB = 1 << 20
# Rows of test kernel matrix computed at once in decision_function (bounds memory).
_PREDICT_BLOCK_FLOATS = 1 << 24
# solver="auto" uses the primal Newton method up to this many features (its Hessian is d x d).
_NEWTON_MAX_FEATURES = 2048
# Below this many flops per BLAS-heavy step, BLAS runs single-threaded. Our GEMMs are thin
# (d <= a few hundred) and memory-bound passes dominate, so threads gain < 2x on an idle
# 2-core machine, while on a shared one OpenBLAS's spinning threads made the 200k x 50
# Newton fit 30x slower (66 s vs 2.3 s, benchmarks/bench_svm.py).
_BLAS_SERIAL_FLOPS = 1e10
# One-vs-rest problems are spread over threads only from this many samples on.
_PARALLEL_MIN_SAMPLES = 2000


def _blas_threads(flops: float):
    """Context limiting BLAS to one thread when ``flops`` is small."""
    if flops >= _BLAS_SERIAL_FLOPS:
        return contextlib.nullcontext()
    return one_blas_thread()


def _has_probability(est: "SVMClassifier") -> bool:
    if not est.probability:
        raise AttributeError("predict_proba is available only when probability=True")
    return True


def _ovo_to_ovr(pairwise: np.ndarray, k: int) -> np.ndarray:
    """Votes plus bounded summed confidences from one-vs-one scores (sklearn's SVC "ovr")."""
    n = pairwise.shape[0]
    votes = np.zeros((n, k))
    conf = np.zeros((n, k))
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            f = pairwise[:, p]
            # libsvm votes for i when the value is positive, else for j
            votes[:, i] += f > 0
            votes[:, j] += f <= 0
            conf[:, i] += f
            conf[:, j] -= f
            p += 1
    return votes + conf / (3.0 * (np.abs(conf) + 1.0))



def _n_models(d: dict, attrs: dict) -> int:
    k = d["n_classes"]
    if k == 2:
        return 1
    return k if attrs.get("multi_class_") == "ovr" else k * (k - 1) // 2


#: Saved state of an SVMClassifier: one decision function ("model") per binary problem.
_SVM_SCHEMA = StateSchema(
    attrs={
        "n_features_in_": Attr(int, dim="n_features", min=1),
        "solver_": Attr(str, options=("smo", "dual_cd", "newton")),
        "multi_class_": Attr(str, options=("ovr", "ovo")),
        "backend_": Attr(str, options=BACKENDS),
        "gamma_": Attr(float, min=0),
        "coef_": Attr(type(None), optional=True),
        "_classes_object": Attr(bool, optional=True),
        "_feature_names_in_object": Attr(bool, optional=True),
    },
    arrays={
        "classes_": Arr("label", ("n_classes",), unique=True),
        "class_weight_": Arr("f8", ("n_classes",), min=0),
        "support_": Arr("i", ("n_sv",), min=0),
        "support_vectors_": Arr("f", ("n_sv", "n_features")),
        "dual_coef_": Arr("f8", ("n_models", "n_sv")),
        "intercept_": Arr("f8", ("n_models",)),
        "coef_": Arr("f8", ("n_models", "n_features"), optional=True),
        "objective_": Arr("f8", (None,), finite=False),
        "n_support_": Arr("i", (None,), min=0),
        "n_iter_": Arr("i", (None,), min=0),
        "probA_": Arr("f8", [(0,), (1,)]),
        "probB_": Arr("f8", [(0,), (1,)]),
        "feature_names_in_": Arr("U", ("n_features",), optional=True),
    },
    rules=(
        Rule("array 'dual_coef_'", "must have one row per binary problem (1 for 2 classes, "
             "n_classes for ovr, n_classes*(n_classes-1)/2 for ovo)",
             lambda d, a, arr, p: d["n_classes"] >= 2 and d["n_models"] == _n_models(d, a)),
        Rule("array 'coef_'", "is required by the linear solvers",
             lambda d, a, arr, p: a["solver_"] == "smo" or "coef_" in arr),
        Rule("array 'probA_'", "must hold the Platt parameters when probability=True",
             lambda d, a, arr, p: not p["probability"] or arr["probA_"].size == arr["probB_"].size == 1),
        Rule("header param 'kernel'", "must be 'linear' for the linear solvers",
             lambda d, a, arr, p: a["solver_"] == "smo" or p["kernel"] == "linear"),
    ),
)

@register
class SVMClassifier(SparseInputMixin, PersistableMixin, ClassifierMixin, BaseEstimator):
    """Soft-margin support vector classifier with linear, polynomial, RBF or sigmoid kernels.

    Minimises ``1/2 ||w||^2 + C sum_i loss(y_i f(x_i))``. The linear kernel treats the
    intercept as liblinear does (a regularised constant feature of value
    ``intercept_scaling``), takes dense or sparse ``X`` and is solved either by dual
    coordinate descent (hinge or squared-hinge loss) or, for the squared hinge with
    ``n_samples > n_features``, by a primal finite Newton method whose cost does not grow
    with ``C``. The other kernels use SMO with second-order working-set selection,
    shrinking and a kernel cache (libsvm's method: hinge loss, unregularised intercept);
    ``solver="smo"`` also runs it for the linear kernel. Several classes are handled
    one-vs-one (``k (k - 1) / 2`` pairwise problems on the samples of two classes, the
    default for non-linear kernels, as scikit-learn's ``SVC``) or one-vs-rest (``k``
    problems on all samples); ``predict`` returns the class of largest decision value.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength (penalty on margin violations).
    kernel : {"rbf", "linear", "poly", "sigmoid"}, default="rbf"
        Kernel function.
    degree : int, default=3
        Degree of the polynomial kernel.
    gamma : {"scale", "auto"} or float, default="scale"
        Kernel coefficient of rbf, poly and sigmoid: ``"scale"`` is
        ``1 / (n_features * X.var())`` (1 when the variance is 0), ``"auto"`` is
        ``1 / n_features``.
    coef0 : float, default=0.0
        Constant term of the poly and sigmoid kernels.
    solver : {"auto", "newton", "dual_cd", "smo"}, default="auto"
        ``"auto"`` uses ``"smo"`` for non-linear kernels; for the linear kernel it uses
        ``"newton"`` when ``loss="squared_hinge"`` and ``n_features < n_samples`` and
        ``n_features <= 2048``, else ``"dual_cd"``. ``"newton"`` and ``"dual_cd"`` require
        ``kernel="linear"``, ``"newton"`` also ``loss="squared_hinge"``.
    loss : {"squared_hinge", "hinge"}, default="squared_hinge"
        Loss of the linear solvers (SMO always uses the hinge loss).
    intercept_scaling : float, default=1.0
        Value of the constant feature that carries the intercept of the linear solvers;
        larger values regularise the intercept less.
    fit_intercept : bool, default=True
        Whether the linear solvers fit an intercept (SMO always does).
    tol : float, default=1e-3
        Stopping tolerance: maximal KKT violation (SMO), projected-gradient spread
        (``"dual_cd"``) or relative gradient norm (``"newton"``, liblinear's criterion).
    class_weight : dict, "balanced" or None, default=None
        Multiplies ``C`` for the samples of each class; ``"balanced"`` uses
        ``n_samples / (n_classes * np.bincount(y))``.
    probability : bool, default=False
        Enable ``predict_proba`` by Platt scaling on 5-fold cross-validated decision
        values (fits the model 5 more times). For two classes the sigmoid has no offset
        and for more classes one sigmoid serves all per-class scores of
        :meth:`decision_function` (one-vs-rest scores, or one-vs-one votes plus
        confidences), then normalised, so that ``predict_proba`` never contradicts
        ``predict``.
    cache_size : float, default=200
        Megabytes for kernel values in SMO: the whole kernel matrix is precomputed with
        one GEMM when it fits, otherwise an LRU cache holds kernel rows. One-vs-one
        copies each pair's block out of the whole matrix; when that does not fit, a
        pair's own matrix (or row cache) gets this budget, per thread.
    shrinking : bool, default=True
        Whether the solvers shrink the active set (faster, same solution).
    max_iter : int, default=-1
        Maximum number of SMO steps per binary problem, of passes over the data
        (``"dual_cd"``) or of Newton iterations. ``-1`` means the solver's default:
        ``max(10**7, 100 n_samples)`` steps (SMO), ``max(1000, 10**8 // n_samples)``
        passes (``"dual_cd"``) or 1000 iterations (``"newton"``).
    random_state : int, RandomState instance or None, default=None
        Seed of the coordinate order of ``"dual_cd"`` and of the folds used by
        ``probability=True``.
    multi_class : {"auto", "ovo", "ovr"}, default="auto"
        Strategy for more than two classes. ``"ovo"`` (one-vs-one, SMO only) trains one
        problem per pair of classes on the samples of those two classes and predicts by
        voting; ``"ovr"`` (one-vs-rest) trains one problem per class on all samples.
        ``"auto"`` is ``"ovo"`` for non-linear kernels (smaller problems with fewer
        support vectors: faster and as accurate as libsvm) and ``"ovr"`` for the linear
        kernel. Ignored for two classes (one problem).
    n_jobs : int, default=None
        Threads for the binary problems; ``None`` uses the global ``n_threads``
        setting (all cores by default).
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation (``"numpy"`` is the slow, readable reference).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.
    coef_ : ndarray of shape (n_problems, n_features_in_)
        Weights of the linear solvers (``n_problems`` is 1 for two classes, else
        ``n_classes`` for one-vs-rest or ``n_classes * (n_classes - 1) / 2`` for
        one-vs-one, pairs ordered ``(0, 1), (0, 2), ..., (1, 2), ...``); ``None`` for SMO.
    intercept_ : ndarray of shape (n_problems,)
        Intercept of every binary problem.
    support_ : ndarray of shape (n_SV,)
        Indices of the training samples that are support vectors of any problem (SMO);
        empty for the linear solvers.
    support_vectors_ : ndarray of shape (n_SV, n_features_in_)
        Support vectors (SMO; empty for the linear solvers).
    dual_coef_ : ndarray of shape (n_problems, n_SV)
        ``alpha_i y_i`` of every support vector in every problem (SMO; 0 where a support
        vector is not in a one-vs-one problem). In the one-vs-one problem of classes
        ``(i, j)``, ``y = +1`` for class ``i``: a positive pairwise value votes for ``i``.
    n_support_ : ndarray of shape (n_problems,), int
        Number of support vectors (samples with a non-zero dual variable, i.e. inside
        or on the wrong side of the margin) of each binary problem.
    objective_ : ndarray of shape (n_problems,)
        Final objective of each problem in the primal's sign: the primal objective for
        ``"newton"``, minus the (minimised) dual objective for ``"dual_cd"`` and SMO;
        the two agree at the optimum.
    n_iter_ : ndarray of shape (n_problems,), int
        SMO steps, coordinate-descent passes or Newton iterations of each problem.
    gamma_ : float
        The kernel coefficient used.
    class_weight_ : ndarray of shape (n_classes,)
        Weight of each class.
    solver_ : str
        The solver used: ``"newton"``, ``"dual_cd"`` or ``"smo"``.
    multi_class_ : str
        The multi-class strategy used: ``"ovo"`` or ``"ovr"`` (``"ovr"`` for two classes).
    backend_ : str
        Resolved kernel backend.
    probA_, probB_ : ndarray of shape (1,)
        Platt sigmoid ``P = 1 / (1 + exp(probA_ * f + probB_))`` of the decision values
        ``f`` (empty unless ``probability=True``).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from maaskit.svm import SVMClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), SVMClassifier(C=1.0)).fit(X, y)
    >>> float(model.score(X, y)) > 0.95
    True
    """

    _state_schema = _SVM_SCHEMA
    _parameter_constraints: dict[str, list] = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "kernel": [Options(frozenset(KERNELS))],
        "degree": [Interval(numbers.Integral, 0, None, closed="left")],
        "gamma": [Options(frozenset({"scale", "auto"})), Interval(numbers.Real, 0, None, closed="left")],
        "coef0": [Interval(numbers.Real, None, None, closed="neither")],
        "solver": [Options(frozenset({"auto", "newton", "dual_cd", "smo"}))],
        "loss": [Options(frozenset({"squared_hinge", "hinge"}))],
        "intercept_scaling": [Interval(numbers.Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "class_weight": [dict, Options(frozenset({"balanced"})), None],
        "probability": ["boolean"],
        "cache_size": [Interval(numbers.Real, 0, None, closed="neither")],
        "shrinking": ["boolean"],
        "max_iter": [Interval(numbers.Integral, -1, None, closed="left")],
        "random_state": ["random_state"],
        "multi_class": [Options(frozenset({"auto", "ovo", "ovr"}))],
        "n_jobs": [numbers.Integral, None],
        "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
    }

    def __init__(self, C: float = 1.0, *, kernel: str = "rbf", degree: int = 3,
                 gamma: str | float = "scale", coef0: float = 0.0, solver: str = "auto",
                 loss: str = "squared_hinge", intercept_scaling: float = 1.0,
                 fit_intercept: bool = True, tol: float = 1e-3, class_weight=None,
                 probability: bool = False, cache_size: float = 200, shrinking: bool = True,
                 max_iter: int = -1, random_state=None, multi_class: str = "auto",
                 n_jobs: int | None = None, backend: str = "auto") -> None:
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.solver = solver
        self.loss = loss
        self.intercept_scaling = intercept_scaling
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.class_weight = class_weight
        self.probability = probability
        self.cache_size = cache_size
        self.shrinking = shrinking
        self.max_iter = max_iter
        self.random_state = random_state
        self.multi_class = multi_class
        self.n_jobs = n_jobs
        self.backend = backend

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> "SVMClassifier":
        """Fit the classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input is used as is by the linear solver and densified
            for SMO.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : SVMClassifier
            The fitted classifier.
        """
        validate_parameters(self)
        where = f"{type(self).__name__}.fit"
        solver = self.solver
        if solver in ("dual_cd", "newton") and self.kernel != "linear":
            raise ValueError(
                f"{where}: solver={solver!r} must be used with kernel='linear'; got "
                f"kernel={self.kernel!r}. Use solver='smo' or 'auto'."
            )
        if solver == "newton" and self.loss != "squared_hinge":
            raise ValueError(
                f"{where}: solver='newton' must be used with loss='squared_hinge'; got "
                f"loss={self.loss!r}. Use solver='dual_cd' or 'auto'."
            )
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C")
        if solver == "auto":
            n, d = X.shape
            if self.kernel != "linear":
                solver = "smo"
            elif self.loss == "squared_hinge" and d < n and d <= _NEWTON_MAX_FEATURES:
                solver = "newton"
            else:
                solver = "dual_cd"
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{where}: y must contain at least 2 classes; got 1 class ({classes[0]!r}). "
                "A classifier can't train when only one class is present."
            )
        self.classes_ = classes
        self.class_weight_ = np.asarray(
            compute_class_weight(self.class_weight, classes=classes, y=y), dtype=np.float64)
        self.solver_ = solver
        multi_class = self.multi_class
        if multi_class == "auto":
            multi_class = "ovo" if self.kernel != "linear" else "ovr"
        if multi_class == "ovo" and solver != "smo" and len(classes) > 2:
            raise ValueError(
                f"{where}: multi_class='ovo' must be used with solver='smo'; got "
                f"solver={solver!r}. Use multi_class='ovr' or solver='smo'."
            )
        self.multi_class_ = multi_class if len(classes) > 2 else "ovr"
        kernel_name = "svm_kernel" if solver == "smo" else "svm_linear"
        # The Newton solver is BLAS only; backend_ names the kernel table entry it shares.
        self.backend_ = resolve_backend(kernel_name, self.backend, where)
        self.gamma_ = self._resolve_gamma(X)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._fit_problems(X, y_idx, seed)
        self.probA_ = np.empty(0)
        self.probB_ = np.empty(0)
        if self.probability:
            self._fit_platt(X, y_idx, seed)
        return self

    def _resolve_gamma(self, X) -> float:
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        if self.gamma == "scale":
            if sp.issparse(X):
                var = X.multiply(X).mean() - X.mean() ** 2
            else:
                var = X.var(dtype=np.float64)
            return float(1.0 / (X.shape[1] * var)) if var != 0 else 1.0
        return float(self.gamma)

    def _targets(self, y_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # one row of +-1 per binary problem (one for two classes, else one-vs-rest)
        Y = encode_targets(y_idx, len(self.classes_), np.float64, one_hot=False).T
        upper = np.broadcast_to(float(self.C) * self.class_weight_[y_idx], Y.shape)
        return np.ascontiguousarray(Y), np.ascontiguousarray(upper)

    def _fit_problems(self, X, y_idx: np.ndarray, seed: int) -> None:
        if self.multi_class_ == "ovo":
            self._fit_ovo(X, y_idx)
            return
        Y, upper = self._targets(y_idx)
        n, d = X.shape
        k = Y.shape[0]
        alpha = np.zeros(Y.shape)
        n_threads = effective_n_threads(self.n_jobs) if n >= _PARALLEL_MIN_SAMPLES else 1
        kern = get_kernel("svm_kernel" if self.solver_ == "smo" else "svm_linear",
                          self.backend_)
        if self.solver_ == "newton":
            max_iter = 1000 if self.max_iter == -1 else self.max_iter
            bias = float(self.intercept_scaling) if self.fit_intercept else 0.0
            W = np.zeros((k, d + 1))
            n_iter = np.zeros(k, dtype=np.int64)
            with _blas_threads(2.0 * n * d * d):
                for c in range(k):
                    W[c], n_iter[c] = newton_l2svm(X, Y[c], upper[c], bias, float(self.tol),
                                                   max_iter)
            self._set_linear(W, d, k, bias)
            Z = np.asarray(safe_sparse_dot(X, W[:, :d].T), dtype=np.float64) + bias * W[:, d]
            xi = np.maximum(0.0, 1.0 - Y * Z.T)
            alpha = 2.0 * upper * xi  # the dual variables of the squared hinge at w
            self.objective_ = 0.5 * np.einsum("ij,ij->i", W, W) + np.sum(upper * xi**2, axis=1)
        elif self.solver_ == "dual_cd":
            # Default budget: 1000 passes, more on small data (about 1e8 coordinate steps).
            max_iter = max(1000, 10**8 // max(n, 1)) if self.max_iter == -1 else self.max_iter
            bias = float(self.intercept_scaling) if self.fit_intercept else 0.0
            W = np.zeros((k, d + 1))
            l2 = self.loss == "squared_hinge"
            if sp.issparse(X):
                n_iter = kern.dual_cd_csr(X.data, X.indices.astype(np.int32, copy=False),
                                          X.indptr.astype(np.int64, copy=False), d, Y, upper,
                                          alpha, W, l2, bias, float(self.tol), max_iter, seed,
                                          bool(self.shrinking), n_threads)
            else:
                n_iter = kern.dual_cd(X, Y, upper, alpha, W, l2, bias, float(self.tol),
                                      max_iter, seed, bool(self.shrinking), n_threads)
            self._set_linear(W, d, k, bias)
            diag = (0.5 / upper) if l2 else np.zeros_like(upper)
            # Dual objective 1/2 a^T (Q + D) a - sum a, from the maintained w = sum a y x~.
            self.objective_ = -(0.5 * np.einsum("ij,ij->i", W, W)
                                + 0.5 * np.sum(diag * alpha**2, axis=1) - alpha.sum(axis=1))
        else:
            if sp.issparse(X):
                X = X.toarray()
            max_iter = max(10**7, 100 * n) if self.max_iter == -1 else self.max_iter
            sqnorm = row_norms_sq(X)
            code = KERNELS[self.kernel]
            budget = float(self.cache_size) * _MB / 4.0  # float32 kernel values
            use_full = n * n <= budget
            if use_full:
                with _blas_threads(2.0 * n * n * d):
                    K = kernel_matrix(X, X, code, self.gamma_, float(self.coef0),
                                      float(self.degree), sqnorm, sqnorm, np.float32)
            else:
                K = np.zeros((1, 1), dtype=np.float32)
            cache_rows = max(2, int(budget // n))
            rho = np.zeros(k)
            obj = np.zeros(k)
            n_iter = kern.smo(X, sqnorm, K, use_full, Y, upper, alpha, rho, obj, code,
                              self.gamma_, float(self.coef0), float(self.degree),
                              float(self.tol), max_iter, cache_rows, bool(self.shrinking),
                              n_threads)
            del K
            sv = np.flatnonzero((alpha > 0).any(axis=0))
            self.support_ = sv.astype(np.int64)
            self.support_vectors_ = np.ascontiguousarray(X[sv])
            self.dual_coef_ = np.ascontiguousarray((alpha * Y)[:, sv])
            self.intercept_ = -rho
            self.coef_ = None
            self.objective_ = -obj
        self._finish(alpha, n_iter, max_iter)

    def _finish(self, alpha: np.ndarray, n_iter, max_iter: int) -> None:
        self.n_support_ = (alpha > 0).sum(axis=1).astype(np.int64)
        self.n_iter_ = np.asarray(n_iter, dtype=np.int64)
        if np.any(self.n_iter_ >= max_iter):
            warnings.warn(
                f"{type(self).__name__}.fit: the {self.solver_} solver did not converge in "
                f"{max_iter} iterations; increase max_iter, or scale the data "
                "(e.g. StandardScaler).",
                ConvergenceWarning, stacklevel=user_stacklevel())

    def _fit_ovo(self, X, y_idx: np.ndarray) -> None:
        """One SMO problem per pair of classes, on the samples of the two classes."""
        if sp.issparse(X):
            X = X.toarray()
        n, d = X.shape
        k = len(self.classes_)
        kern = get_kernel("svm_kernel", self.backend_)
        code = KERNELS[self.kernel]
        gamma, coef0, degree = self.gamma_, float(self.coef0), float(self.degree)
        # Samples sorted by class: the two classes of a pair are two row ranges, so a
        # pair's block of the kernel matrix is four plain slices (no fancy indexing).
        order = np.argsort(y_idx, kind="stable")
        Xo = np.ascontiguousarray(X[order])
        yo = y_idx[order]
        bounds = np.r_[0, np.cumsum(np.bincount(y_idx, minlength=k))]
        sqnorm = row_norms_sq(Xo)
        budget = float(self.cache_size) * _MB / 4.0  # float32 kernel values
        # The full matrix is computed once (one GEMM) and every pair slices its block.
        use_full = n * n <= budget
        if use_full:
            with _blas_threads(2.0 * n * n * d):
                K = kernel_matrix(Xo, Xo, code, gamma, coef0, degree, sqnorm, sqnorm,
                                  np.float32)
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        C_i = float(self.C) * self.class_weight_[yo]
        max_iter_cap = self.max_iter
        n_threads = effective_n_threads(self.n_jobs) if n >= _PARALLEL_MIN_SAMPLES else 1
        n_threads = max(1, min(n_threads, len(pairs)))

        def solve(pair):
            i, j = pair
            (a0, a1), (b0, b1) = bounds[i:i + 2], bounds[j:j + 2]
            na = a1 - a0
            rows = np.r_[a0:a1, b0:b1]
            m = len(rows)
            Xs = Xo[rows]
            sq = sqnorm[rows]
            if use_full:
                Ks = np.empty((m, m), dtype=np.float32)
                Ks[:na, :na] = K[a0:a1, a0:a1]
                Ks[:na, na:] = K[a0:a1, b0:b1]
                Ks[na:, :na] = K[b0:b1, a0:a1]
                Ks[na:, na:] = K[b0:b1, b0:b1]
                full = True
            elif m * m <= budget:
                Ks = kernel_matrix(Xs, Xs, code, gamma, coef0, degree, sq, sq, np.float32)
                full = True
            else:
                Ks, full = np.zeros((1, 1), dtype=np.float32), False
            Ys = np.where(yo[rows] == i, 1.0, -1.0)[None, :]
            up = np.ascontiguousarray(C_i[rows][None, :])
            a = np.zeros((1, m))
            rho = np.zeros(1)
            obj = np.zeros(1)
            mi = max(10**7, 100 * m) if max_iter_cap == -1 else max_iter_cap
            it = kern.smo(Xs, sq, Ks, full, Ys, up, a, rho, obj, code, gamma, coef0, degree,
                          float(self.tol), mi, max(2, int(budget // m)),
                          bool(self.shrinking), 1)
            return order[rows], Ys[0], a[0], rho[0], obj[0], int(np.asarray(it).ravel()[0]), mi

        # One BLAS limit around all pairs: threadpoolctl contexts entered and left by
        # concurrent threads would not restore the original setting.
        sizes = np.diff(bounds)
        m_max = max(int(sizes[i] + sizes[j]) for i, j in pairs)
        with _blas_threads(0.0 if n_threads > 1 else 2.0 * m_max * m_max * d):
            if n_threads > 1:
                with ThreadPoolExecutor(n_threads) as pool:
                    results = list(pool.map(solve, pairs))
            else:
                results = [solve(p) for p in pairs]
        if use_full:
            del K
        P = len(pairs)
        alpha = np.zeros((P, n))
        coef = np.zeros((P, n))
        rho = np.zeros(P)
        obj = np.zeros(P)
        n_iter = np.zeros(P, dtype=np.int64)
        for p, (idx, ys, a, r, o, it, _) in enumerate(results):
            alpha[p, idx] = a
            coef[p, idx] = a * ys
            rho[p], obj[p], n_iter[p] = r, o, it
        # _finish warns when n_iter_ >= max_iter: use the budget of a pair that ran out.
        hit = [mi for (*_, it, mi) in results if it >= mi]
        max_iter = min(hit) if hit else max(mi for *_, mi in results)
        sv = np.flatnonzero((alpha > 0).any(axis=0))
        self.support_ = sv.astype(np.int64)
        self.support_vectors_ = np.ascontiguousarray(X[sv])
        self.dual_coef_ = np.ascontiguousarray(coef[:, sv])
        self.intercept_ = -rho
        self.coef_ = None
        self.objective_ = -obj
        self._finish(alpha, n_iter, max_iter)

    def _set_linear(self, W: np.ndarray, d: int, k: int, bias: float) -> None:
        self.coef_ = np.ascontiguousarray(W[:, :d])
        self.intercept_ = W[:, d] * bias
        self.support_ = np.empty(0, dtype=np.int64)
        self.support_vectors_ = np.empty((0, d))
        self.dual_coef_ = np.empty((k, 0))

    def _fit_platt(self, X, y_idx: np.ndarray, seed: int) -> None:
        # Out-of-fold decision values, as libsvm's internal 5-fold cross-validation.
        counts = np.bincount(y_idx)
        n_splits = int(min(5, counts.min()))
        k = 1 if len(self.classes_) == 2 else len(self.classes_)
        if n_splits >= 2:
            dec = np.zeros((len(y_idx), k))
            inner = clone(self).set_params(probability=False)
            folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            for train, test in folds.split(np.zeros(len(y_idx)), y_idx):
                est = clone(inner).fit(X[train], self.classes_[y_idx[train]])
                dec[test] = est.decision_function(X[test]).reshape(len(test), k)
        else:  # too few samples of some class for cross-validation
            dec = self.decision_function(X).reshape(len(y_idx), k)
        # One sigmoid shared by all one-vs-rest scores (pooled pairs), and B = 0 for two
        # classes: probabilities are then increasing in the decision values with the same
        # ordering, so argmax(predict_proba) always agrees with predict.
        if k == 1:
            A, B = sigmoid_fit(dec[:, 0], y_idx == 1, fit_intercept=False)
        else:
            positive = y_idx[:, None] == np.arange(k)[None, :]
            A, B = sigmoid_fit(dec.ravel(), positive.ravel())
        A = min(A, -1e-6)  # an anti-correlated fit would reverse the ordering
        self.probA_ = np.array([A])
        self.probB_ = np.array([B])

    # ------------------------------------------------------------------ prediction
    def decision_function(self, X) -> np.ndarray:
        """Signed distance-like score of every sample to each class's separating surface.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, positive scores mean ``classes_[1]``; otherwise one column
            per class: the one-vs-rest scores, or for one-vs-one the number of votes of
            each class plus its summed pairwise scores mapped into (-1/3, 1/3) (the
            ``"ovr"`` shape of scikit-learn's ``SVC``), so that vote ties go to the class
            with the larger summed confidence.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          order="C", reset=False)
        if self.solver_ != "smo":
            scores = np.asarray(safe_sparse_dot(X, self.coef_.T), dtype=np.float64)
            scores += self.intercept_
        else:
            scores = self._kernel_scores(X)
            if getattr(self, "multi_class_", "ovr") == "ovo":
                scores = _ovo_to_ovr(scores, len(self.classes_))
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def _kernel_scores(self, X) -> np.ndarray:
        SV = self.support_vectors_
        out = np.empty((X.shape[0], self.dual_coef_.shape[0]))
        if SV.shape[0] == 0:
            out[:] = self.intercept_
            return out
        code = KERNELS[self.kernel]
        sq_sv = row_norms_sq(SV)
        step = max(1, _PREDICT_BLOCK_FLOATS // SV.shape[0])
        with _blas_threads(2.0 * X.shape[0] * SV.shape[0] * SV.shape[1]):
            for lo in range(0, X.shape[0], step):
                Xb = X[lo:lo + step]
                Kb = kernel_matrix(Xb, SV, code, self.gamma_, float(self.coef0),
                                   float(self.degree), sqnorm_z=sq_sv)
                out[lo:lo + step] = Kb @ self.dual_coef_.T
        out += self.intercept_
        return out

    def predict(self, X) -> np.ndarray:
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of largest decision value (one-vs-one: most votes, ties to the
            larger summed pairwise confidence, then to the first class, as
            ``SVC(break_ties=True)``).
        """
        scores = self.decision_function(X)  # first: it raises NotFittedError before fit
        return labels_from_scores(self.classes_, scores)

    @available_if(_has_probability)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities by Platt scaling of the decision values.

        For more than two classes the calibrated one-vs-rest scores are normalised to sum
        to 1; the most probable class is always the predicted one.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return two_columns(sigmoid_predict(scores, self.probA_[0], self.probB_[0]))
        P = sigmoid_predict(scores, self.probA_[0], self.probB_[0])
        P = np.maximum(P, 1e-12)
        return P / P.sum(axis=1, keepdims=True)

    @available_if(_has_probability)
    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        return log_of(self.predict_proba(X))

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        attrs, arrays = super()._get_state()
        # Object arrays cannot be stored without pickle: labels and names go as str.
        for name in ("classes_", "feature_names_in_"):
            a = arrays.get(name)
            if a is not None and a.dtype.hasobject:
                arrays[name] = a.astype(str)
                attrs[f"_{name}object"] = True
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        attrs = dict(attrs)
        for name in ("classes_", "feature_names_in_"):
            if attrs.pop(f"_{name}object", False):
                arrays[name] = arrays[name].astype(object)
        super()._set_state(attrs, arrays)
