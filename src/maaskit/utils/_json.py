"""The one ``default=`` hook for :func:`json.dumps` in maaskit (artifacts and HTTP responses)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["json_default"]


def json_default(obj: Any) -> Any:
    """Turn numpy scalars into Python ones, estimator parameters into JSON; refuse anything else.

    numpy scalars hide in object arrays and fitted attributes (e.g. class labels). An object
    whose class defines ``_json_param`` (an estimator given as a hyper-parameter, such as
    HybridMF's ``item_encoder``) is written as what that returns (its parameters). Any other
    object reaching :func:`json.dumps` is a bug, reported with its type.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    to_json = getattr(type(obj), "_json_param", None)
    if to_json is not None:
        return to_json(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
