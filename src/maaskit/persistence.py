"""Safe persistence: a model is one ``.npz`` file of plain arrays plus a JSON header.

Nothing is ever unpickled (``allow_pickle=False``). The header records a format version,
the estimator's class (resolved through an allow-list that lives here, in maaskit's code,
never in the artifact), its hyper-parameters, JSON-able fitted attributes and a SHA-256
over every array (name, dtype, shape and bytes). A foreign, truncated or tampered file gives
:class:`~maaskit.exceptions.ArtifactError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from .exceptions import ArtifactError

__all__ = ["save", "load", "dumps", "loads", "register", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_HEADER = "__maaskit__"
_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register(estimator_class: T) -> T:
    """Class decorator: allow ``estimator_class`` to be loaded from an artifact.

    Parameters
    ----------
    estimator_class : type
        An estimator class implementing ``_get_state`` / ``_set_state``.

    Returns
    -------
    estimator_class : type
    """
    cls = estimator_class
    _REGISTRY[f"{cls.__module__.split('._')[0]}.{cls.__qualname__}"] = cls
    return cls


def _class_key(obj: Any) -> str:
    cls = type(obj)
    for key, registered in _REGISTRY.items():
        if registered is cls:
            return key
    raise ArtifactError(
        f"save: {cls.__name__} is not a maaskit estimator that can be saved; "
        f"registered classes are {sorted(_REGISTRY)}."
    )


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype.str).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def dumps(estimator: Any) -> bytes:
    """Serialise a fitted estimator to bytes (the content of a ``.npz`` artifact).

    Parameters
    ----------
    estimator : estimator
        A registered maaskit estimator.

    Returns
    -------
    data : bytes
    """
    from . import __version__

    key = _class_key(estimator)
    attrs, arrays = estimator._get_state()
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.hasobject:
            raise ArtifactError(f"save: array {name!r} must be a plain numeric/str ndarray.")
    try:
        params = json.loads(json.dumps(estimator.get_params(deep=False), default=_json_default))
    except TypeError as exc:
        raise ArtifactError(f"save: hyper-parameters of {type(estimator).__name__} must be JSON-able ({exc}).") from None
    header = {
        "format": "maaskit",
        "format_version": FORMAT_VERSION,
        "maaskit_version": __version__,
        "class": key,
        "params": params,
        "attrs": attrs,
        "sha256": _checksum(arrays),
    }
    try:
        blob = json.dumps(header, default=_json_default, allow_nan=True).encode()
    except TypeError as exc:
        raise ArtifactError(f"save: fitted state of {type(estimator).__name__} is not JSON-able ({exc}).") from None
    buf = io.BytesIO()
    np.savez(buf, **{_HEADER: np.frombuffer(blob, dtype=np.uint8)}, **arrays)
    return buf.getvalue()


def loads(data: bytes, *, expected_class: type | None = None) -> Any:
    """Rebuild an estimator from bytes made by :func:`dumps`.

    Parameters
    ----------
    data : bytes
    expected_class : type, default=None
        When given, the artifact must hold an instance of this class (or a subclass).

    Returns
    -------
    estimator : estimator
    """
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        files = set(npz.files)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"load: not a maaskit artifact (unreadable .npz: {exc}).") from None
    if _HEADER not in files:
        raise ArtifactError("load: not a maaskit artifact (no maaskit header in the file).")
    try:
        raw = npz[_HEADER]
        if not isinstance(raw, np.ndarray) or raw.dtype != np.uint8:
            raise ValueError("the header is not a uint8 array")
        header = json.loads(raw.tobytes().decode())
        arrays = {k: npz[k] for k in files if k != _HEADER}
        if any(not isinstance(a, np.ndarray) for a in arrays.values()):
            raise ValueError("an entry is not a .npy array")
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArtifactError(f"load: corrupt maaskit artifact ({exc}).") from None
    if not isinstance(header, dict) or header.get("format") != "maaskit":
        raise ArtifactError("load: not a maaskit artifact (bad header).")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ArtifactError(
            f"load: unsupported artifact format_version {version!r}; this maaskit reads "
            f"versions 1..{FORMAT_VERSION}. Upgrade maaskit."
        )
    if _checksum(arrays) != header.get("sha256"):
        raise ArtifactError("load: checksum mismatch: the artifact was modified or truncated.")
    _import_estimators()
    cls = _REGISTRY.get(header.get("class"))
    if cls is None:
        raise ArtifactError(f"load: class {header.get('class')!r} is not a loadable maaskit estimator.")
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ArtifactError(f"load: the artifact holds a {cls.__name__}, not a {expected_class.__name__}.")
    try:
        est = cls(**header["params"])
        est._set_state(header["attrs"], arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"load: inconsistent {cls.__name__} artifact ({type(exc).__name__}: {exc}).") from None
    return est


def save(estimator: Any, path: str | os.PathLike) -> Path:
    """Save a fitted estimator to ``path`` atomically (temp file then rename).

    Parameters
    ----------
    estimator : estimator
    path : str or path-like
        Target file; ``.npz`` is the customary suffix.

    Returns
    -------
    path : Path
    """
    path = Path(path)
    data = dumps(estimator)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".maaskit-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(path: str | os.PathLike, *, expected_class: type | None = None) -> Any:
    """Load an estimator saved by :func:`save`.

    Parameters
    ----------
    path : str or path-like
    expected_class : type, default=None
        Require the artifact to hold this class.

    Returns
    -------
    estimator : estimator
    """
    return loads(Path(path).read_bytes(), expected_class=expected_class)


# Subpackages whose import runs @register decorators: the allow-list lives in this code,
# never in an artifact.
_ESTIMATOR_PACKAGES = (
    "recommender",
    "linear_model",
    "svm",
    "ensemble",
    "neural_network",
    "text",
)


def _import_estimators() -> None:
    import importlib.util

    for name in _ESTIMATOR_PACKAGES:
        if importlib.util.find_spec(f"{__package__}.{name}") is not None:
            importlib.import_module(f"{__package__}.{name}")


class PersistableMixin:
    """``save``/``load`` methods and a default state split for estimators.

    Fitted attributes (names ending in ``_``) that are ndarrays go to the array part; JSON
    scalars to the header; objects with ``to_state``/``from_state`` (id indices) to both.
    """

    _state_objects: dict[str, Callable[[dict, np.ndarray | None], Any]] = {}

    def save(self, path: str | os.PathLike) -> Path:
        """Save the fitted model to ``path`` (JSON header + arrays, no pickle).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : Path
        """
        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Load a model saved with :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        estimator : estimator
        """
        return load(path, expected_class=cls)

    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        attrs: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[name] = value
            elif hasattr(value, "to_state"):
                meta, arr = value.to_state()
                attrs[name] = {"__object__": type(value).__name__, **meta}
                if arr is not None:
                    arrays[name] = arr
            elif isinstance(value, (int, float, str, bool, type(None), np.generic, list, dict)):
                attrs[name] = value
            else:
                raise ArtifactError(
                    f"save: fitted attribute {name!r} of type {type(value).__name__} cannot be saved."
                )
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        for name, value in attrs.items():
            if isinstance(value, dict) and "__object__" in value:
                factory = self._state_objects.get(value["__object__"])
                if factory is None:
                    raise ArtifactError(f"load: unknown object type {value['__object__']!r}.")
                meta = {k: v for k, v in value.items() if k != "__object__"}
                setattr(self, name, factory(meta, arrays.get(name)))
            else:
                setattr(self, name, value)
        for name, value in arrays.items():
            if name not in attrs:
                setattr(self, name, value)
