"""The artifact container: a ``.npz`` (zip of ``.npy`` members) plus a JSON header member.

This module only moves bytes: it reads a container under :class:`ReadLimits` (every size is
checked from the zip directory and the ``.npy`` headers *before* anything is allocated), and
computes the checksum and the optional HMAC signature. What the arrays must contain is the
business of :mod:`maaskit._schema`; the public API is :mod:`maaskit.persistence`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .exceptions import ArtifactError

__all__ = ["ReadLimits", "SIGNING_KEY_ENV", "read_container", "write_container", "digest_message",
           "resolve_key", "HEADER_MEMBER"]

HEADER_MEMBER = "__maaskit__"
SIGNING_KEY_ENV = "MAASKIT_SIGNING_KEY"
#: Header fields outside the digested message (they are computed from it).
UNDIGESTED = ("sha256", "signature")
# dtype kinds an artifact may hold: bool, signed/unsigned int, float, unicode text.
_ALLOWED_KINDS = "biufU"


@dataclass(frozen=True)
class ReadLimits:
    """Bounds applied while reading an artifact, before any allocation.

    Every bound is checked from what the file *declares* (the zip directory's uncompressed
    sizes and each ``.npy`` member's header), so a crafted file that claims a huge array is
    refused without the memory being reserved.

    Parameters
    ----------
    max_arrays : int, default=512
        Number of arrays (zip members besides the header).
    max_array_bytes : int, default=4 GiB
        Declared size of one array (product of its shape times its item size).
    max_total_bytes : int, default=8 GiB
        Sum of the uncompressed sizes of all members.
    max_header_bytes : int, default=32 MiB
        Size of the JSON header.
    max_header_depth : int, default=32
        Nesting depth of the JSON header.
    max_ndim : int, default=8
        Number of dimensions of one array.
    """

    max_arrays: int = 512
    max_array_bytes: int = 4 << 30
    max_total_bytes: int = 8 << 30
    max_header_bytes: int = 32 << 20
    max_header_depth: int = 32
    max_ndim: int = 8


def resolve_key(signing_key: str | bytes | None) -> bytes | None:
    """The signing key from the argument, else ``$MAASKIT_SIGNING_KEY``, else ``None``.

    Parameters
    ----------
    signing_key : str, bytes or None

    Returns
    -------
    key : bytes or None
    """
    if signing_key is None:
        signing_key = os.environ.get(SIGNING_KEY_ENV) or None
    if signing_key is None:
        return None
    if isinstance(signing_key, str):
        signing_key = signing_key.encode()
    if not isinstance(signing_key, (bytes, bytearray)) or not signing_key:
        raise TypeError(f"signing_key must be a non-empty str or bytes; got {type(signing_key).__name__}.")
    return bytes(signing_key)


def _canonical(header: dict) -> bytes:
    """One byte string per header content: sorted keys, no spaces, NaN/inf spelled out."""
    body = {k: v for k, v in header.items() if k not in UNDIGESTED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def _arrays_digest(arrays: dict[str, np.ndarray]) -> bytes:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype.str).encode())
        h.update(repr(a.shape).encode())
        h.update(memoryview(a).cast("B") if a.size else b"")
    return h.digest()


def digest_message(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """What the checksum and the signature cover: the canonical header and every array.

    Parameters
    ----------
    header : dict
        The header; its ``sha256`` and ``signature`` fields are left out.
    arrays : dict of str to ndarray

    Returns
    -------
    message : bytes
    """
    return b"maaskit-artifact-v2\n" + _canonical(header) + b"\n" + _arrays_digest(arrays)


def checksum_v1(arrays: dict[str, np.ndarray]) -> str:
    """The format-1 checksum: SHA-256 over the arrays only (the header was not covered).

    Parameters
    ----------
    arrays : dict of str to ndarray

    Returns
    -------
    hexdigest : str
    """
    return _arrays_digest(arrays).hex()


def sign(message: bytes, key: bytes) -> str:
    """HMAC-SHA256 of ``message`` under ``key``, hex encoded.

    Parameters
    ----------
    message : bytes
    key : bytes

    Returns
    -------
    signature : str
    """
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def write_container(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise ``header`` (JSON) and ``arrays`` to ``.npz`` bytes.

    Parameters
    ----------
    header : dict
    arrays : dict of str to ndarray

    Returns
    -------
    data : bytes
    """
    blob = json.dumps(header, allow_nan=True).encode()
    buf = io.BytesIO()
    np.savez(buf, **{HEADER_MEMBER: np.frombuffer(blob, dtype=np.uint8)}, **arrays)
    return buf.getvalue()


def _json_depth(obj: Any) -> int:
    depth, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            depth = max(depth, d)
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return depth


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReadLimits) -> np.ndarray:
    """Read one ``.npy`` member, checking its declared dtype and size before allocating."""
    name = info.filename[:-4]
    with zf.open(info) as fh:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh, max_header_size=10000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh, max_header_size=10000)
        else:
            raise ValueError(f"array {name!r}: unsupported .npy version {version}")
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
                or dtype.kind not in _ALLOWED_KINDS or dtype.itemsize == 0:
            raise ArtifactError(f"load: array {name!r} has dtype {dtype.str!r}; artifacts hold only "
                                "bool, integer, float and text arrays.")
        if len(shape) > limits.max_ndim:
            raise ArtifactError(f"load: array {name!r} has {len(shape)} dimensions; the limit is "
                                f"max_ndim={limits.max_ndim}.")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > limits.max_array_bytes:
            raise ArtifactError(f"load: array {name!r} declares {nbytes} bytes (shape {shape}); the limit "
                                f"is max_array_bytes={limits.max_array_bytes}.")
        # The .npy header must account for exactly the member's bytes: no hidden tail, no
        # array bigger than the data behind it.
        if fh.tell() + nbytes != info.file_size:
            raise ArtifactError(f"load: array {name!r} declares {nbytes} bytes but its member holds "
                                f"{info.file_size - fh.tell()}; the artifact is truncated or corrupt.")
        buf = bytearray(nbytes)
        if nbytes and fh.readinto(buf) != nbytes:
            raise ArtifactError(f"load: array {name!r} is truncated.")
    arr = np.frombuffer(buf, dtype=dtype, count=count) if nbytes else np.empty(0, dtype=dtype)
    return arr.reshape(shape, order="F" if fortran else "C")


def read_container(data: bytes, limits: ReadLimits) -> tuple[dict, dict[str, np.ndarray]]:
    """Read the header and arrays of an artifact under ``limits``.

    Parameters
    ----------
    data : bytes
    limits : ReadLimits

    Returns
    -------
    header : dict
    arrays : dict of str to ndarray

    Raises
    ------
    ArtifactError
        The bytes are not a maaskit artifact, or exceed a limit.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load: data must be bytes; got {type(data).__name__}.")
    if bytes(data[:4]) != b"PK\x03\x04":
        raise ArtifactError("load: not a maaskit artifact: the file is not a zip archive "
                            "(a maaskit artifact is a .npz file written by maaskit.save).")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArtifactError(f"load: not a maaskit artifact: not a readable zip archive ({exc}).") from None
    names = [i.filename for i in infos]
    if f"{HEADER_MEMBER}.npy" not in names:
        raise ArtifactError("load: not a maaskit artifact: the archive has no maaskit header "
                            "(it may be a plain numpy .npz, which maaskit does not load).")
    if len(set(names)) != len(names):
        raise ArtifactError("load: corrupt maaskit artifact: duplicate member names.")
    if len(infos) - 1 > limits.max_arrays:
        raise ArtifactError(f"load: the artifact holds {len(infos) - 1} arrays; the limit is "
                            f"max_arrays={limits.max_arrays}.")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise ArtifactError(f"load: the artifact declares {total} uncompressed bytes; the limit is "
                            f"max_total_bytes={limits.max_total_bytes}.")
    for info in infos:
        if not info.filename.endswith(".npy") or "/" in info.filename or info.is_dir():
            raise ArtifactError(f"load: not a maaskit artifact: unexpected member {info.filename!r}.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArtifactError(f"load: member {info.filename!r} uses an unsupported compression.")
    header_info = infos[names.index(f"{HEADER_MEMBER}.npy")]
    if header_info.file_size > limits.max_header_bytes + 128:
        raise ArtifactError(f"load: the header declares {header_info.file_size} bytes; the limit is "
                            f"max_header_bytes={limits.max_header_bytes}.")
    try:
        raw = _read_member(zf, header_info, limits)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ArtifactError("load: corrupt maaskit artifact: the header is not a byte string.")
        header = json.loads(raw.tobytes().decode())
        if not isinstance(header, dict):
            raise ArtifactError("load: not a maaskit artifact: the header is not a JSON object.")
        if _json_depth(header) > limits.max_header_depth:
            raise ArtifactError(f"load: the header is nested deeper than max_header_depth="
                                f"{limits.max_header_depth}.")
        arrays = {i.filename[:-4]: _read_member(zf, i, limits) for i in infos if i is not header_info}
    except ArtifactError:
        raise
    except RecursionError:
        raise ArtifactError(f"load: the header is nested deeper than max_header_depth="
                            f"{limits.max_header_depth}.") from None
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError, SyntaxError) as exc:
        raise ArtifactError(f"load: corrupt maaskit artifact ({type(exc).__name__}: {exc}).") from None
    return header, arrays
