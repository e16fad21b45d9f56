"""Validation of model names, aliases and version references (nothing escapes the store)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NAME_PATTERN", "validate_name", "validate_alias", "parse_ref"]

#: Model names and aliases: a letter or digit, then letters, digits, ``.``, ``_`` or ``-``.
#: No ``/``, no leading dot: a name is always a single, non-hidden path component.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def validate_name(name: Any, what: str = "model name", where: str = "Registry") -> str:
    """Return ``name`` if it is a valid model name, else raise ``ValueError``.

    Parameters
    ----------
    name : object
        The candidate name.
    what : str, default="model name"
        What the name is, for the message.
    where : str, default="Registry"
        ``<Class>.<method>`` that validates, for the message.

    Returns
    -------
    name : str
    """
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None or name in (".", ".."):
        raise ValueError(
            f"{where}: {what} must match [A-Za-z0-9][A-Za-z0-9._-]{{0,127}} (letters, digits, "
            f"'.', '_', '-'; no '/'); got {name!r}."
        )
    return name


def validate_alias(alias: Any, where: str = "Registry") -> str:
    """Return ``alias`` if it is a valid alias (a name that is not a number or ``latest``).

    Parameters
    ----------
    alias : object
        The candidate alias.
    where : str, default="Registry"
        For the message.

    Returns
    -------
    alias : str
    """
    validate_name(alias, "alias", where)
    if alias.isdigit() or alias == "latest":
        raise ValueError(
            f"{where}: alias must not be a number or 'latest' (those name versions); got {alias!r}."
        )
    return alias


def parse_ref(ref: Any, where: str = "Registry") -> int | str | None:
    """Normalise a version reference: ``None``, a version number, ``"latest"`` or an alias.

    Parameters
    ----------
    ref : None, int or str
        ``None`` (the ``production`` alias if set, else the latest version), a version
        number (int or digit string), ``"latest"`` or an alias.
    where : str, default="Registry"
        For the message.

    Returns
    -------
    ref : None, int or str
    """
    if ref is None or ref == "":
        return None
    if isinstance(ref, bool):
        raise ValueError(f"{where}: version must be a positive int or an alias; got {ref!r}.")
    if isinstance(ref, int):
        if ref < 1:
            raise ValueError(f"{where}: version must be a positive int or an alias; got {ref!r}.")
        return ref
    if isinstance(ref, str):
        if ref.isdigit():
            return parse_ref(int(ref), where)
        if ref == "latest":
            return ref
        return validate_name(ref, "alias", where)
    raise ValueError(f"{where}: version must be a positive int or an alias; got {ref!r}.")
