"""Issue 16 point 13: every warning maaskit raises names the user's line, on every call path."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from maaskit import Recommender
from maaskit.exceptions import ColdStartWarning
from maaskit.recommender import ALS


@pytest.fixture
def plays():
    return pd.DataFrame({"user": ["a", "a", "b", "c"], "item": ["x", "y", "x", "z"]})


def _caught(fn):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fn()
    assert record, "expected a warning"
    return record


def test_cold_start_warnings_point_here_through_every_door(plays):
    wrapped = Recommender(n_factors=2, max_iter=1, random_state=0).fit(plays)
    direct = ALS(n_factors=2, max_iter=1, random_state=0).fit(plays)
    for call in (lambda: wrapped.recommend("nobody", n=2),          # Recommender -> ALS
                 lambda: direct.recommend("nobody", n=2),           # ALS
                 lambda: direct.predict([["nobody", "x"]]),         # predict
                 lambda: wrapped.predict(pd.DataFrame({"user": ["a"], "item": ["new"]}))):
        for w in _caught(call):
            assert issubclass(w.category, ColdStartWarning)
            assert w.filename == __file__, (w.filename, str(w.message))


def test_convergence_warning_points_here():
    from maaskit.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 3), rng.randint(0, 2, 60)
    for w in _caught(lambda: LogisticRegression(max_iter=1).fit(X, y)):
        assert w.filename == __file__, (w.filename, str(w.message))
