"""Numpydoc on maaskit.text's public API, and every fitted attribute documented."""

from __future__ import annotations

import importlib
import inspect
import warnings

import pytest
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

CHECKS = {"GL08", "SS01", "SS03", "PR01", "PR02", "PR03", "RT01", "GL07", "SS06"}


def _names():
    for modname in ("maaskit.text",):
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            qual = f"{obj.__module__}.{obj.__qualname__}"
            yield qual
            for meth, fn in vars(obj).items():
                if not meth.startswith("_") and inspect.isfunction(fn):
                    yield f"{qual}.{meth}"
    yield "maaskit.datasets._text.load_sentiment"


@pytest.mark.parametrize("name", sorted(set(_names())))
def test_numpydoc(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = validate(name)
    errors = [(code, msg) for code, msg in res["errors"] if code in CHECKS]
    assert not errors, f"{name}: {errors}"


def test_fitted_attributes_are_documented():
    from maaskit.text import DocumentVectorizer, SentimentClassifier, Word2Vec

    docs = ["good film , great fun", "bad film , awful plot"] * 10
    cases = [(Word2Vec(8, min_count=1, workers=1), ([d.split() for d in docs],)),
             (DocumentVectorizer(8, epochs=1), (docs,)),
             (SentimentClassifier(dim=4, epochs=1), (docs, [1, 0] * 10))]
    for est, args in cases:
        est.fit(*args)
        documented = set()
        for entry in ClassDoc(type(est))["Attributes"]:
            documented.update(n.strip() for n in entry.name.split(","))
        fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
        assert fitted <= documented, f"{type(est).__name__}: undocumented {fitted - documented}"
