"""Numpydoc on the linear models' public API, and every fitted attribute documented."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

import maaskit.linear_model as lm

CHECKS = {"GL08", "SS01", "SS03", "PR01", "PR02", "PR03", "RT01", "GL07", "SS06"}
NAMES = sorted(
    [f"maaskit.linear_model.{n}" for n in lm.__all__]
    + [f"maaskit.linear_model.{n}.{m}" for n in lm.__all__
       for m, fn in vars(getattr(lm, n)).items()
       if not m.startswith("_") and (inspect.isfunction(fn) or hasattr(fn, "__wrapped__") or hasattr(fn, "fn"))]
)


@pytest.mark.parametrize("name", NAMES)
def test_numpydoc(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = validate(name)
    errors = [(code, msg) for code, msg in res["errors"] if code in CHECKS]
    assert not errors, f"{name}: {errors}"


@pytest.mark.parametrize("name", lm.__all__)
def test_fitted_attributes_are_documented(name):
    cls = getattr(lm, name)
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] > 0).astype(int) if "Class" in name or "Logistic" in name else X[:, 0]
    est = cls().fit(X, y)
    documented = {p.name.split(":")[0].strip() for p in ClassDoc(cls)["Attributes"]}
    fitted = {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}
    assert fitted <= documented, fitted - documented
