"""Public API docstrings follow numpydoc, and every fitted attribute is documented."""

from __future__ import annotations

import importlib
import inspect
import warnings

import numpy as np
import pytest
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

MODULES = ["maaskit", "maaskit.recommender", "maaskit.metrics", "maaskit.model_selection",
           "maaskit.datasets", "maaskit.persistence", "maaskit.registry", "maaskit.serving",
           "maaskit.client", "maaskit.svm", "maaskit.linear_model",
           "maaskit.neural_network", "maaskit.distributed", "maaskit.ensemble",
           "maaskit.text"]
# Checks we hold the public API to: missing docstring, summary form, undocumented or
# misnamed parameters, missing Returns, bad section order.
CHECKS = {"GL08", "SS01", "SS03", "PR01", "PR02", "PR03", "RT01", "GL07", "SS06"}


def _public_objects():
    seen = set()
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            seen.add(id(obj))
            qual = f"{obj.__module__}.{obj.__qualname__}"
            yield qual
            if inspect.isclass(obj):
                for meth, fn in vars(obj).items():
                    if not meth.startswith("_") and inspect.isfunction(fn):
                        yield f"{qual}.{meth}"


@pytest.mark.parametrize("name", sorted(set(_public_objects())))
def test_numpydoc(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = validate(name)
    errors = [(code, msg) for code, msg in res["errors"] if code in CHECKS]
    assert not errors, f"{name}: {errors}"


def test_fitted_attributes_are_documented(block_interactions):
    import maaskit.recommender as rec

    for name in rec.__all__:
        cls = getattr(rec, name)
        if name == "BaseRecommender":
            continue
        est = cls()
        if "random_state" in est.get_params():
            est.set_params(random_state=0)
        # a timestamp column: SASRec needs the order, the others ignore it
        est.fit(block_interactions.assign(timestamp=np.arange(len(block_interactions))))
        documented = set()
        for entry in ClassDoc(cls)["Attributes"]:
            documented.update(n.strip() for n in entry.name.split(","))
        fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
        assert fitted <= documented, f"{name} does not document {sorted(fitted - documented)}"
