"""Random forests on histogram-binned features.

Kernels: ``tree`` (``bin_data``, ``grow_tree`` with histogram split finding, ``predict``).
Trees are grown in parallel by a thread pool calling the GIL-free kernel; every tree has
its own seed drawn from ``random_state`` up front, so results do not depend on ``n_jobs``.
The forest is stored as flat arrays (one concatenated node table), which persistence
saves without pickle.
"""

from __future__ import annotations

import math
import numbers
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .._backend import get_kernel, resolve_backend
from .._config import effective_n_threads
from ..exceptions import NotFittedError
from .._schema import BACKENDS, Arr, Attr, Forest, Rule, StateSchema
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils._warnings import user_stacklevel
from ._binning import compute_thresholds

_MAX_DEPTH = 2**31 - 1
_CRITERIA = {"gini": 0, "entropy": 1, "log_loss": 1, "squared_error": 2}


def _chunks(n: int, k: int) -> list[tuple[int, int]]:
    k = max(1, min(k, n))
    edges = np.linspace(0, n, k + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]



def _object_labels(name: str, dim: str) -> Rule:
    """classes_/feature_names_in_ saved as a JSON list when they were object arrays."""
    def ok(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
        v = attrs.get(name)
        if v is None:
            return True
        vals = v.get("__object_array__") if isinstance(v, dict) and len(v) == 1 else None
        if not isinstance(vals, list) or not all(isinstance(x, (str, int, float, bool)) for x in vals):
            return False
        if name in arrays or dim in d and d[dim] != len(vals):
            return False
        d.setdefault(dim, len(vals))
        return len(set(vals)) == len(vals)
    return Rule(f"attribute {name!r}", f"must be a list of distinct JSON scalars, one per {dim}", ok)


#: Saved state of a forest: flat trees (see maaskit._schema.Forest), binning thresholds.
_FOREST_SCHEMA = StateSchema(
    attrs={
        "n_features_in_": Attr(int, dim="n_features", min=1),
        "backend_": Attr(str, options=BACKENDS),
        "max_features_": Attr(int, min=1),
        "n_classes_": Attr(int, min=2, optional=True),
        "oob_score_": Attr(float, optional=True),
        "classes_": Attr(dict, optional=True),
        "feature_names_in_": Attr(dict, optional=True),
    },
    arrays={
        "bin_thresholds_": Arr("f8", ("n_features", None)),
        "n_bins_": Arr("i4", ("n_features",), min=1),
        "tree_offsets_": Arr("i8", (None,)),
        "tree_feature_": Arr("i4", ("n_nodes",)),
        "tree_threshold_": Arr("f8", ("n_nodes",), finite=False),
        "tree_left_": Arr("i4", ("n_nodes",)),
        "tree_right_": Arr("i4", ("n_nodes",)),
        "tree_value_": Arr("f8", ("n_nodes", "n_outputs")),
        "tree_impurity_": Arr("f8", ("n_nodes",)),
        "tree_weighted_n_node_samples_": Arr("f8", ("n_nodes",), min=0),
        "tree_n_node_samples_": Arr("i8", ("n_nodes",), min=0),
        "feature_importances_": Arr("f8", ("n_features",)),
        "classes_": Arr("label", ("n_classes",), unique=True, optional=True),
        "feature_names_in_": Arr("U", ("n_features",), optional=True),
        "oob_decision_function_": Arr("f8", (None, "n_outputs"), finite=False, optional=True),
        "oob_prediction_": Arr("f8", (None,), finite=False, optional=True),
    },
    rules=(
        Forest(),
        Rule("array 'n_bins_'", "bins per feature must fit bin_thresholds_ (at most its columns + 1)",
             lambda d, a, arr, p: int(arr["n_bins_"].max(initial=1)) <= arr["bin_thresholds_"].shape[1] + 1),
        _object_labels("classes_", "n_classes"),
        _object_labels("feature_names_in_", "n_features"),
    ),
)

#: A classifier's leaves hold one value per class.
_FOREST_CLASSIFIER_SCHEMA = _FOREST_SCHEMA.extend(rules=(
    Rule("array 'tree_value_'", "must have one column per class",
         lambda d, a, arr, p: d["n_outputs"] == d["n_classes"] == a.get("n_classes_", d["n_classes"])),
))
_FOREST_REGRESSOR_SCHEMA = _FOREST_SCHEMA.extend(rules=(
    Rule("array 'tree_value_'", "a regressor has no classes",
         lambda d, a, arr, p: "classes_" not in arr and "classes_" not in a),
))

class _BaseForest(PersistableMixin, BaseEstimator):
    """Shared fit/predict machinery of the random forests (not for direct use)."""

    _parameter_constraints: dict = {
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_depth": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_samples_split": [Interval(numbers.Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_features": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0.0, 1.0, closed="right"),
            Options(frozenset({"sqrt", "log2"})),
            None,
        ],
        "max_bins": [Interval(numbers.Integral, 2, 256, closed="both")],
        "min_impurity_decrease": [Interval(numbers.Real, 0.0, None, closed="left")],
        "bootstrap": ["boolean"],
        "max_samples": [
            None,
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0.0, 1.0, closed="right"),
        ],
        "oob_score": ["boolean"],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": [numbers.Integral, "boolean"],
        "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
    }

    _is_classifier = False

    def __init__(self, n_estimators: int = 100, *, criterion: str = "gini",
                 max_depth: int | None = None, min_samples_split: int = 2,
                 min_samples_leaf: int = 1, max_features: Any = "sqrt", max_bins: int = 255,
                 min_impurity_decrease: float = 0.0, bootstrap: bool = True,
                 max_samples: Any = None, oob_score: bool = False, n_jobs: int | None = None,
                 random_state: Any = None, verbose: int = 0, backend: str = "auto") -> None:
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.max_bins = max_bins
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.max_samples = max_samples
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend

    # ------------------------------------------------------------------ helpers
    @property
    def _name(self) -> str:
        return type(self).__name__

    def _validate_X(self, X, *, reset: bool, method: str, y: Any = "no_validation"):
        kw: dict[str, Any] = dict(reset=reset, dtype=[np.float64, np.float32],
                                  ensure_all_finite=True, order="C")
        try:
            if isinstance(y, str) and y == "no_validation":
                return validate_data(self, X, **kw)
            return validate_data(self, X, y, y_numeric=not self._is_classifier, **kw)
        except ValueError as exc:
            if "could not convert" in str(exc):
                raise ValueError(
                    f"{self._name}.{method}: X must be numeric; got a non-numeric value "
                    f"({exc}). Encode string features first, e.g. with "
                    f"sklearn.preprocessing.OrdinalEncoder."
                ) from None
            raise

    def _resolve_max_features(self, p: int) -> int:
        mf = self.max_features
        if mf is None:
            return p
        if mf == "sqrt":
            return max(1, int(math.sqrt(p)))
        if mf == "log2":
            return max(1, int(math.log2(p)))
        if isinstance(mf, numbers.Integral):
            if mf > p:
                raise ValueError(
                    f"{self._name}.fit: max_features must be <= n_features ({p}); got {mf!r}."
                )
            return int(mf)
        return max(1, int(mf * p))

    def _n_bootstrap(self, n: int) -> int:
        ms = self.max_samples
        if ms is None:
            return n
        if isinstance(ms, numbers.Integral):
            if ms > n:
                raise ValueError(
                    f"{self._name}.fit: max_samples must be <= n_samples ({n}); got {ms!r}."
                )
            return int(ms)
        return max(1, round(ms * n))

    def _bootstrap_counts(self, seed: int, n: int, n_boot: int) -> np.ndarray:
        if not self.bootstrap:
            return np.ones(n, dtype=np.float64)
        draws = np.random.RandomState(seed).randint(0, n, n_boot)
        return np.bincount(draws, minlength=n).astype(np.float64)

    def _bin(self, X: np.ndarray, kern, pool: ThreadPoolExecutor, n_threads: int) -> np.ndarray:
        Xb = np.empty(X.shape, dtype=np.uint8)

        def run(ab):
            a, b = ab
            kern.bin_data(X[a:b], self.bin_thresholds_, self.n_bins_ - 1, Xb[a:b])

        list(pool.map(run, _chunks(X.shape[0], n_threads)))
        return Xb

    def _fit(self, X, y_enc: np.ndarray, n_classes: int) -> None:
        n, p = X.shape
        name = self._name
        self.backend_ = resolve_backend("tree", self.backend, f"{name}.fit")
        kern = get_kernel("tree", self.backend_)
        if self.oob_score and not self.bootstrap:
            raise ValueError(
                f"{name}.fit: oob_score=True needs bootstrap=True (out-of-bag samples "
                f"exist only with bootstrap); got bootstrap=False."
            )
        self.max_features_ = self._resolve_max_features(p)
        n_boot = self._n_bootstrap(n)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_estimators)
        self.bin_thresholds_, n_thr = compute_thresholds(X, self.max_bins, rng)
        self.n_bins_ = (n_thr + 1).astype(np.int32)
        n_threads = effective_n_threads(self.n_jobs)
        criterion = _CRITERIA[self.criterion]
        max_depth = _MAX_DEPTH if self.max_depth is None else int(self.max_depth)
        yf = np.ascontiguousarray(y_enc, dtype=np.float64)

        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            Xb = self._bin(X, kern, pool, n_threads)

            def grow(t: int):
                counts = self._bootstrap_counts(int(seeds[t]), n, n_boot)
                samples = np.flatnonzero(counts)
                out = kern.grow_tree(Xb, self.n_bins_, yf, n_classes, samples, counts,
                                     self.max_features_, max_depth, int(self.min_samples_split),
                                     int(self.min_samples_leaf),
                                     float(self.min_impurity_decrease), criterion, int(seeds[t]))
                if self.verbose:
                    print(f"{name}: tree {t + 1}/{self.n_estimators}, {len(out[0])} nodes")
                return out

            trees = list(pool.map(grow, range(self.n_estimators)))
        self._assemble(trees)
        if self.oob_score:
            self._compute_oob(X, y_enc, seeds, n_boot, kern)

    def _assemble(self, trees: list) -> None:
        sizes = np.array([len(t[0]) for t in trees], dtype=np.int64)
        offsets = np.zeros(len(trees) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        feature = np.concatenate([t[0] for t in trees]).astype(np.int32)
        bins = np.concatenate([t[1] for t in trees])
        left = np.concatenate([np.where(t[2] >= 0, t[2] + o, -1) for t, o in zip(trees, offsets)])
        right = np.concatenate([np.where(t[3] >= 0, t[3] + o, -1) for t, o in zip(trees, offsets)])
        is_split = feature >= 0
        threshold = np.full(len(feature), np.inf)
        threshold[is_split] = self.bin_thresholds_[feature[is_split], bins[is_split]]
        self.tree_offsets_ = offsets
        self.tree_feature_ = feature
        self.tree_threshold_ = threshold
        self.tree_left_ = left.astype(np.int32)
        self.tree_right_ = right.astype(np.int32)
        self.tree_value_ = np.concatenate([t[4] for t in trees])
        self.tree_impurity_ = np.concatenate([t[5] for t in trees])
        self.tree_weighted_n_node_samples_ = np.concatenate([t[6] for t in trees])
        self.tree_n_node_samples_ = np.concatenate([t[7] for t in trees]).astype(np.int64)
        self.feature_importances_ = self._importances()

    def _importances(self) -> np.ndarray:
        # Mean decrease in impurity, normalised per tree and overall (as scikit-learn).
        p = self.n_features_in_
        n_trees = len(self.tree_offsets_) - 1
        feat, left, right = self.tree_feature_, self.tree_left_, self.tree_right_
        w, imp = self.tree_weighted_n_node_samples_, self.tree_impurity_
        tree_of = np.repeat(np.arange(n_trees), np.diff(self.tree_offsets_))
        nodes = np.flatnonzero(feat >= 0)
        l, r = left[nodes], right[nodes]
        dec = w[nodes] * imp[nodes] - w[l] * imp[l] - w[r] * imp[r]
        per_tree = np.bincount(tree_of[nodes] * p + feat[nodes], weights=dec,
                               minlength=n_trees * p).astype(np.float64).reshape(n_trees, p)
        sums = per_tree.sum(axis=1, keepdims=True)
        per_tree = np.divide(per_tree, sums, out=np.zeros_like(per_tree), where=sums > 0)
        total = per_tree.sum(axis=0)
        s = total.sum()
        return total / s if s > 0 else total

    def _raw_predict(self, X: np.ndarray, kern, roots: np.ndarray, n_out: int) -> np.ndarray:
        out = np.zeros((X.shape[0], n_out), dtype=np.float64)
        n_threads = effective_n_threads(self.n_jobs)
        args = (self.tree_feature_, self.tree_threshold_, self.tree_left_, self.tree_right_,
                self.tree_value_, roots)

        def run(ab):
            a, b = ab
            kern.predict(X[a:b], *args, out[a:b])

        chunks = _chunks(X.shape[0], n_threads)
        if len(chunks) > 1 and X.shape[0] * len(roots) > 20_000:
            with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
                list(pool.map(run, chunks))
        else:
            for ab in chunks:
                run(ab)
        return out

    def _compute_oob(self, X, y_enc, seeds, n_boot, kern) -> None:
        n = X.shape[0]
        n_out = self.tree_value_.shape[1]
        acc = np.zeros((n, n_out))
        hits = np.zeros(n, dtype=np.int64)
        for t, seed in enumerate(seeds):
            oob = np.flatnonzero(self._bootstrap_counts(int(seed), n, n_boot) == 0)
            if len(oob) == 0:
                continue
            part = np.zeros((len(oob), n_out))
            kern.predict(np.ascontiguousarray(X[oob]), self.tree_feature_, self.tree_threshold_,
                         self.tree_left_, self.tree_right_, self.tree_value_,
                         self.tree_offsets_[t:t + 1], part)
            acc[oob] += part
            hits[oob] += 1
        seen = hits > 0
        if not seen.all():
            warnings.warn(
                f"{self._name}.fit: {int((~seen).sum())} samples were never out of bag; "
                f"they are left out of oob_score_ (use more estimators).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            oob_pred = acc / hits[:, None]
        self._set_oob(oob_pred, y_enc, seen)

    def _check_predict_input(self, X, method: str):
        if not hasattr(self, "tree_offsets_"):
            raise NotFittedError(
                f"{self._name}.{method}: this {self._name} instance is not fitted yet; "
                f"call fit first."
            )
        X = self._validate_X(X, reset=False, method=method)
        return X, get_kernel("tree", self.backend_)

    def _mean_tree_output(self, X, method: str) -> np.ndarray:
        """Validated ``X`` -> mean over the trees of their leaf values, (n_samples, n_out)."""
        X, kern = self._check_predict_input(X, method)
        # n_out read only after the fitted check, so an unfitted forest says NotFittedError
        out = self._raw_predict(X, kern, self.tree_offsets_[:-1], self.tree_value_.shape[1])
        out /= len(self.tree_offsets_) - 1
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        saved = {}
        for name in ("classes_", "feature_names_in_"):
            value = getattr(self, name, None)
            if isinstance(value, np.ndarray) and value.dtype.hasobject:
                saved[name] = value
                delattr(self, name)
        try:
            attrs, arrays = super()._get_state()
        finally:
            for name, value in saved.items():
                setattr(self, name, value)
        for name, value in saved.items():
            attrs[name] = {"__object_array__": value.tolist()}
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        plain = {}
        for name, value in attrs.items():
            if isinstance(value, dict) and "__object_array__" in value:
                arr = np.empty(len(value["__object_array__"]), dtype=object)
                arr[:] = value["__object_array__"]
                setattr(self, name, arr)
            else:
                plain[name] = value
        super()._set_state(plain, arrays)


_SHARED_PARAMS = """
    max_depth : int, default=None
        Maximum depth of each tree; ``None`` grows until leaves are pure or hold fewer
        than ``min_samples_split`` samples.
    min_samples_split : int, default=2
        Minimum number of (distinct) samples a node needs to be split.
    min_samples_leaf : int, default=1
        Minimum number of (distinct) samples in each leaf.
    max_features : {{"sqrt", "log2"}}, int, float or None, default={mf}
        Features drawn per split: ``"sqrt"``/``"log2"`` of ``n_features``, an int, a
        fraction of ``n_features``, or all (``None``). When none of the drawn features
        gives a valid split, more are drawn.
    max_bins : int, default=255
        Maximum number of histogram bins per feature (2..256). Features with at most
        ``max_bins`` distinct values are split exactly as on raw values.
    min_impurity_decrease : float, default=0.0
        A node is split only if the weighted impurity decrease, divided by the root's
        weight, is at least this.
    bootstrap : bool, default=True
        Grow each tree on a bootstrap sample (else on all samples).
    max_samples : int, float or None, default=None
        Bootstrap sample size: ``n_samples`` (``None``), a count, or a fraction.
    oob_score : bool, default=False
        Score the forest on out-of-bag samples after fitting.
    n_jobs : int, default=None
        Threads growing trees and predicting; ``None`` uses maaskit's ``n_threads`` setting
        (all cores by default), ``-1`` all cores. Results do not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap samples, feature draws and bin subsampling.
    verbose : int, default=0
        Print one line per tree when positive.
    backend : {{"auto", "cython", "numba", "numpy"}}, default="auto"
        Kernel implementation (all build identical trees; ``"numpy"`` is slow)."""

_SHARED_ATTRS = """
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Normalised mean decrease in impurity per feature.
    max_features_ : int
        Resolved number of features drawn per split.
    bin_thresholds_ : ndarray of shape (n_features_in_, max_bins - 1)
        Bin thresholds per feature (the first ``n_bins_[f] - 1`` are used).
    n_bins_ : ndarray of shape (n_features_in_,)
        Number of bins per feature.
    tree_offsets_ : ndarray of shape (n_estimators + 1,)
        Tree ``t`` owns nodes ``tree_offsets_[t]:tree_offsets_[t + 1]`` (its root first).
    tree_feature_ : ndarray of shape (n_nodes,)
        Split feature per node, -1 at leaves.
    tree_threshold_ : ndarray of shape (n_nodes,)
        Go left when ``x[feature] <= threshold`` (``inf`` at leaves).
    tree_left_, tree_right_ : ndarray of shape (n_nodes,)
        Global child node ids, -1 at leaves.
    tree_value_ : ndarray of shape (n_nodes, n_outputs)
        Node prediction: class probabilities or mean target.
    tree_impurity_ : ndarray of shape (n_nodes,)
        Node impurity.
    tree_weighted_n_node_samples_ : ndarray of shape (n_nodes,)
        Weighted (bootstrap-count) samples per node.
    tree_n_node_samples_ : ndarray of shape (n_nodes,)
        Distinct samples per node.
    backend_ : str
        Kernel backend used."""


@register
class RandomForestClassifier(ClassifierMixin, _BaseForest):
    __doc__ = (
        """A random forest classifier grown on histogram-binned features.

    Each tree is grown on a bootstrap sample; each split searches ``max_features`` randomly
    drawn features over at most ``max_bins`` bins. ``predict_proba`` averages the trees'
    leaf class frequencies.

    Parameters
    ----------
    n_estimators : int, default=100
        Number of trees.
    criterion : {"gini", "entropy", "log_loss"}, default="gini"
        Split quality measure (``"log_loss"`` equals ``"entropy"``).""" + _SHARED_PARAMS.format(mf='"sqrt"') + """

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_classes_ : int
        Number of classes.
    oob_score_ : float
        Out-of-bag accuracy (only with ``oob_score=True``).
    oob_decision_function_ : ndarray of shape (n_samples, n_classes)
        Out-of-bag class probabilities (NaN for samples never out of bag; only with
        ``oob_score=True``).""" + _SHARED_ATTRS + """

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from maaskit.ensemble import RandomForestClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    """
    )

    _is_classifier = True
    _state_schema = _FOREST_CLASSIFIER_SCHEMA
    _parameter_constraints = {
        **_BaseForest._parameter_constraints,
        "criterion": [Options(frozenset({"gini", "entropy", "log_loss"}))],
    }

    def __init__(self, n_estimators: int = 100, *, criterion: str = "gini",
                 max_depth: int | None = None, min_samples_split: int = 2,
                 min_samples_leaf: int = 1, max_features: Any = "sqrt", max_bins: int = 255,
                 min_impurity_decrease: float = 0.0, bootstrap: bool = True,
                 max_samples: Any = None, oob_score: bool = False, n_jobs: int | None = None,
                 random_state: Any = None, verbose: int = 0, backend: str = "auto") -> None:
        super().__init__(n_estimators, criterion=criterion, max_depth=max_depth,
                         min_samples_split=min_samples_split, min_samples_leaf=min_samples_leaf,
                         max_features=max_features, max_bins=max_bins,
                         min_impurity_decrease=min_impurity_decrease, bootstrap=bootstrap,
                         max_samples=max_samples, oob_score=oob_score, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose, backend=backend)

    def fit(self, X, y) -> "RandomForestClassifier":
        """Grow the forest on ``X`` and class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data (no NaN or inf).
        y : array-like of shape (n_samples,)
            Class labels of any sortable type; at least two classes.

        Returns
        -------
        self : RandomForestClassifier
            The fitted forest.
        """
        validate_parameters(self)
        X, y = self._validate_X(X, reset=True, method="fit", y=y)
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{self._name}.fit: y must contain at least 2 classes; got 1 class "
                f"({np.asarray(classes[:1]).tolist()[0]!r}). A classifier needs examples of "
                f"two or more classes."
            )
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self._fit(X, y_enc, len(classes))
        return self

    def _set_oob(self, oob_pred: np.ndarray, y_enc: np.ndarray, seen: np.ndarray) -> None:
        self.oob_decision_function_ = oob_pred
        self.oob_score_ = float(accuracy_score(y_enc[seen], np.argmax(oob_pred[seen], axis=1)))

    def predict_proba(self, X) -> np.ndarray:
        """Mean class probabilities of the trees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities in the order of ``classes_``.
        """
        return self._mean_tree_output(X, "predict_proba")

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log class probabilities (``-inf`` where a probability is 0).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels (from ``classes_``).
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


@register
class RandomForestRegressor(RegressorMixin, _BaseForest):
    __doc__ = (
        """A random forest regressor grown on histogram-binned features.

    Each tree is grown on a bootstrap sample with squared-error splits over at most
    ``max_bins`` bins per feature; the prediction is the mean of the trees' leaf means.

    Parameters
    ----------
    n_estimators : int, default=100
        Number of trees.
    criterion : {"squared_error"}, default="squared_error"
        Split quality measure.""" + _SHARED_PARAMS.format(mf="1.0") + """

    Attributes
    ----------
    oob_score_ : float
        Out-of-bag R^2 (only with ``oob_score=True``).
    oob_prediction_ : ndarray of shape (n_samples,)
        Out-of-bag predictions (NaN for samples never out of bag; only with
        ``oob_score=True``).""" + _SHARED_ATTRS + """

    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.ensemble import RandomForestRegressor
    >>> X = np.arange(20, dtype=float).reshape(-1, 1)
    >>> reg = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, X.ravel() > 9)
    >>> reg.predict([[0.0], [19.0]])
    array([0., 1.])
    """
    )

    _state_schema = _FOREST_REGRESSOR_SCHEMA
    _parameter_constraints = {
        **_BaseForest._parameter_constraints,
        "criterion": [Options(frozenset({"squared_error"}))],
    }

    def __init__(self, n_estimators: int = 100, *, criterion: str = "squared_error",
                 max_depth: int | None = None, min_samples_split: int = 2,
                 min_samples_leaf: int = 1, max_features: Any = 1.0, max_bins: int = 255,
                 min_impurity_decrease: float = 0.0, bootstrap: bool = True,
                 max_samples: Any = None, oob_score: bool = False, n_jobs: int | None = None,
                 random_state: Any = None, verbose: int = 0, backend: str = "auto") -> None:
        super().__init__(n_estimators, criterion=criterion, max_depth=max_depth,
                         min_samples_split=min_samples_split, min_samples_leaf=min_samples_leaf,
                         max_features=max_features, max_bins=max_bins,
                         min_impurity_decrease=min_impurity_decrease, bootstrap=bootstrap,
                         max_samples=max_samples, oob_score=oob_score, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose, backend=backend)

    def fit(self, X, y) -> "RandomForestRegressor":
        """Grow the forest on ``X`` and numeric targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data (no NaN or inf).
        y : array-like of shape (n_samples,)
            Numeric targets.

        Returns
        -------
        self : RandomForestRegressor
            The fitted forest.
        """
        validate_parameters(self)
        X, y = self._validate_X(X, reset=True, method="fit", y=y)
        self._fit(X, np.asarray(y, dtype=np.float64), 0)
        return self

    def _set_oob(self, oob_pred: np.ndarray, y: np.ndarray, seen: np.ndarray) -> None:
        self.oob_prediction_ = oob_pred[:, 0]
        self.oob_score_ = float(r2_score(y[seen], self.oob_prediction_[seen]))

    def predict(self, X) -> np.ndarray:
        """Mean of the trees' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted targets.
        """
        return self._mean_tree_output(X, "predict")[:, 0]
