"""scikit-learn pipelines and transformers inside maaskit artifacts, without pickle.

Why skops, and how it is fenced in
----------------------------------
scikit-learn objects keep much of their fitted state in private attributes that change
between releases (``OneHotEncoder._infrequent_enabled``, ``ColumnTransformer.
_name_to_fitted_passthrough`` ...). Writing our own schema for each would mean chasing those
internals; `skops <https://skops.readthedocs.io>`_ is the maintained library that persists
scikit-learn objects as JSON plus ``.npy`` arrays without pickle. So the scikit-learn parts of
an artifact are a skops blob, and the maaskit parts keep maaskit's own format:

* **maaskit estimators inside** (a ``Pipeline`` step, a ``ColumnTransformer`` transformer)
  are cut out before skops sees the object, replaced by a placeholder string, and saved with
  their own state and checked by their own schema (:mod:`maaskit._schema`) when loaded;
  skops never rebuilds a maaskit object.
* **The same allow-list principle** as for maaskit classes: before skops loads anything, every
  type named in its ``schema.json`` must be in :data:`SKLEARN_TYPES` (scikit-learn pipeline
  and preprocessing classes) or :data:`PLAIN_TYPES` (containers, numpy arrays and scalar
  types), and only plain skops node kinds are accepted (no functions, methods or
  operators: a ``FunctionTransformer(func=...)`` is refused). skops is then called with
  exactly those types as ``trusted``. The outer container's checksum, signature and size
  bounds cover the blob, and the blob's own zip directory is bounded before it is opened.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from .exceptions import ArtifactError

__all__ = ["SKLEARN_TYPES", "PLAIN_TYPES", "sklearn_key", "get_state", "set_state"]

#: scikit-learn classes an artifact may hold (module where the class is defined . name).
SKLEARN_TYPES = frozenset({
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._target.TransformedTargetRegressor",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.Normalizer",
    "sklearn.preprocessing._data.Binarizer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",  # only with func=None
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.decomposition._pca.PCA",
    "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.feature_selection._variance_threshold.VarianceThreshold",
})
#: Plain types skops may rebuild besides those classes.
PLAIN_TYPES = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int",
    "builtins.float", "builtins.bool", "builtins.slice", "builtins.NoneType",
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.float32", "numpy.float16",
    "numpy.int64", "numpy.int32", "numpy.int16", "numpy.int8", "numpy.uint64", "numpy.uint32",
    "numpy.uint16", "numpy.uint8", "numpy.bool_", "numpy.bool", "numpy.str_", "numpy.object_",
})
# skops node kinds that only rebuild data (no FunctionNode, MethodNode, OperatorFuncNode ...)
_PLAIN_NODES = frozenset({"DictNode", "ListNode", "TupleNode", "JsonNode", "SliceNode", "TypeNode",
                          "NdArrayNode", "DTypeNode", "ObjectNode", "NoneNode"})
PLACEHOLDER = "__maaskit_part_{}__"


def _skops():
    try:
        import skops.io as sio
    except ImportError:
        raise ImportError("Saving or loading a scikit-learn pipeline needs skops: "
                          "pip install 'maaskit[pipelines]'.") from None
    return sio


def _full_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def sklearn_key(obj: Any) -> str | None:
    """The allow-list key of a scikit-learn object, ``None`` when it is not allowed."""
    name = _full_name(type(obj))
    return name if name in SKLEARN_TYPES else None


def _is_maaskit(obj: Any) -> bool:
    from ._allow_list import _REGISTRY

    return any(type(obj) is c for c in _REGISTRY.values())


def _cut(obj: Any, parts: list, undo: list) -> Any:
    """Replace maaskit estimators inside ``obj`` by placeholders (in place, undo logged)."""
    if _is_maaskit(obj):
        parts.append(obj)
        return PLACEHOLDER.format(len(parts) - 1)
    if isinstance(obj, list):
        return [_cut(v, parts, undo) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_cut(v, parts, undo) for v in obj)
    if isinstance(obj, dict):
        return {k: _cut(v, parts, undo) for k, v in obj.items()}
    if type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        for k, v in list(vars(obj).items()):
            new = _cut(v, parts, undo)
            if new is not v:
                undo.append((obj, k, v))
                setattr(obj, k, new)
    return obj


def _paste(obj: Any, parts: list) -> Any:
    """Put the loaded maaskit estimators back where the placeholders are."""
    if isinstance(obj, str) and obj.startswith("__maaskit_part_") and obj.endswith("__"):
        try:
            return parts[int(obj[len("__maaskit_part_"):-2])]
        except (ValueError, IndexError):
            raise ArtifactError(f"load: unknown maaskit part {obj!r} in a scikit-learn object.") from None
    if isinstance(obj, list):
        return [_paste(v, parts) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_paste(v, parts) for v in obj)
    if isinstance(obj, dict):
        return {k: _paste(v, parts) for k, v in obj.items()}
    if type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        for k, v in list(vars(obj).items()):
            new = _paste(v, parts)
            if new is not v:
                setattr(obj, k, new)
    return obj


def get_state(obj: Any, class_key) -> tuple[dict, dict[str, np.ndarray]]:
    """Attrs and arrays of an allow-listed scikit-learn object (see the module docstring)."""
    sio = _skops()
    parts: list = []
    undo: list = []
    try:
        _cut(obj, parts, undo)
        blob = sio.dumps(obj)
    finally:
        for o, k, v in reversed(undo):
            setattr(o, k, v)
    names = _types_in(blob, where="save")
    bad = sorted(n for n in names if n not in SKLEARN_TYPES and n not in PLAIN_TYPES)
    if bad:
        raise ArtifactError(f"save: {type(obj).__name__} holds objects that cannot be saved without "
                            f"pickle: {bad}; allowed scikit-learn classes are {sorted(SKLEARN_TYPES)}.")
    attrs: dict[str, Any] = {"parts": []}
    arrays: dict[str, np.ndarray] = {"skops": np.frombuffer(blob, dtype=np.uint8)}
    for i, part in enumerate(parts):
        p_attrs, p_arrays = part._get_state()
        attrs["parts"].append({"class": class_key(part), "params": part.get_params(deep=False),
                               "attrs": p_attrs})
        arrays.update({f"part{i}__{k}": v for k, v in p_arrays.items()})
    return attrs, arrays


def _types_in(blob: bytes, max_bytes: int | None = None, where: str = "load") -> set[str]:
    """Every type named in a skops blob's schema, checking node kinds and the zip's size."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(blob))
        infos = zf.infolist()
        if max_bytes is not None and sum(i.file_size for i in infos) > max_bytes:
            raise ArtifactError(f"load: the scikit-learn part declares more than {max_bytes} bytes.")
        schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ArtifactError(f"load: corrupt scikit-learn part ({type(exc).__name__}: {exc}).") from None
    names: set[str] = set()
    stack = [schema]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            if "__class__" in o:
                loader = o.get("__loader__")
                if loader not in _PLAIN_NODES:
                    raise ArtifactError(f"{where}: the scikit-learn part holds a {loader!r} "
                                        f"({o.get('__module__')}.{o.get('__class__')}); only data "
                                        "and allow-listed classes can be loaded.")
                names.add(f"{o.get('__module__')}.{o['__class__']}")
            if o.get("__loader__") == "TypeNode" and isinstance(o.get("content"), dict):
                c = o["content"]
                names.add(f"{c.get('__module__')}.{c.get('__class__')}")
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return names


def set_state(attrs: dict, arrays: dict[str, np.ndarray], max_bytes: int) -> Any:
    """Rebuild a scikit-learn object saved by :func:`get_state`, parts checked by their schema."""
    from ._schema import check_state
    from ._allow_list import _resolve

    if set(attrs) != {"parts"} or not isinstance(attrs["parts"], list):
        raise ArtifactError("load: a scikit-learn artifact's attrs must be exactly {'parts': [...]}.")
    raw = arrays.get("skops")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ArtifactError("load: a scikit-learn artifact needs its 'skops' byte array.")
    known = {"skops"} | {k for k in arrays if k.startswith("part") and "__" in k}
    if set(arrays) - known:
        raise ArtifactError(f"load: unexpected arrays {sorted(set(arrays) - known)}.")
    blob = raw.tobytes()
    names = _types_in(blob, max_bytes)
    bad = sorted(n for n in names if n not in SKLEARN_TYPES and n not in PLAIN_TYPES)
    if bad:
        raise ArtifactError(f"load: the scikit-learn part names types outside the allow-list: {bad}.")
    parts = []
    for i, spec in enumerate(attrs["parts"]):
        if not isinstance(spec, dict) or set(spec) != {"class", "params", "attrs"}:
            raise ArtifactError(f"load: part {i} must have exactly 'class', 'params' and 'attrs'.")
        cls = _resolve(spec["class"])
        if cls is None or not isinstance(spec["params"], dict) or not isinstance(spec["attrs"], dict):
            raise ArtifactError(f"load: part {i}: class {spec['class']!r} is not a loadable maaskit estimator.")
        prefix = f"part{i}__"
        p_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        params = check_state(cls, spec["params"], spec["attrs"], p_arrays)
        est = cls(**params)
        est._set_state(spec["attrs"], p_arrays)
        parts.append(est)
    sio = _skops()
    try:
        obj = sio.loads(blob, trusted=sorted(names))
    except Exception as exc:  # skops raises many kinds on corrupt input
        raise ArtifactError(f"load: corrupt scikit-learn part ({type(exc).__name__}: {exc}).") from None
    return _paste(obj, parts)
