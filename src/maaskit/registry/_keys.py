"""API keys of a registry: created, verified, listed and revoked in the catalogue's ``api_keys`` table.

Only a key's SHA-256 is stored; the token ``mk_<key_id>.<secret>`` is shown once, at creation.
:class:`ApiKeysMixin` holds the operations; :class:`~maaskit.registry.Registry` inherits them
and provides the SQLite connection and transactions they run in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ._errors import ModelNotFoundError

__all__ = ["ApiKey", "ApiKeysMixin"]

_KEY_PREFIX = "mk_"


@dataclass(frozen=True)
class ApiKey:
    """An API key's public record (the secret itself is never stored).

    Parameters
    ----------
    key_id : str
        Public identifier, the part of the token before the dot.
    scopes : tuple of str
        ``"read:<pattern>"``, ``"publish:<pattern>"`` (shell-style patterns over model
        names) or ``"admin"``.
    label : str
        Free text naming the holder.
    created : float
        Unix time of creation.
    revoked : bool
        Revoked keys never authenticate.
    """

    key_id: str
    scopes: tuple
    label: str = ""
    created: float = 0.0
    revoked: bool = False


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ApiKeysMixin:
    """The API-key methods of :class:`~maaskit.registry.Registry`.

    The host class provides ``_connect()`` (a connection for reads), ``_transaction()``
    (a write transaction) and ``_bump(con)`` (moves the change stamp servers watch).
    """

    def create_key(self, scopes: Any, *, label: str = "") -> tuple[ApiKey, str]:
        """Create an API key; only its SHA-256 is stored, the token is returned once.

        Parameters
        ----------
        scopes : iterable of str
            ``"read:<pattern>"``, ``"publish:<pattern>"``, ``"metrics"`` (scrape ``/metrics``)
            or ``"admin"``; patterns are shell-style over model names (``"read:*"``,
            ``"publish:films-*"``).
        label : str, default=""
            Who holds the key.

        Returns
        -------
        key : ApiKey
            The public record.
        token : str
            The secret token ``mk_<key_id>.<secret>`` to give to the client.
        """
        scopes = tuple(_check_scopes(scopes, "Registry.create_key"))
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = time.time()
        with self._transaction() as con:
            con.execute("INSERT INTO api_keys (key_id, secret_sha256, scopes, label, created, revoked) "
                        "VALUES (?,?,?,?,?,0)", (key_id, _sha256(secret.encode()), json.dumps(scopes),
                                                 str(label), now))
            self._bump(con)
        return ApiKey(key_id, scopes, str(label), now, False), f"{_KEY_PREFIX}{key_id}.{secret}"

    def verify_key(self, token: str) -> ApiKey | None:
        """Return the key record if ``token`` is a valid, unrevoked key, else ``None``.

        The secret is compared by hash with :func:`hmac.compare_digest` (constant time).

        Parameters
        ----------
        token : str
            ``mk_<key_id>.<secret>``.

        Returns
        -------
        key : ApiKey or None
        """
        if not isinstance(token, str) or not token.startswith(_KEY_PREFIX) or "." not in token:
            return None
        key_id, _, secret = token[len(_KEY_PREFIX):].partition(".")
        row = self._connect().execute(
            "SELECT key_id, secret_sha256, scopes, label, created, revoked FROM api_keys WHERE key_id = ?",
            (key_id,)).fetchone()
        # Hash even when the id is unknown so both paths cost the same.
        supplied = _sha256(secret.encode())
        stored = row[1] if row else "0" * 64
        if not hmac.compare_digest(supplied, stored) or row is None or row[5]:
            return None
        return ApiKey(row[0], tuple(json.loads(row[2])), row[3], float(row[4]), bool(row[5]))

    def active_key_hashes(self) -> dict[str, tuple[str, ApiKey]]:
        """The active keys with their secrets' SHA-256, for a server's in-memory key table.

        A server verifies tokens against this table (refreshed when the change stamp moves)
        rather than querying SQLite per request, so invalid tokens cost no database read.

        Returns
        -------
        table : dict
            ``key_id -> (secret_sha256_hex, ApiKey)`` for unrevoked keys.
        """
        rows = self._connect().execute(
            "SELECT key_id, secret_sha256, scopes, label, created FROM api_keys WHERE revoked = 0").fetchall()
        return {r[0]: (r[1], ApiKey(r[0], tuple(json.loads(r[2])), r[3], float(r[4]), False)) for r in rows}

    def list_keys(self) -> list[ApiKey]:
        """All API keys (public records only).

        Returns
        -------
        keys : list of ApiKey
        """
        rows = self._connect().execute(
            "SELECT key_id, scopes, label, created, revoked FROM api_keys ORDER BY created").fetchall()
        return [ApiKey(r[0], tuple(json.loads(r[1])), r[2], float(r[3]), bool(r[4])) for r in rows]

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key; servers stop accepting it at their next catalogue check.

        Parameters
        ----------
        key_id : str
            The key's public id.
        """
        with self._transaction() as con:
            cur = con.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ?", (str(key_id),))
            if cur.rowcount == 0:
                raise ModelNotFoundError(f"Registry.revoke_key: no API key with id {key_id!r}.")
            self._bump(con)


def _check_scopes(scopes: Any, where: str) -> list[str]:
    if isinstance(scopes, str):
        scopes = [scopes]
    out = []
    for s in scopes:
        action, sep, pattern = str(s).partition(":")
        if s in ("admin", "metrics") or (sep and action in ("read", "publish") and pattern):
            out.append(str(s))
        else:
            raise ValueError(f"{where}: scope must be 'read:<pattern>', 'publish:<pattern>', 'metrics' or 'admin'; "
                             f"got {s!r}.")
    if not out:
        raise ValueError(f"{where}: scopes must not be empty.")
    return out
