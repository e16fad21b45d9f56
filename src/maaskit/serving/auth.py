"""API-key authentication and per-model scopes (401 without a valid key, 403 without the scope).

Keys live hashed in the registry catalogue (:meth:`maaskit.registry.Registry.create_key`).
A client sends ``Authorization: Bearer mk_<id>.<secret>`` or ``X-API-Key: mk_<id>.<secret>``.

Verification never touches SQLite per request: the server holds a table of the active keys
(id -> SHA-256 of the secret), read once at start and again whenever the catalogue's change
stamp moves (a key created or revoked). A token is checked by hashing its secret and
comparing in constant time. An invalid token therefore costs one hash, reads nothing and
stores nothing: it can neither flood the database nor evict anything from a cache.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from fnmatch import fnmatchcase
from typing import Any

from ..registry import ApiKey, Registry
from .errors import APIError

__all__ = ["Authenticator", "allowed"]

def allowed(scopes: tuple, action: str, model: str) -> bool:
    """Whether ``scopes`` grant ``action`` (``"read"`` or ``"publish"``) on ``model``.

    Parameters
    ----------
    scopes : tuple of str
        ``"admin"``, ``"read:<pattern>"``, ``"publish:<pattern>"``.
    action : str
        ``"read"`` or ``"publish"``.
    model : str
        Model name.

    Returns
    -------
    answer : bool
    """
    for scope in scopes:
        if scope == "admin":
            return True
        act, _, pattern = scope.partition(":")
        if act == action and fnmatchcase(model, pattern):
            return True
    return False


class Authenticator:
    """Checks API keys against an in-memory table of the registry's active keys.

    Parameters
    ----------
    registry : Registry
        Where the hashed keys live.
    enabled : bool, default=True
        ``False`` lets every request through (for local experiments only).
    """

    _PREFIX = "mk_"

    def __init__(self, registry: Registry, enabled: bool = True) -> None:
        self.registry = registry
        self.enabled = enabled
        self._lock = threading.Lock()
        self._table: dict[str, tuple[str, ApiKey]] = registry.active_key_hashes() if enabled else {}

    def invalidate(self) -> None:
        """Re-read the key table (called, off the event loop, when the catalogue changed)."""
        if self.enabled:
            table = self.registry.active_key_hashes()
            with self._lock:
                self._table = table

    @staticmethod
    def _token(headers: Any) -> str | None:
        auth = headers.get("authorization")
        if auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
            return ""
        key = headers.get("x-api-key")
        return key.strip() if key is not None else None

    def _verify(self, token: str) -> ApiKey | None:
        if not token.startswith(self._PREFIX) or "." not in token or len(token) > 256:
            return None
        key_id, _, secret = token[len(self._PREFIX):].partition(".")
        entry = self._table.get(key_id)
        # Hash even when the id is unknown so both paths cost the same.
        supplied = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()
        stored = entry[0] if entry is not None else "0" * 64
        if not hmac.compare_digest(supplied, stored) or entry is None:
            return None
        return entry[1]

    def key_for(self, headers: Any) -> ApiKey | None:
        """The key a request presents; raises a 401 :class:`APIError` when missing or bad.

        Parameters
        ----------
        headers : mapping
            Request headers (case-insensitive mapping).

        Returns
        -------
        key : ApiKey or None
            ``None`` when authentication is disabled.
        """
        if not self.enabled:
            return None
        token = self._token(headers)
        if not token:
            raise APIError(401, "unauthenticated",
                               "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                               headers={"WWW-Authenticate": 'Bearer realm="maaskit"'})
        key = self._verify(token)
        if key is None:
            raise APIError(401, "unauthenticated", "the API key is invalid or revoked.",
                               headers={"WWW-Authenticate": 'Bearer realm="maaskit", error="invalid_token"'})
        return key

    def require_scope(self, headers: Any, scope: str) -> ApiKey | None:
        """Authenticate and check that the key holds ``scope`` (e.g. ``"metrics"``) or ``admin``.

        Parameters
        ----------
        headers : mapping
            Request headers.
        scope : str
            The scope needed.

        Returns
        -------
        key : ApiKey or None
        """
        key = self.key_for(headers)
        if key is not None and scope not in key.scopes and "admin" not in key.scopes:
            raise APIError(403, "forbidden", f"the API key {key.key_id!r} has no {scope!r} scope.",
                               detail={"scopes": list(key.scopes)})
        return key

    def require(self, headers: Any, action: str, model: str) -> ApiKey | None:
        """Authenticate and check that the key may ``action`` the model (401, then 403).

        Parameters
        ----------
        headers : mapping
            Request headers.
        action : str
            ``"read"`` or ``"publish"``.
        model : str
            Model name.

        Returns
        -------
        key : ApiKey or None
        """
        key = self.key_for(headers)
        if key is not None and not allowed(key.scopes, action, model):
            raise APIError(403, "forbidden",
                               f"the API key {key.key_id!r} has no {action!r} scope for model {model!r}.",
                               detail={"scopes": list(key.scopes)})
        return key

    def can(self, key: ApiKey | None, action: str, model: str) -> bool:
        """Whether an authenticated key (or disabled auth) may ``action`` the model.

        Parameters
        ----------
        key : ApiKey or None
            From :meth:`key_for`.
        action : str
            ``"read"`` or ``"publish"``.
        model : str
            Model name.

        Returns
        -------
        answer : bool
        """
        return key is None or allowed(key.scopes, action, model)
