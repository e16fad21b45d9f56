"""The registry's lookup error, shared by the catalogue and the API keys."""

from __future__ import annotations

from ..exceptions import MaaskitError

__all__ = ["ModelNotFoundError"]


class ModelNotFoundError(MaaskitError, KeyError):
    """A model name, version or alias that the registry does not hold.

    Parameters
    ----------
    message : str
        What was not found, and what exists.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message
