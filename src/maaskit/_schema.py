"""Declarative state schemas: what a loadable estimator's saved state must satisfy."""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import ArtifactError


def check_state(cls: type, params: dict, attrs: dict, arrays: dict[str, np.ndarray]) -> dict:
    """Check an artifact's state against ``cls``'s schema; return the checked params."""
    valid = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ArtifactError(f"load: {cls.__name__} has no hyper-parameter(s) {unknown}.")
    return params
