"""Shared fixtures: seeding, data location, small known-answer interaction sets."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from maaskit.datasets import find_data_home


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)


@pytest.fixture
def block_interactions() -> pd.DataFrame:
    """Two taste groups: users 0-19 like items 0-9, users 20-39 like items 10-19.

    Each user has seen 7 of their group's 10 items; a model must recommend the other 3.
    String ids check that ids come back as given.
    """
    rng = np.random.RandomState(0)
    rows = []
    for u in range(40):
        group = 0 if u < 20 else 1
        items = rng.choice(10, size=7, replace=False) + 10 * group
        for i in items:
            rows.append((f"u{u}", f"i{i}", float(rng.randint(4, 6))))
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


@pytest.fixture(scope="session")
def shared_data_home() -> Path | None:
    """The real-data folder, or None when tests must fall back to generated data."""
    return find_data_home()
