"""Test helpers: open an artifact, change it, and reseal it so that its checksum matches.

A checksum guards against accidents only: anyone can recompute it, as these helpers do to
show that what stands between a crafted file and the kernels is the schema check.
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np

from maaskit._artifact import HEADER_MEMBER, digest_message, sign


def unpack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Header and arrays of an artifact (numpy's own reader, no checks)."""
    npz = np.load(io.BytesIO(data), allow_pickle=False)
    arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop(HEADER_MEMBER).tobytes())
    return header, arrays


def pack(header: dict, arrays: dict[str, np.ndarray], *, reseal: bool = True, key: bytes | None = None) -> bytes:
    """Write an artifact; ``reseal`` recomputes the checksum (and signs with ``key``)."""
    header = dict(header)
    if reseal:
        header.pop("signature", None)
        message = digest_message(header, arrays)
        header["sha256"] = hashlib.sha256(message).hexdigest()
        if key is not None:
            header["signature"] = {"alg": "hmac-sha256", "value": sign(message, key)}
    blob = json.dumps(header, allow_nan=True).encode()
    buf = io.BytesIO()
    np.savez(buf, **{HEADER_MEMBER: np.frombuffer(blob, dtype=np.uint8)}, **arrays)
    return buf.getvalue()


def mutate(data: bytes, change, *, reseal: bool = True) -> bytes:
    """Apply ``change(header, arrays)`` (in place) and repack."""
    header, arrays = unpack(data)
    change(header, arrays)
    return pack(header, arrays, reseal=reseal)
