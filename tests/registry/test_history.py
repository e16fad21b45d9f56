"""Publishing records the estimator's learning curve (``history_``) with its metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from maaskit.persistence import dumps
from maaskit.recommender import MatrixFactorization
from maaskit.registry import Registry
from maaskit.registry._records import training_history


@pytest.fixture(scope="module")
def mf():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 40, 400),
                       "rating": rng.integers(1, 6, 400).astype(float)})
    return MatrixFactorization(n_factors=4, max_iter=6, random_state=0).fit(df)


def test_publish_records_history_and_metrics(tmp_path, mf):
    reg = Registry(tmp_path)
    assert len(mf.history_["loss"]) == 6
    reg.publish("films", mf, metrics={"rmse": 0.91}, tags={"team": "tv"})
    assert reg.history("films") == {"loss": mf.history_["loss"]}
    assert reg.get_version("films", 1).metrics == {"rmse": 0.91}
    # Over HTTP the artifact's bytes are published: the history comes from the loaded model.
    reg.publish_bytes("films", dumps(mf))
    assert reg.history("films", 2) == {"loss": mf.history_["loss"]}
    reg.delete("films", 2)
    with pytest.raises(KeyError):
        reg.history("films", 2)


def test_history_shapes_become_series():
    class Est:
        pass

    est = Est()
    assert training_history(est) == {}
    est.history_ = [1.0, float("nan"), 0.5]
    assert training_history(est) == {"loss": [1.0, None, 0.5]}
    est.history_ = [{"epoch": 1, "loss": 2.0, "note": "x"}, {"epoch": 2, "loss": 1.0, "note": "y"}]
    assert training_history(est) == {"loss": [2.0, 1.0]}
    est.history_ = {"loss": [3, 2], "val_score": [0.5, math.inf], "bad": "text", "big": [10 ** 400]}
    assert training_history(est) == {"loss": [3.0, 2.0], "val_score": [0.5, None], "big": [None]}
    est.history_ = {"x": ["a", 1.0]}, 3
    assert training_history(est) == {}
