"""What the catalogue records about a version, and the checks on what a publisher hands it.

:class:`ModelVersion` is one catalogue row; ``training_history`` turns an estimator's
``history_`` into bounded plain series; ``_check_tags``/``_check_metrics`` vet the
publisher's free-form dicts before they reach SQLite.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ModelVersion", "model_kind", "training_history"]


@dataclass(frozen=True)
class ModelVersion:
    """One published version of a model, as the catalogue records it.

    Parameters
    ----------
    name : str
        Model name.
    version : int
        Version number (1, 2, ... per name, never reused).
    sha256 : str
        SHA-256 of the artifact bytes.
    size : int
        Artifact size in bytes.
    estimator_class : str
        Allow-listed class key of the estimator (e.g. ``maaskit.Recommender``).
    description : str
        Free text.
    tags : dict
        String tags (``{"team": "discovery"}``).
    metrics : dict
        Numeric metrics recorded at publish time.
    signature : dict
        Input signature (see :func:`~maaskit.registry.infer_signature`).
    created : float
        Unix time of publication.
    archived : bool
        Archived versions are kept but hidden from listings and never picked as latest.
    aliases : tuple of str
        Aliases pointing at this version.
    path : str
        Artifact path relative to the registry folder.
    """

    name: str
    version: int
    sha256: str
    size: int
    estimator_class: str
    description: str = ""
    tags: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    signature: dict = field(default_factory=dict)
    created: float = 0.0
    archived: bool = False
    aliases: tuple = ()
    path: str = ""

    def to_dict(self) -> dict:
        """Return the record as a JSON-able dict (without the internal path).

        Returns
        -------
        record : dict
        """
        d = asdict(self)
        d.pop("path")
        d["aliases"] = list(self.aliases)
        return d


def model_kind(signature: dict) -> str:
    """What a model is, from its input signature: recommender, classifier, regressor, ...

    Parameters
    ----------
    signature : dict
        See :func:`~maaskit.registry.infer_signature`.

    Returns
    -------
    kind : str
    """
    kind = str(signature.get("kind", "unknown"))
    if kind == "tabular":
        return "classifier" if signature.get("classes") else "regressor"
    return kind


#: Bounds on a recorded history: a few series of at most this many epochs each.
_MAX_HISTORY_SERIES = 16
_MAX_HISTORY_EPOCHS = 100_000


def training_history(estimator: Any) -> dict:
    """The ``history_`` of an estimator as series of numbers, one value per epoch.

    Estimators keep ``history_`` in one of three shapes: a dict of lists (neural networks:
    ``{"loss": [...], "val_score": [...]}``), a list of numbers (one loss per epoch), or a
    list of dicts (one record per epoch). All become a dict of lists of float; non-finite
    values become ``None`` (JSON has no NaN) and non-numeric fields are dropped.

    Parameters
    ----------
    estimator : estimator
        Any object; one without ``history_`` gives ``{}``.

    Returns
    -------
    history : dict of str to list of float or None
    """
    raw = getattr(estimator, "history_", None)
    series: dict[str, list] = {}
    if isinstance(raw, dict):
        series = {str(k): list(v) for k, v in raw.items() if isinstance(v, (list, tuple))}
    elif isinstance(raw, (list, tuple)) and raw and all(isinstance(r, dict) for r in raw):
        keys = [k for k in raw[0] if k != "epoch"]
        series = {str(k): [r.get(k) for r in raw] for k in keys}
    elif isinstance(raw, (list, tuple)):
        series = {"loss": list(raw)}
    out = {}
    for key, values in list(series.items())[:_MAX_HISTORY_SERIES]:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None
                   for v in values):
            continue
        clean = [_finite_or_none(v) for v in values[:_MAX_HISTORY_EPOCHS]]
        if clean:
            out[key] = clean
    return out


def _finite_or_none(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, OverflowError):  # None, or an int too large for a float
        return None
    return x if math.isfinite(x) else None


def _check_tags(tags: Any, where: str) -> dict:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float, bool))
                                             for k, v in tags.items()):
        raise TypeError(f"{where}: tags must be a dict of str to str/number; got {tags!r}.")
    return {k: v for k, v in tags.items()}


def _check_metrics(metrics: Any, where: str) -> dict:
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise TypeError(f"{where}: metrics must be a dict of str to float; got {metrics!r}.")
    out = {}
    for k, v in metrics.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{where}: metrics must be a dict of str to float; got {metrics!r}.")
        out[k] = float(v)
    return out
