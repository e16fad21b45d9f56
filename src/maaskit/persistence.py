"""Safe persistence: a model is one ``.npz`` file of plain arrays plus a JSON header.

Nothing is ever unpickled. The header records a format version, the estimator's class
(resolved through an allow-list that lives here, in maaskit's code, never in the artifact),
its hyper-parameters and JSON-able fitted attributes. Loading treats the file as untrusted
input, in this order:

1. **Bounds** (:class:`ReadLimits`): number of arrays, each array's declared size (read from
   its ``.npy`` header), the uncompressed total and the JSON header's size and depth are
   checked from what the file declares, before anything is allocated; only bool, integer,
   float and text dtypes are accepted.
2. **Checksum**: a SHA-256 over the canonical JSON header (all fields but ``sha256`` and
   ``signature``) and every array (name, dtype, shape, bytes).
3. **Signature** (optional): an HMAC-SHA256 of the same content under a secret key.
4. **Class allow-list** and **state schema**: each loadable class declares what its state
   must satisfy (:mod:`maaskit._schema`: dtypes, shapes tied together by named dimensions,
   index arrays in range, CSR structure, tree structure, finite values, hyper-parameters
   accepted by the estimator's own constraints). Nothing reaches a kernel before this passes.

Any failure is an :class:`~maaskit.exceptions.ArtifactError` that says what is wrong.

scikit-learn objects
--------------------
A ``Pipeline``, ``ColumnTransformer`` or common scikit-learn transformer (scalers, encoders,
imputers, TF-IDF ...) holding maaskit estimators saves and loads too: the scikit-learn parts
go through `skops <https://skops.readthedocs.io>`_ behind maaskit's own allow-list, the
maaskit parts keep this format and its schema checks (see :mod:`maaskit._sklearn_io` for why
skops and how it is fenced in). :func:`registered_classes` lists every class allowed.

Checksum versus signature
-------------------------
The **checksum** protects against *accidents*: a truncated download, a flipped bit, a file
edited by mistake. Anyone can recompute it, so it proves nothing about who wrote the file.
The **signature** protects against *tampering*: it is an HMAC-SHA256 under a secret key
(``signing_key=`` or the environment variable ``MAASKIT_SIGNING_KEY``), so only holders of
the key can produce a file that verifies. When a key is configured, :func:`load` requires a
valid signature by default (``require_signature=False`` accepts unsigned files, but a
signature that is present is always checked). The schema checks in step 4 apply to every
file, signed or not: a signature says who made a file, not that the file is sane.

Formats
-------
Format 2 (what this maaskit writes) checksums the header as well as the arrays and can be
signed. Format-1 files still load: their checksum covers the arrays only, so their header
is protected by the schema checks alone, which they pass through like any other file; they
cannot carry a signature, so they are refused wherever a signature is required.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._artifact import (
    SIGNING_KEY_ENV,
    ReadLimits,
    checksum_v1,
    digest_message,
    read_container,
    resolve_key,
    sign,
    write_container,
)
from ._schema import CSR, Arr, Attr, Ids, Rule, StateSchema
from .exceptions import ArtifactError
from .utils._json import json_default

__all__ = ["save", "load", "dumps", "loads", "register", "registered_classes", "ReadLimits",
           "FORMAT_VERSION", "SIGNING_KEY_ENV", "StateSchema", "Arr", "Attr", "Ids", "CSR", "Rule"]

FORMAT_VERSION = 2
# The allow-list lives in its own module, which this one and the scikit-learn bridge
# (_sklearn_io) both import: neither has to import the other for it.
from ._allow_list import _ALLOW_LIST, _REGISTRY, _resolve, register  # noqa: E402,F401


def registered_classes() -> list[str]:
    """Names of every class an artifact may hold (the allow-list).

    Returns
    -------
    names : list of str
    """
    from ._sklearn_io import SKLEARN_TYPES

    return sorted(set(_ALLOW_LIST) | set(_REGISTRY) | SKLEARN_TYPES)


def _class_key(obj: Any) -> str:
    from ._sklearn_io import sklearn_key

    cls = type(obj)
    for key, registered in _REGISTRY.items():
        if registered is cls:
            return key
    key = sklearn_key(obj)
    if key is not None:
        return key
    raise ArtifactError(
        f"save: {cls.__name__} is not a maaskit estimator that can be saved; "
        f"registered classes are {registered_classes()}."
    )


def dumps(estimator: Any, *, signing_key: str | bytes | None = None) -> bytes:
    """Serialise a fitted estimator to bytes (the content of a ``.npz`` artifact).

    Parameters
    ----------
    estimator : estimator
        A registered maaskit estimator.
    signing_key : str or bytes, default=None
        Sign the artifact (HMAC-SHA256) with this key; ``None`` uses ``$MAASKIT_SIGNING_KEY``
        when set, else writes an unsigned artifact.

    Returns
    -------
    data : bytes
    """
    from . import __version__

    from ._sklearn_io import SKLEARN_TYPES, get_state

    key = resolve_key(signing_key)
    cls_key = _class_key(estimator)
    if cls_key in SKLEARN_TYPES:
        attrs, arrays = get_state(estimator, _class_key)  # skops blob + maaskit parts
    else:
        attrs, arrays = estimator._get_state()
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.hasobject:
            raise ArtifactError(f"save: array {name!r} must be a plain numeric/str ndarray.")
    try:
        params = {} if cls_key in SKLEARN_TYPES else json.loads(
            json.dumps(estimator.get_params(deep=False), default=json_default))
    except TypeError as exc:
        raise ArtifactError(f"save: hyper-parameters of {type(estimator).__name__} must be JSON-able ({exc}).") from None
    try:
        attrs = json.loads(json.dumps(attrs, default=json_default, allow_nan=True))
    except TypeError as exc:
        raise ArtifactError(f"save: fitted state of {type(estimator).__name__} is not JSON-able ({exc}).") from None
    header: dict[str, Any] = {
        "format": "maaskit",
        "format_version": FORMAT_VERSION,
        "maaskit_version": __version__,
        "class": cls_key,
        "params": params,
        "attrs": attrs,
    }
    message = digest_message(header, arrays)
    header["sha256"] = hashlib.sha256(message).hexdigest()
    if key is not None:
        header["signature"] = {"alg": "hmac-sha256", "value": sign(message, key)}
    return write_container(header, arrays)


def _verify(header: dict, arrays: dict[str, np.ndarray], key: bytes | None, require: bool) -> None:
    version = header.get("format_version")
    if type(version) is not int or version > FORMAT_VERSION or version < 1:
        raise ArtifactError(
            f"load: unsupported artifact format_version {version!r}; this maaskit reads "
            f"versions 1..{FORMAT_VERSION}. Upgrade maaskit."
        )
    stored = header.get("sha256")
    if version == 1:
        if not isinstance(stored, str) or not hmac.compare_digest(checksum_v1(arrays), stored):
            raise ArtifactError("load: checksum mismatch: the artifact was modified or truncated.")
        if require:
            raise ArtifactError("load: the artifact is not signed (format 1 cannot be) and a "
                                "signature is required.")
        return
    message = digest_message(header, arrays)

    if not isinstance(stored, str) or not hmac.compare_digest(hashlib.sha256(message).hexdigest(), stored):
        raise ArtifactError("load: checksum mismatch: the artifact was modified or truncated.")
    sig = header.get("signature")
    if sig is None:
        if require:
            raise ArtifactError("load: the artifact is not signed and a signature is required "
                                f"(a signing key is configured: argument or ${SIGNING_KEY_ENV}).")
        return
    if not (isinstance(sig, dict) and sig.get("alg") == "hmac-sha256" and isinstance(sig.get("value"), str)):
        raise ArtifactError("load: the artifact's signature field is malformed.")
    if key is None:
        if require:
            raise ArtifactError("load: a signature is required but no signing key is configured "
                                f"(pass signing_key= or set ${SIGNING_KEY_ENV}).")
        return  # signed, but nothing to check it against: the checksum still holds
    if not hmac.compare_digest(sign(message, key), sig["value"]):
        raise ArtifactError("load: signature mismatch: the artifact was not signed with this key, "
                            "or was modified after signing.")


def loads(data: bytes, *, expected_class: type | None = None, signing_key: str | bytes | None = None,
          require_signature: bool | None = None, limits: ReadLimits | None = None) -> Any:
    """Rebuild an estimator from bytes made by :func:`dumps`.

    Parameters
    ----------
    data : bytes
    expected_class : type, default=None
        When given, the artifact must hold an instance of this class (or a subclass).
    signing_key : str or bytes, default=None
        Verify the artifact's HMAC-SHA256 signature with this key; ``None`` uses
        ``$MAASKIT_SIGNING_KEY`` when set.
    require_signature : bool, default=None
        Refuse unsigned artifacts. ``None`` means "when a key is configured".
    limits : ReadLimits, default=None
        Bounds on what is read; ``None`` uses ``ReadLimits()`` (see its defaults).

    Returns
    -------
    estimator : estimator

    Raises
    ------
    ArtifactError
        A foreign, corrupt, tampered, mis-signed or inconsistent artifact.
    """
    from ._schema import check_state

    key = resolve_key(signing_key)
    require = (key is not None) if require_signature is None else bool(require_signature)
    header, arrays = read_container(data, limits if limits is not None else ReadLimits())
    if header.get("format") != "maaskit":
        raise ArtifactError("load: not a maaskit artifact: the header does not say format 'maaskit'.")
    _verify(header, arrays, key, require)
    from ._sklearn_io import SKLEARN_TYPES, set_state

    if header.get("class") in SKLEARN_TYPES:
        if header.get("params") != {} or not isinstance(header.get("attrs"), dict):
            raise ArtifactError("load: a scikit-learn artifact has empty params and a JSON attrs object.")
        est = set_state(header["attrs"], arrays, limits.max_total_bytes if limits else ReadLimits().max_total_bytes)
        if expected_class is not None and not isinstance(est, expected_class):
            raise ArtifactError(f"load: the artifact holds a {type(est).__name__}, not a {expected_class.__name__}.")
        return est
    cls = _resolve(header.get("class"))
    if cls is None:
        raise ArtifactError(f"load: class {header.get('class')!r} is not a loadable maaskit estimator.")
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ArtifactError(f"load: the artifact holds a {cls.__name__}, not a {expected_class.__name__}.")
    params, attrs = header.get("params"), header.get("attrs")
    if not isinstance(params, dict) or not isinstance(attrs, dict):
        raise ArtifactError("load: corrupt maaskit artifact: 'params' and 'attrs' must be JSON objects.")
    params = check_state(cls, params, attrs, arrays)
    try:
        est = cls(**params)
        est._set_state(attrs, arrays)
    except ArtifactError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ArtifactError(f"load: inconsistent {cls.__name__} artifact ({type(exc).__name__}: {exc}).") from None
    return est


def save(estimator: Any, path: str | os.PathLike, *, signing_key: str | bytes | None = None) -> Path:
    """Save a fitted estimator to ``path`` atomically (temp file then rename).

    Parameters
    ----------
    estimator : estimator
    path : str or path-like
        Target file; ``.npz`` is the customary suffix.
    signing_key : str or bytes, default=None
        Sign with this key (see :func:`dumps`).

    Returns
    -------
    path : Path
    """
    path = Path(path)
    data = dumps(estimator, signing_key=signing_key)
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


def load(path: str | os.PathLike, *, expected_class: type | None = None,
         signing_key: str | bytes | None = None, require_signature: bool | None = None,
         limits: ReadLimits | None = None) -> Any:
    """Load an estimator saved by :func:`save`.

    Parameters
    ----------
    path : str or path-like
    expected_class : type, default=None
        Require the artifact to hold this class.
    signing_key : str or bytes, default=None
        Verify the signature with this key (see :func:`loads`).
    require_signature : bool, default=None
        Refuse unsigned artifacts; ``None`` means "when a key is configured".
    limits : ReadLimits, default=None
        Bounds on what is read.

    Returns
    -------
    estimator : estimator
    """
    limits = limits if limits is not None else ReadLimits()
    size = os.path.getsize(path)
    if size > limits.max_total_bytes + (64 << 20):
        raise ArtifactError(f"load: {os.fspath(path)!r} is {size} bytes; the limit is "
                            f"max_total_bytes={limits.max_total_bytes}.")
    return loads(Path(path).read_bytes(), expected_class=expected_class, signing_key=signing_key,
                 require_signature=require_signature, limits=limits)


class PersistableMixin:
    """``save``/``load`` methods and a default state split for estimators.

    Fitted attributes (names ending in ``_``) that are ndarrays go to the array part; JSON
    scalars to the header; objects with ``to_state``/``from_state`` (id indices) to both.
    """

    _state_objects: dict[str, Callable[[dict, np.ndarray | None], Any]] = {}

    def save(self, path: str | os.PathLike, *, signing_key: str | bytes | None = None) -> Path:
        """Save the fitted model to ``path`` (JSON header + arrays, no pickle).

        Parameters
        ----------
        path : str or path-like
        signing_key : str or bytes, default=None
            Sign the artifact (see :func:`maaskit.persistence.dumps`).

        Returns
        -------
        path : Path
        """
        return save(self, path, signing_key=signing_key)

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs: Any) -> Any:
        """Load a model saved with :meth:`save`.

        Parameters
        ----------
        path : str or path-like
        **kwargs
            ``signing_key``, ``require_signature``, ``limits``: see :func:`maaskit.load`.

        Returns
        -------
        estimator : estimator
        """
        return load(path, expected_class=cls, **kwargs)

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
