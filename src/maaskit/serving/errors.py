"""The one error type of the HTTP service and its JSON body ``{"error": {type, message, detail}}``."""

from __future__ import annotations

from typing import Any

from ..exceptions import MaaskitError

__all__ = ["APIError", "bad_request", "error_body"]


class APIError(MaaskitError):
    """An error the service answers with a status code and a JSON body.

    Server side only: the route handlers raise it and :func:`~maaskit.serving.routes.json_error`
    turns it into the response. Its client-side mirror is :class:`maaskit.client.ServiceError`,
    which :class:`~maaskit.client.Client` raises when it receives that response.

    Parameters
    ----------
    status : int
        HTTP status code (4xx for the caller's mistakes).
    type : str
        Stable machine-readable error type (``"unknown_model"``, ``"invalid_json"`` ...).
    message : str
        Human-readable message (the library's own wording where one exists).
    detail : object, default=None
        JSON-able extra information.
    headers : dict, default=None
        Extra response headers (``WWW-Authenticate`` for 401).
    """

    def __init__(self, status: int, type: str, message: str, detail: Any = None,
                 headers: dict | None = None) -> None:
        self.status = int(status)
        self.type = type
        self.message = message
        self.detail = detail
        self.headers = headers
        super().__init__(message)


def bad_request(type_: str, message: str, detail: Any = None, status: int = 400) -> APIError:
    """Return an :class:`APIError`, a 400 unless ``status`` says otherwise (for ``raise``).

    Parameters
    ----------
    type_ : str
        Error type.
    message : str
        Message.
    detail : object, default=None
        Extra information.
    status : int, default=400
        HTTP status code.

    Returns
    -------
    error : APIError
    """
    return APIError(status, type_, message, detail)


def error_body(type: str, message: str, detail: Any = None) -> dict:
    """Return the JSON error document.

    Parameters
    ----------
    type : str
        Error type.
    message : str
        Message.
    detail : object, default=None
        Extra information.

    Returns
    -------
    body : dict
    """
    return {"error": {"type": type, "message": message, "detail": detail}}
