"""A small in-process Dask cluster shared by the distributed tests, closed cleanly."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def client():
    """Two single-threaded workers in this process (no process start-up cost)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                           dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()
