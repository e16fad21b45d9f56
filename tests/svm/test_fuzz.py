"""Hypothesis fuzzing of SVMClassifier's public entry points on small random problems."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from maaskit.svm import SVMClassifier

CONFIGS = [dict(kernel="rbf"), dict(kernel="poly", coef0=1.0), dict(kernel="sigmoid", gamma=0.01),
           dict(kernel="linear"), dict(kernel="linear", solver="dual_cd", loss="hinge"),
           dict(kernel="linear", solver="smo")]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(6, 40), d=st.integers(1, 6), k=st.integers(2, 4),
       cfg=st.sampled_from(CONFIGS), sparse=st.booleans(), float32=st.booleans(),
       C=st.floats(0.01, 100.0), seed=st.integers(0, 2**16))
def test_fit_predict_contract(n, d, k, cfg, sparse, float32, C, seed):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % k  # every class present
    X = rng.randn(n, d) + y[:, None]
    X = X.astype(np.float32 if float32 else np.float64)
    Xin = sp.csr_matrix(X) if sparse else X
    with warnings.catch_warnings():
        if cfg.get("loss") == "hinge":
            # Hinge-loss dual CD on overlapping classes with large C can need more than
            # 1e5 passes (LinearSVC too); the warning is then correct, the output still
            # has to satisfy the contract below.
            warnings.simplefilter("ignore", ConvergenceWarning)
        m = SVMClassifier(C=C, random_state=0, max_iter=100000, **cfg).fit(Xin, y)
    dec = m.decision_function(Xin)
    pred = m.predict(Xin)
    assert np.all(np.isfinite(dec))
    if k == 2:
        assert dec.shape == (n,)
        np.testing.assert_array_equal(pred, (dec > 0).astype(int))
    else:
        assert dec.shape == (n, k)
        np.testing.assert_array_equal(pred, dec.argmax(axis=1))
    ovo = k > 2 and m.solver_ == "smo" and cfg.get("kernel") != "linear"
    assert m.multi_class_ == ("ovo" if ovo else "ovr")
    n_problems = 1 if k == 2 else (k * (k - 1) // 2 if ovo else k)
    assert np.all(m.n_iter_ >= 0) and m.n_iter_.shape == (n_problems,)
