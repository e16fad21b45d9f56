"""Hyper-parameter constraints checked at ``fit`` time, with scikit-learn's wording.

scikit-learn's own ``Interval``/``StrOptions`` are private API, so maaskit keeps this small
copy of the idea. An estimator lists ``_parameter_constraints = {"name": [constraint, ...]}``
and ``fit`` calls :func:`validate_parameters`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interval:
    """Real or integral numbers in a range.

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
    left, right : float or None
        Bounds; ``None`` is unbounded.
    closed : {"left", "right", "both", "neither"}
    """

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if self.kind is numbers.Real and not np.isfinite(value) and value == value:
            pass  # infinities are judged by the bounds below
        elif value != value:  # NaN
            return False
        lo_ok = self.left is None or (value >= self.left if self.closed in ("left", "both") else value > self.left)
        hi_ok = self.right is None or (value <= self.right if self.closed in ("right", "both") else value < self.right)
        return lo_ok and hi_ok

    def __str__(self) -> str:
        kind = "an int" if self.kind is numbers.Integral else "a float"
        lb = "[" if self.closed in ("left", "both") else "("
        rb = "]" if self.closed in ("right", "both") else ")"
        left = "-inf" if self.left is None else repr(float(self.left)) if self.kind is numbers.Real else str(self.left)
        right = "inf" if self.right is None else repr(float(self.right)) if self.kind is numbers.Real else str(self.right)
        return f"{kind} in the range {lb}{left}, {right}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values.

    Parameters
    ----------
    options : frozenset
    """

    options: frozenset

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return value in self.options
        except TypeError:
            return False

    def __str__(self) -> str:
        return "a str among {" + ", ".join(repr(o) for o in sorted(self.options, key=str)) + "}"


def _describe(c: Any) -> str:
    if c is None:
        return "None"
    if c == "boolean":
        return "an instance of 'bool'"
    if c == "random_state":
        return "an int in the range [0, 4294967295], an instance of 'numpy.random.RandomState' or None"
    if isinstance(c, type):
        return f"an instance of {c.__name__!r}"
    return str(c)


def _satisfied(c: Any, value: Any) -> bool:
    if c is None:
        return value is None
    if c == "boolean":
        return isinstance(value, (bool, np.bool_))
    if c == "random_state":
        return value is None or isinstance(value, np.random.RandomState) or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value <= 2**32 - 1
        )
    if isinstance(c, type):
        return isinstance(value, c)
    return c.is_satisfied_by(value)


def validate_parameters(estimator: Any) -> None:
    """Check every hyper-parameter of ``estimator`` against its ``_parameter_constraints``.

    Parameters
    ----------
    estimator : estimator

    Raises
    ------
    ValueError
        With scikit-learn's message: "The 'lr' parameter of X must be ... Got -1 instead."
    """
    constraints = getattr(estimator, "_parameter_constraints", {})
    params = estimator.get_params(deep=False)
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_satisfied(c, value) for c in allowed):
            continue
        descs = [_describe(c) for c in allowed]
        expected = descs[0] if len(descs) == 1 else ", ".join(descs[:-1]) + " or " + descs[-1]
        raise ValueError(
            f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
            f"Got {value!r} instead."
        )
