"""Fixtures shared by the registry and serving tests: small fitted recommenders (fast to train).

Both ``conftest.py`` files load this module by path (the tests are not a package and run
with ``--import-mode=importlib``) and re-export its names, so pytest finds the fixtures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from maaskit import Recommender


def plays(seed: int = 0, n_users: int = 30, n_items: int = 25) -> pd.DataFrame:
    """Implicit plays with integer ids: every user has 6 distinct items."""
    rng = np.random.RandomState(seed)
    rows = [(u, int(i)) for u in range(n_users) for i in rng.choice(n_items, 6, replace=False)]
    return pd.DataFrame(rows, columns=["user", "item"])


@pytest.fixture
def model():
    return Recommender("als", n_factors=8, max_iter=3, random_state=0).fit(plays(0))


@pytest.fixture
def other_model():
    return Recommender("als", n_factors=8, max_iter=3, random_state=1).fit(plays(1))


@pytest.fixture
def make_plays():
    return plays
