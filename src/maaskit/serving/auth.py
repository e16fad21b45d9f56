"""API-key authentication and per-model scopes (401 without a valid key, 403 without the scope).

Keys live hashed in the registry catalogue (:meth:`maaskit.registry.Registry.create_key`).
A client sends ``Authorization: Bearer mk_<id>.<secret>`` or ``X-API-Key: mk_<id>.<secret>``.
"""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase
from typing import Any

from ..registry import ApiKey, Registry
from .errors import ServiceError

__all__ = ["Authenticator", "allowed"]

_CACHE_MAX = 4096


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
    """Checks API keys against the registry, with a cache that a catalogue change clears.

    Parameters
    ----------
    registry : Registry
        Where the hashed keys live.
    enabled : bool, default=True
        ``False`` lets every request through (for local experiments only).
    """

    def __init__(self, registry: Registry, enabled: bool = True) -> None:
        self.registry = registry
        self.enabled = enabled
        # sha256(token) -> ApiKey or None. Keyed by a hash so raw tokens are not kept in memory.
        self._cache: dict[str, ApiKey | None] = {}

    def invalidate(self) -> None:
        """Forget cached verdicts (called when the catalogue changes: a key may be revoked)."""
        self._cache.clear()

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

    def key_for(self, headers: Any) -> ApiKey | None:
        """The key a request presents; raises a 401 :class:`ServiceError` when missing or bad.

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
            raise ServiceError(401, "unauthenticated",
                               "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                               headers={"WWW-Authenticate": 'Bearer realm="maaskit"'})
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        if digest in self._cache:
            key = self._cache[digest]
        else:
            key = self.registry.verify_key(token)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = key
        if key is None:
            raise ServiceError(401, "unauthenticated", "the API key is invalid or revoked.",
                               headers={"WWW-Authenticate": 'Bearer realm="maaskit", error="invalid_token"'})
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
            raise ServiceError(403, "forbidden",
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
