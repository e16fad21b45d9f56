"""Model registry ("model market"): publish, version, alias and load fitted estimators.

An embedded SQLite catalogue plus a folder of checksummed ``.npz`` artifacts; no server to
start. See :class:`Registry`.
"""

from ._catalogue import (
    HOME_ENV_VAR,
    ApiKey,
    ModelNotFoundError,
    ModelVersion,
    Registry,
    default_home,
)
from ._names import parse_ref, validate_alias, validate_name
from ._signature import infer_signature

__all__ = [
    "Registry",
    "ModelVersion",
    "ApiKey",
    "ModelNotFoundError",
    "default_home",
    "infer_signature",
    "validate_name",
    "validate_alias",
    "parse_ref",
    "HOME_ENV_VAR",
]
