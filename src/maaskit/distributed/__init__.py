"""Run maaskit past one machine on Dask and torch.distributed.

* :func:`recommend_batch` and :func:`predict_batch` score a Dask DataFrame or array
  partition by partition, with the model shipped once per worker, optionally to Parquet.
* :func:`fit_distributed` trains :class:`~maaskit.recommender.ALS` (block ALS, the Spark
  MLlib scheme) and :class:`~maaskit.recommender.MatrixFactorization` (DSGD) on
  interactions held in a Dask DataFrame; the result is an ordinary fitted estimator.
* :func:`fit_ddp` (local processes) and :func:`fit_ddp_rank` (one rank under ``torchrun``)
  train maaskit neural estimators data-parallel with ``torch.distributed``.
* Hyper-parameter search needs nothing of its own: scikit-learn's ``GridSearchCV`` runs
  maaskit estimators under ``joblib.parallel_backend("dask")``.

The Dask functions need the ``dask`` extra (``pip install 'maaskit[dask]'``), the DDP
functions need torch. Names are resolved lazily, so that the DDP worker processes never
import dask and ``import maaskit`` imports neither.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["fit_ddp", "fit_ddp_rank", "fit_distributed", "predict_batch", "recommend_batch"]

_HOMES = {
    "fit_ddp": "._ddp",
    "fit_ddp_rank": "._ddp",
    "fit_distributed": "._fit",
    "predict_batch": "._scoring",
    "recommend_batch": "._scoring",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if home != "._ddp":
        try:
            import dask.dataframe  # noqa: F401
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                f"maaskit.distributed.{name} needs dask[dataframe] and distributed; install "
                f"them with pip install 'maaskit[dask]'."
            ) from exc
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
