"""Input signatures: what a served model accepts, inferred from the fitted estimator."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["infer_signature", "v2_datatype", "feature_encoder"]

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


def word_vectors(estimator: Any) -> Any:
    """The fitted word vectors of a Word2Vec-like estimator (``wv_`` with ``most_similar``), or ``None``.

    Parameters
    ----------
    estimator : object

    Returns
    -------
    wv : KeyedVectors or None
    """
    try:
        wv = estimator.__dict__.get("wv_")
        return wv if callable(getattr(wv, "most_similar", None)) and hasattr(wv, "key_to_index") else None
    except Exception:  # a broken object is "no word vectors", never a crash
        return None


def feature_encoder(estimator: Any, kind: str) -> Any:
    """The fitted ``FeatureEncoder`` of a hybrid recommender's users or items, or ``None``.

    Looks at ``<kind>_encoder_`` of the estimator, or of the model a
    :class:`~maaskit.recommender.Recommender` wraps.

    Parameters
    ----------
    estimator : object
    kind : {"user", "item"}

    Returns
    -------
    encoder : FeatureEncoder or None
    """
    try:
        inner = estimator.__dict__.get("estimator_", estimator)
        enc = inner.__dict__.get(f"{kind}_encoder_")
        return enc if callable(getattr(enc, "feature_schema", None)) and "kinds_" in vars(enc) else None
    except Exception:  # a broken object has no encoder, never a crash
        return None


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
        "methods"}`` (plus ``"user_features"`` / ``"item_features"``, lists of
        ``{"name", "kind"}``, for a hybrid model with feature encoders), ``{"kind": "word_vectors", "n_words", "vector_size", "methods"}`` (served by
        ``/v1/similar`` and ``/v1/vector``) or ``{"kind": "tabular", "n_features", "datatype",
        "methods", "classes"}``,
        plus ``"input_shape"`` (per sample, e.g. ``[28, 28]``) and ``"input_shapes"`` (every
        per-sample shape accepted) for estimators that take n-d input such as images;
        ``-1`` marks an axis of any length (a clip's frames: ``[-1, 8, 8]`` for a CRNN).
    """
    if is_recommender(estimator):
        sig = {
            "kind": "recommender",
            "user_datatype": v2_datatype(np.asarray(estimator.user_index_.ids)),
            "item_datatype": v2_datatype(np.asarray(estimator.item_index_.ids)),
            "n_users": int(estimator.n_users_),
            "n_items": int(estimator.n_items_),
            "methods": [m for m in ("recommend", "similar_items", "predict") if callable(getattr(estimator, m, None))],
        }
        # A hybrid model records the columns (and kinds) its feature encoders take: what a
        # new user's payload to POST /v1/recommend may hold.
        for kind in ("user", "item"):
            enc = feature_encoder(estimator, kind)
            if enc is not None:
                sig[f"{kind}_features"] = enc.feature_schema()["columns"]
        if "user_features" in sig:
            sig["methods"].append("recommend_new_user")
        return sig
    wv = word_vectors(estimator)
    if wv is not None:
        return {"kind": "word_vectors", "datatype": "BYTES", "n_words": len(wv), "vector_size": int(wv.vector_size),
                "methods": ["similar", "vector"]}
    classes = getattr(estimator, "classes_", None)
    methods = [m for m in _METHODS if callable(getattr(estimator, m, None))]
    if _takes_text(estimator):
        return {"kind": "text", "datatype": "BYTES", "methods": methods,
                "classes": None if classes is None else np.asarray(classes).tolist()}
    n_features = getattr(estimator, "n_features_in_", None)
    sig = {
        "kind": "tabular",
        "n_features": None if n_features is None else int(n_features),
        "datatype": "FP64",
        "methods": methods,
        "classes": None if classes is None else np.asarray(classes).tolist(),
    }
    shapes = _sample_shapes(estimator)
    if shapes:
        # What the model accepts per sample, first the natural one: a CNN fitted on
        # (n, 28, 28) images takes (n, 28, 28), (n, 1, 28, 28) and flat (n, 784) rows.
        sig["input_shape"] = shapes[0]
        sig["input_shapes"] = shapes
    return sig


def _sample_shapes(estimator: Any) -> list[list[int]] | None:
    """Per-sample shapes an n-d estimator (``input_shape_``, 3-D input tag) accepts, or ``None``."""
    shape = getattr(estimator, "input_shape_", None)
    if shape is None:
        return None
    try:
        from sklearn.utils import get_tags

        nd = bool(get_tags(estimator).input_tags.three_d_array)
    except Exception:  # not a scikit-learn estimator: flat rows only
        nd = False
    shape = [int(s) for s in shape]
    if not nd or len(shape) < 2:
        return None
    # axes of any length (a clip's frame count): -1, the V2 metadata's own convention
    fixed = list(shape)
    for axis in getattr(estimator, "_variable_sample_axes", ()):
        shape[axis] = -1
    shapes = []
    if len(shape) == 3 and shape[0] == 1:
        shapes.append(shape[1:])  # single-channel images: (h, w), as they are usually given
    if len(shape) == 4 and shape[1] == 1:
        shapes.append([shape[0], *shape[2:]])  # single-channel clips: (T, h, w)
    shapes.append(shape)
    n_features = getattr(estimator, "n_features_in_", None)
    shape = fixed
    if n_features is not None and len(shape) == 3 and shape[0] == 1 and (shape[1] == shape[2] or shape[1] == 1):
        shapes.append([int(n_features)])  # flat rows, reshaped by the estimator
    return shapes


def _takes_text(estimator: Any) -> bool:
    # scikit-learn's input tags say whether an estimator takes raw strings (one per sample).
    try:
        from sklearn.utils import get_tags

        tags = get_tags(estimator).input_tags
    except Exception:  # not a scikit-learn estimator: treat as tabular
        return False
    return bool(tags.string and not tags.two_d_array)
