"""Exceptions and warnings raised by maaskit, all under one root, :class:`MaaskitError`."""

from __future__ import annotations


__all__ = [
    "MaaskitError",
    "NotFittedError",
    "UnknownIdError",
    "ModelFitError",
    "ArtifactError",
    "ValidationError",
    "DeviceWarning",
    "DataConversionWarning",
    "ColdStartWarning",
]


class MaaskitError(Exception):
    """Root of every exception that maaskit raises on purpose."""


def _make_not_fitted_error() -> type:
    from sklearn.exceptions import NotFittedError as _SkNotFittedError

    class NotFittedError(MaaskitError, _SkNotFittedError):
        """An estimator was used before ``fit``; also a scikit-learn ``NotFittedError``."""

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = "NotFittedError"
    return NotFittedError


def __getattr__(name: str) -> type:
    # NotFittedError subclasses scikit-learn's, and importing scikit-learn costs 1-2 s
    # (sklearn.base loads scipy.stats): build the class on first use (PEP 562), so that
    # `import maaskit` and a recommender fit do not pay for it. One class per process.
    if name == "NotFittedError":
        cls = _make_not_fitted_error()
        globals()["NotFittedError"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UnknownIdError(MaaskitError, KeyError):
    """A user or item id that the fitted model has never seen.

    Parameters
    ----------
    kind : str
        ``"user"`` or ``"item"``.
    ids : list
        The unknown ids (the first few are shown).
    n_known : int
        How many ids of that kind the model knows.
    where : str, default=""
        ``"<Estimator>.<method>"`` that raised, for the message.
    hint : str, default=""
        A sentence appended to the message, e.g. that ``'1'`` is a str while the model's
        ids are int (see ``maaskit.utils._ids.id_type_hint``).
    """

    def __init__(self, kind: str, ids: list, n_known: int, where: str = "", hint: str = "") -> None:
        self.kind = kind
        self.ids = list(ids)
        self.n_known = n_known
        self.where = where
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:  # KeyError would quote the message; we want it plain.
        shown = ", ".join(repr(i) for i in self.ids[:5])
        more = f" (and {len(self.ids) - 5} more)" if len(self.ids) > 5 else ""
        prefix = f"{self.where}: " if self.where else ""
        return (
            f"{prefix}unknown {self.kind} id(s) {shown}{more}; the model knows "
            f"{self.n_known} {self.kind} ids. "
            + (f"{self.hint} " if self.hint else "")
            + "Fit or partial_fit with interactions for them first."
        )


class ModelFitError(MaaskitError, RuntimeError):
    """Training diverged or could not proceed (the message says how to fix it)."""


class ArtifactError(MaaskitError, ValueError):
    """A saved model is foreign, tampered with, or of an unsupported format version."""


class ValidationError(MaaskitError, ValueError):
    """An input that cannot be used as given (e.g. interactions without an order); also a ``ValueError``."""


class DeviceWarning(UserWarning):
    """A model was moved to another device than the one requested (e.g. CUDA -> CPU)."""


class DataConversionWarning(UserWarning):
    """Input data was converted (dtype, format) at a cost the user may want to avoid."""


class ColdStartWarning(UserWarning):
    """Some users were unknown to the model and got the popularity fallback."""
