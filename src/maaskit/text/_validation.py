"""Input checks shared by the text estimators (messages follow maaskit's error contract)."""

from __future__ import annotations

from typing import Any

__all__ = ["CallableConstraint", "check_documents"]


class CallableConstraint:
    """Parameter constraint satisfied by any callable (for ``_parameter_constraints``)."""

    def is_satisfied_by(self, value: Any) -> bool:
        """Return whether ``value`` is callable."""
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


def check_documents(X: Any, where: str, *, allow_empty: bool = False) -> list[str]:
    """Return ``X`` as a list of str documents, or raise the contract error.

    Parameters
    ----------
    X : iterable of str
        Raw documents (a list, tuple, 1-d array or pandas Series).
    where : str
        ``"<Estimator>.<method>"`` for messages.
    allow_empty : bool, default=False
        Accept zero documents.

    Returns
    -------
    docs : list of str
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{where}: X must be an iterable of str documents, not a single {type(X).__name__}; "
            f"got {X!r:.60}. Wrap it in a list."
        )
    if hasattr(X, "ndim") and getattr(X, "ndim", 1) != 1:
        raise ValueError(f"{where}: X must be 1-d (one str per document); got shape {X.shape!r}.")
    try:
        docs = list(X)
    except TypeError:
        raise TypeError(f"{where}: X must be an iterable of str documents; got {type(X).__name__}.") from None
    for i, d in enumerate(docs):
        if not isinstance(d, str):
            raise TypeError(
                f"{where}: every document must be a str; got {type(d).__name__} {d!r:.60} at index {i}."
            )
    if not docs and not allow_empty:
        raise ValueError(f"{where}: X must contain at least one document; got 0.")
    return docs
