"""Rating-prediction error metrics: RMSE and MAE.

The arithmetic is scikit-learn's; what is ours is the input check, whose messages follow
maaskit's error contract (which argument, what was wrong, what was expected).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

__all__ = ["rmse", "mae"]


def _check_pair(y_true: Any, y_pred: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{func}: {name} must be a 1-D array-like of numbers; got {type(values).__name__} "
                f"that cannot be converted to float."
            ) from None
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"{func}: {name} must be 1-D; got an array of shape {arr.shape!r}.")
        if arr.size == 0:
            raise ValueError(f"{func}: {name} must be non-empty; got 0 samples.")
        if not np.isfinite(arr).all():
            raise ValueError(
                f"{func}: {name} must be finite; got {int((~np.isfinite(arr)).sum())} NaN or inf value(s)."
            )
        arrays.append(arr)
    if arrays[0].shape[0] != arrays[1].shape[0]:
        raise ValueError(
            f"{func}: y_true and y_pred must have the same length; got "
            f"{arrays[0].shape[0]!r} and {arrays[1].shape[0]!r}."
        )
    return arrays[0], arrays[1]


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error between true and predicted ratings.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True ratings.
    y_pred : array-like of shape (n_samples,)
        Predicted ratings.

    Returns
    -------
    error : float
        ``sqrt(mean((y_true - y_pred) ** 2))``, non-negative.

    Raises
    ------
    ValueError
        If the inputs are empty, not 1-D, of different lengths, or contain NaN or inf.

    Examples
    --------
    >>> from maaskit.metrics import rmse
    >>> rmse([3, 4, 5], [3, 5, 3])
    1.2909944487358056
    """
    t, p = _check_pair(y_true, y_pred, "rmse")
    return float(root_mean_squared_error(t, p))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error between true and predicted ratings.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True ratings.
    y_pred : array-like of shape (n_samples,)
        Predicted ratings.

    Returns
    -------
    error : float
        ``mean(abs(y_true - y_pred))``, non-negative.

    Raises
    ------
    ValueError
        If the inputs are empty, not 1-D, of different lengths, or contain NaN or inf.

    Examples
    --------
    >>> from maaskit.metrics import mae
    >>> mae([3, 4, 5], [3, 5, 3])
    1.0
    """
    t, p = _check_pair(y_true, y_pred, "mae")
    return float(mean_absolute_error(t, p))
