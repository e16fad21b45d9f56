"""Open Inference Protocol (KServe V2) tensors: the accepted datatypes and the decoding of one input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import bad_request as _bad
from .limits import Limits

__all__ = ["decode_tensor", "V2_DATATYPES"]

#: Tensor datatypes of the Open Inference Protocol that maaskit accepts.
V2_DATATYPES = {"BOOL": np.bool_, "INT32": np.int32, "INT64": np.int64, "FP32": np.float32,
                "FP64": np.float64, "BYTES": object}


def decode_tensor(tensor: Any, where: str, limits: Limits | None = None) -> tuple[str, np.ndarray, str]:
    """Check one V2 input tensor and return ``(name, array of its shape, datatype)``.

    Parameters
    ----------
    tensor : object
        Decoded JSON: ``{"name", "shape", "datatype", "data"}``.
    where : str
        For messages.
    limits : Limits, default=None
        ``max_tensor_elements`` is checked on the declared shape and on the data before
        any array is built (default limits when ``None``).

    Returns
    -------
    name : str
    array : ndarray
    datatype : str
    """
    if not isinstance(tensor, dict):
        raise _bad("invalid_request", f"{where}: each input must be an object with name, shape, datatype and data; "
                                      f"got {type(tensor).__name__}.")
    name, shape, datatype, data = (tensor.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str):
        raise _bad("invalid_request", f"{where}: input name must be a string; got {name!r}.")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31 for s in shape)):
        raise _bad("invalid_request", f"{where}: shape of input {name!r} must be a list of non-negative ints; "
                                      f"got {shape!r}.")
    if datatype not in V2_DATATYPES:
        raise _bad("invalid_datatype", f"{where}: datatype of input {name!r} must be one of "
                                       f"{sorted(V2_DATATYPES)}; got {datatype!r}.")
    if not isinstance(data, list):
        raise _bad("invalid_request", f"{where}: data of input {name!r} must be a list; got {type(data).__name__}.")
    limits = limits or Limits()
    limits.check("max_tensor_elements", max(math.prod(shape), len(data)), where, f"elements of input {name!r}")
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        raise _bad("invalid_request", f"{where}: data of input {name!r} is ragged or mixes types.") from None
    kind = arr.dtype.kind
    ok = arr.size == 0 or {
        "BOOL": kind == "b", "INT32": kind in "iu", "INT64": kind in "iu",
        "FP32": kind in "iuf", "FP64": kind in "iuf", "BYTES": kind == "U",
    }[datatype]
    if not ok:
        raise _bad("datatype_mismatch", f"{where}: data of input {name!r} does not match datatype {datatype}.",
                   {"input": name, "datatype": datatype})
    expected = math.prod(shape)
    if arr.size != expected:
        raise _bad("shape_mismatch", f"{where}: input {name!r} has {arr.size} elements but shape {shape} "
                                     f"needs {expected}.", {"input": name, "shape": shape})
    arr = arr.astype(V2_DATATYPES[datatype], copy=False).reshape(shape)
    if datatype in ("FP32", "FP64") and not np.isfinite(arr).all():
        raise _bad("invalid_input", f"{where}: input {name!r} contains NaN or infinity.")
    return name, arr, datatype
