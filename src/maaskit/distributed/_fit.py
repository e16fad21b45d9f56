"""``fit_distributed``: train a maaskit recommender on interactions held in a Dask DataFrame.

The entry point only: it picks the trainer (:mod:`._als` block ALS, :mod:`._mf` DSGD). The
steps both share (validate partitions where they live, build the id indexes, deal the
interactions into blocks that stay on the workers, assemble the fitted estimator on the
client) live in :mod:`._blocks`, which both trainers import.
Only ids, factors and the seen-items matrix (which ``recommend`` needs) come back to the
client; the training data never does.
"""

from __future__ import annotations

import numbers
from typing import Any

from ..recommender import ALS, MatrixFactorization
from ._als import fit_als
from ._blocks import WHERE, n_workers_of, resolve_client
from ._mf import fit_mf

__all__ = ["fit_distributed"]


def fit_distributed(estimator: Any, X: Any, client: Any = None, *, n_blocks: int | None = None) -> Any:
    """Fit a maaskit ALS or MatrixFactorization on interactions held in a Dask DataFrame.

    The interactions never leave the workers: they are validated and cut into blocks
    there, and only factors travel. ``ALS`` is trained by block ALS, the Spark MLlib
    scheme: users and items are split into ``n_blocks`` blocks each; every half-iteration
    sends each user block just the item factors its users rated (and back), and solves
    its users with the ``als`` kernel. ``MatrixFactorization`` is trained by DSGD
    (Gemulla et al. 2011): the rating matrix is cut into ``n_blocks x n_blocks`` cells,
    and each epoch runs ``n_blocks`` strata of ``n_blocks`` cells that share no user and
    no item, in parallel, with the ``sgd`` kernel. All hyper-parameters of the estimator
    apply.

    Parameters
    ----------
    estimator : ALS or MatrixFactorization
        An estimator whose hyper-parameters to use; it is fitted in place.
    X : dask DataFrame or pandas DataFrame
        Interactions with ``user`` and ``item`` columns and a ``rating`` column (required
        for ``MatrixFactorization``), as the in-process ``fit`` takes.
    client : distributed.Client, default=None
        The cluster to run on; ``None`` uses the default client.
    n_blocks : int, default=None
        Blocks per side; ``None`` uses the number of workers.

    Returns
    -------
    estimator : ALS or MatrixFactorization
        The same estimator, fitted: ``recommend``, ``predict``, ``save`` work as after
        the in-process ``fit``.
    """
    client = resolve_client(client)
    if n_blocks is None:
        n_blocks = n_workers_of(client)
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, numbers.Integral) or n_blocks < 1:
        raise ValueError(f"{WHERE}: n_blocks must be a positive int; got {n_blocks!r}.")
    if type(estimator) is ALS:
        return fit_als(estimator, X, client, int(n_blocks))
    if type(estimator) is MatrixFactorization:
        return fit_mf(estimator, X, client, int(n_blocks))
    raise TypeError(
        f"{WHERE}: estimator must be a maaskit ALS or MatrixFactorization; "
        f"got {type(estimator).__name__}."
    )
