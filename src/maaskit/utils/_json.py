"""The one ``default=`` hook for :func:`json.dumps` in maaskit (artifacts and HTTP responses)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["json_default"]


def json_default(obj: Any) -> Any:
    """Turn numpy scalars into Python ones; refuse anything else.

    numpy scalars hide in object arrays and fitted attributes (e.g. class labels); any
    other object reaching :func:`json.dumps` is a bug, reported with its type.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
