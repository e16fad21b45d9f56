"""Input signatures: what a served model accepts, inferred from the fitted estimator."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["infer_signature", "v2_datatype"]

_METHODS = ("predict", "predict_proba", "decision_function", "transform")


def v2_datatype(values: np.ndarray) -> str:
    """Open Inference Protocol datatype of an array (``INT64``, ``FP32``, ``FP64``, ``BYTES``, ``BOOL``).

    Parameters
    ----------
    values : ndarray

    Returns
    -------
    datatype : str
    """
    kind = values.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64"
    if kind == "f":
        return "FP32" if values.dtype.itemsize <= 4 else "FP64"
    return "BYTES"


def is_recommender(estimator: Any) -> bool:
    """Whether ``estimator`` is a fitted maaskit recommender (has ids and ``recommend``).

    Parameters
    ----------
    estimator : object

    Returns
    -------
    answer : bool
    """
    try:
        return callable(getattr(estimator, "recommend", None)) and hasattr(estimator, "user_index_")
    except Exception:  # a broken __getattr__ is "not a recommender", never a crash
        return False


def infer_signature(estimator: Any) -> dict:
    """Describe the inputs and methods of a fitted estimator, as stored in the registry.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator: a recommender (ids in, ids out) or a tabular one
        (``n_features_in_`` and ``predict``/``predict_proba``).

    Returns
    -------
    signature : dict
        ``{"kind": "recommender", "user_datatype", "item_datatype", "n_users", "n_items",
        "methods"}`` or ``{"kind": "tabular", "n_features", "datatype", "methods", "classes"}``.
    """
    if is_recommender(estimator):
        return {
            "kind": "recommender",
            "user_datatype": v2_datatype(np.asarray(estimator.user_index_.ids)),
            "item_datatype": v2_datatype(np.asarray(estimator.item_index_.ids)),
            "n_users": int(estimator.n_users_),
            "n_items": int(estimator.n_items_),
            "methods": [m for m in ("recommend", "similar_items", "predict") if callable(getattr(estimator, m, None))],
        }
    classes = getattr(estimator, "classes_", None)
    methods = [m for m in _METHODS if callable(getattr(estimator, m, None))]
    if _takes_text(estimator):
        return {"kind": "text", "datatype": "BYTES", "methods": methods,
                "classes": None if classes is None else np.asarray(classes).tolist()}
    n_features = getattr(estimator, "n_features_in_", None)
    return {
        "kind": "tabular",
        "n_features": None if n_features is None else int(n_features),
        "datatype": "FP64",
        "methods": methods,
        "classes": None if classes is None else np.asarray(classes).tolist(),
    }


def _takes_text(estimator: Any) -> bool:
    # scikit-learn's input tags say whether an estimator takes raw strings (one per sample).
    try:
        from sklearn.utils import get_tags

        tags = get_tags(estimator).input_tags
    except Exception:  # not a scikit-learn estimator: treat as tabular
        return False
    return bool(tags.string and not tags.two_d_array)
