"""Shared plumbing of the linear models: input checks, weights, encoding and prediction."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from .._backend import resolve_backend
from .._schema import BACKENDS, Arr, Attr, Rule, StateSchema
from ..utils._param_validation import Interval, Options
from ..utils.validation import check_is_fitted
from ..utils._warnings import user_stacklevel

# Curvature bound of each loss (sup of its second derivative), used for the step size 1/L.
# Non-smooth losses get 1: their step is a sensible scale, not a guarantee.
CURVATURE = {
    "squared_error": 1.0,
    "huber": 1.0,
    "epsilon_insensitive": 1.0,
    "log_loss": 0.25,
    "hinge": 1.0,
    "squared_hinge": 2.0,
    "modified_huber": 2.0,
    "multinomial": 0.5,
}

COMMON_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
}


def check_X(est, X, reset: bool, where: str):
    """Validate features with scikit-learn's messages (CSR or dense, float32/float64)."""
    return validate_data(est, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                         reset=reset)


def check_Xy(est, X, y, where: str, multi_output: bool = False, y_numeric: bool = False):
    """Validate ``X, y`` and reset ``n_features_in_``."""
    X, y = validate_data(est, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                         multi_output=multi_output, y_numeric=y_numeric, reset=True)
    return X, y


def normalised_weights(sample_weight, X, dtype) -> np.ndarray:
    """Sample weights rescaled to mean 1 (so integer weights equal repeated rows).

    The objective is ``sum_i w_i l_i / sum_i w_i``, written as a mean over rows of
    ``n * w_i / sum(w)``.
    """
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
    total = sw.sum()
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum; got all zeros.")
    return (sw * (X.shape[0] / total)).astype(dtype)


def encode_classes(est, y, where: str, classes=None):
    """Set ``classes_`` and return the integer class index of every sample."""
    check_classification_targets(y)
    if classes is None:
        classes = np.unique(y)
    else:
        classes = np.unique(np.asarray(classes))
    if classes.shape[0] < 2:
        raise ValueError(
            f"{where}: y must contain at least 2 classes; got 1 class ({classes[0]!r}). "
            "A classifier needs examples of two or more classes."
        )
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    bad = classes[idx] != y
    if np.any(bad):
        raise ValueError(
            f"{where}: every label in y must be one of classes; got {y[bad][0]!r} "
            f"not in {classes.tolist()!r}."
        )
    return classes, idx


def check_weighted_classes(sw, idx, classes, where: str) -> None:
    """Raise when fewer than two classes keep a positive total sample weight."""
    mass = np.bincount(idx, weights=sw, minlength=len(classes))
    alive = classes[mass > 0]
    if alive.shape[0] < 2:
        raise ValueError(
            f"{where}: y must contain at least 2 classes with positive sample_weight; got "
            f"{alive.shape[0]} class ({alive.tolist()!r}). A classifier needs examples of two "
            "or more classes."
        )


def weighted_samples(sample_weight, X, class_weight, classes, idx) -> np.ndarray:
    """Per-sample weights (float64, not normalised) times the ``class_weight`` multipliers."""
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
    return sw * class_weights(class_weight, classes, idx)


def split_penalty(penalty, l1_ratio: float, strength: float) -> tuple[float, float]:
    """``(alpha2, alpha1)``: the L2 and L1 parts of a penalty of total ``strength``."""
    l1 = {"l1": 1.0, "elasticnet": l1_ratio}.get(penalty, 0.0)
    return strength * (1 - l1), strength * l1


def encode_targets(idx, n_classes: int, dtype, one_hot: bool) -> np.ndarray:
    """Target matrix of a linear classifier from class indices.

    Two classes give one column of +-1 (the positive class is ``classes_[1]``); more give
    one column per class: 1/0 (``one_hot``, the multinomial loss) or +-1 (one-vs-rest).
    """
    if n_classes == 2:
        return np.where(idx == 1, 1.0, -1.0).astype(dtype)[:, None]
    Y = np.full((len(idx), n_classes), 0.0 if one_hot else -1.0, dtype=dtype)
    Y[np.arange(len(idx)), idx] = 1.0
    return Y


def class_weights(class_weight, classes, idx) -> np.ndarray:
    """Return the per-sample multiplier for ``class_weight`` (None, "balanced" or dict)."""
    if class_weight is None:
        return np.ones(len(idx))
    if class_weight == "balanced":
        counts = np.bincount(idx, minlength=len(classes)).astype(np.float64)
        per_class = len(idx) / (len(classes) * np.maximum(counts, 1))
    else:
        per_class = np.ones(len(classes))
        for label, w in class_weight.items():
            pos = np.flatnonzero(classes == label)
            if pos.size == 0:
                raise ValueError(
                    f"class_weight must only name classes present in y; got {label!r}, "
                    f"classes are {classes.tolist()!r}."
                )
            per_class[pos[0]] = w
    return per_class[idx]


def resolve(est, where: str) -> str:
    """Resolve ``backend`` for the ``linear`` kernel (``optim`` exists wherever it does)."""
    return resolve_backend("linear", est.backend, where)


def decision(est, X):
    """Raw scores ``X @ coef_.T + intercept_`` of a fitted linear model."""
    check_is_fitted(est)
    X = check_X(est, X, reset=False, where="")
    coef = est.coef_
    if coef.dtype != X.dtype:
        coef = coef.astype(X.dtype)
    Z = X @ coef.T if coef.ndim == 2 else (X @ coef).reshape(-1, 1)
    if sp.issparse(Z):  # pragma: no cover - X @ dense is dense
        Z = Z.toarray()
    return np.asarray(Z) + np.asarray(est.intercept_, dtype=Z.dtype)


def squeeze_binary(Z: np.ndarray) -> np.ndarray:
    """Scores as returned by ``decision_function``: 1-D for one column, else unchanged."""
    return Z[:, 0] if Z.shape[1] == 1 else Z


def labels_from_scores(classes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Predicted labels: ``classes[1]`` where a 1-D score is positive, else the argmax column."""
    if scores.ndim == 1:
        return classes[(scores > 0).astype(np.intp)]
    return classes[np.argmax(scores, axis=1)]


def logistic_proba(Z: np.ndarray) -> np.ndarray:
    """Probabilities of raw scores: sigmoid of one column (two classes), else softmax."""
    if Z.shape[1] == 1:
        return two_columns(sigmoid(Z[:, 0]))
    return softmax(Z)


def two_columns(p: np.ndarray) -> np.ndarray:
    """``[1 - p, p]``: both class probabilities from the positive-class one."""
    return np.column_stack([1 - p, p])


def log_of(proba: np.ndarray) -> np.ndarray:
    """Natural log of probabilities, ``-inf`` for exact zeros without a warning."""
    with np.errstate(divide="ignore"):
        return np.log(proba)



def _coef_rows(arrays: dict) -> int:
    c = arrays["coef_"]
    return 1 if c.ndim == 1 else c.shape[0]


def _intercept_fits(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
    b = arrays.get("intercept_")
    if b is None:
        return "intercept_" in attrs
    return b.ndim == 1 and len(b) == _coef_rows(arrays)


#: Saved state of a linear model: coef_ (n_features,) or (n_rows, n_features), an intercept
#: per row (a JSON float for a single-output regression), optional classes.
LINEAR_SCHEMA = StateSchema(
    attrs={
        "n_features_in_": Attr(int, dim="n_features", min=1),
        "backend_": Attr(str, options=BACKENDS, optional=True),
        "solver_": Attr(str, optional=True),
        "n_iter_": Attr(int, min=0, optional=True),
        "t_": Attr(float, min=0, optional=True),
        "intercept_": Attr(float, optional=True),
    },
    arrays={
        "coef_": Arr("f8", [("n_features",), ("n_rows", "n_features")]),
        "intercept_": Arr("f8", (None,), optional=True),
        "n_iter_": Arr("i", (None,), optional=True, min=0),
        "feature_names_in_": Arr("U", ("n_features",), optional=True),
    },
    rules=(Rule("array 'intercept_'", "must hold one intercept per coef_ row", _intercept_fits),),
)

#: A linear classifier adds classes_; coef_ has one row for two classes, else one per class.
LINEAR_CLASSIFIER_SCHEMA = LINEAR_SCHEMA.extend(
    arrays={"classes_": Arr("label", ("n_classes",), unique=True)},
    rules=(Rule("array 'coef_'", "must have 1 row for 2 classes, else one row per class",
                lambda d, a, arr, p: d["n_classes"] >= 2 and _coef_rows(arr) == (
                    1 if d["n_classes"] == 2 else d["n_classes"])),),
)

class SparseInputMixin:
    """Declares CSR input support in the estimator tags (mixed in before ``BaseEstimator``)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class LinearClassifierMixin:
    """``predict`` of classifiers whose ``decision_function`` gives one score per class.

    Mixed in before :class:`sklearn.base.ClassifierMixin`; the class defines
    ``decision_function`` and ``classes_``.
    """

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        scores = self.decision_function(X)  # first: it raises NotFittedError before fit
        return labels_from_scores(self.classes_, scores)


def warn_not_converged(where: str, max_iter: int) -> None:
    """Emit scikit-learn's ConvergenceWarning, attributed to the user's line."""
    warnings.warn(
        f"{where}: did not converge within max_iter={max_iter} iterations; increase max_iter "
        "or tol, or scale the features.",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    Z = Z - Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function without overflow."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out
