"""User and item ids in requests: parse them into a model's id kind and look them up.

Ids arrive as URL text (``/users/{id}``) or as JSON values; a model's ids have one numpy
kind (int, float or str). Parsing never guesses across JSON types (``"1"`` is not ``1``),
and an id unknown because of its type gets a note that says so.
"""

from __future__ import annotations

from typing import Any, Container

import numpy as np

from ..exceptions import UnknownIdError
from .errors import APIError

__all__ = ["KIND_NAMES", "id_from_path", "id_from_json", "type_note", "resolve_ids"]

#: numpy kind of a model's ids -> the name messages use.
KIND_NAMES = {"i": "int", "u": "int", "f": "float", "U": "str", "O": "str", "S": "str"}


def id_from_path(raw: str, kind: str) -> Any:
    """Convert a URL path segment (text) to the model's id kind; ``None`` when it cannot be one."""
    if kind in "iu":
        return int(raw) if raw.lstrip("-").isdigit() and len(raw) < 40 else None
    if kind == "f":
        try:
            return float(raw)
        except ValueError:
            return None
    return raw


def id_from_json(raw: Any, kind: str) -> Any:
    """Keep a JSON id when its JSON type fits the model's id kind (no ``"1"`` -> ``1``), else ``None``."""
    if isinstance(raw, bool):
        return None
    if kind in "iu":
        return raw if isinstance(raw, int) else None
    if kind == "f":
        return float(raw) if isinstance(raw, (int, float)) else None
    return raw if isinstance(raw, str) else None


def type_note(raw: Any, entity: str, kind: str) -> str | None:
    """The note for an id whose type differs from the model's ids (``None`` if it does not).

    Parameters
    ----------
    raw : object
        The id as received.
    entity : str
        ``"user"`` or ``"item"``.
    kind : str
        The numpy kind of the model's ids.

    Returns
    -------
    note : str or None
        E.g. ``"'1' is a str; the model's user ids are int."``
    """
    want = KIND_NAMES.get(kind, "str")
    got = type(raw).__name__
    if got == want or (want == "float" and got == "int"):
        return None
    return f"{raw!r:.60} is a {got}; the model's {entity} ids are {want}."


def resolve_ids(raws: list, entity: str, kind: str, table: Container, where: str, *,
                from_path: bool = False, strict: bool = False) -> tuple[list, np.ndarray, list]:
    """Convert request ids to a model's ids and say which are known.

    Parameters
    ----------
    raws : list
        Ids as received (URL text when ``from_path``, JSON values otherwise).
    entity : str
        ``"user"`` or ``"item"``.
    kind : str
        The numpy kind of the model's ids.
    table : container
        The model's known ids (``len`` gives their number for messages).
    where : str
        For messages.
    from_path : bool, default=False
        The id comes from a URL path (text, converted to the model's kind).
    strict : bool, default=False
        An unknown id is a 404 ``unknown_<entity>`` rather than a fallback row.

    Returns
    -------
    keys : list
        Model ids (``None`` where the id cannot be one).
    known : ndarray of bool
    notes : list of (str or None)
        Why an unknown id is unknown when its type is the reason.
    """
    keys, known, notes = [], np.zeros(len(raws), dtype=bool), []
    for k, raw in enumerate(raws):
        key = id_from_path(raw, kind) if from_path else id_from_json(raw, kind)
        try:
            hit = key is not None and key in table
        except TypeError:  # unhashable
            hit = False
        note = None
        if not hit:
            if from_path:
                note = None if key is not None else (
                    f"{raw!r:.60} is not an {KIND_NAMES.get(kind, 'str')}; the model's {entity} ids are "
                    f"{KIND_NAMES.get(kind, 'str')}.")
            else:
                note = type_note(raw, entity, kind)
            if strict:
                shown = raw if isinstance(raw, (str, int)) and not isinstance(raw, bool) else repr(raw)[:60]
                message = str(UnknownIdError(entity, [shown], len(table), where))
                raise APIError(404, f"unknown_{entity}", message + (f" ({note})" if note else ""),
                               {f"{entity}_id": shown, "note": note})
        keys.append(key if hit else None)
        known[k] = hit
        notes.append(note)
    return keys, known, notes
