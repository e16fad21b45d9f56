"""The served OpenAPI document is valid OpenAPI 3.1 (checked by openapi-spec-validator) and
covers every route."""

from __future__ import annotations

import copy

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from maaskit.serving import create_app
from maaskit.serving.openapi import openapi_document


def test_openapi_document_is_valid():
    doc = openapi_document()
    validate(doc)
    # The validator does check: a broken copy is refused.
    broken = copy.deepcopy(doc)
    broken["paths"]["/v1/recommend/{user_id}"]["get"]["parameters"][0]["in"] = "body"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_openapi_covers_every_route(tmp_path):
    app = create_app(tmp_path)
    doc = openapi_document()
    assert {r.path for r in app.routes} == set(doc["paths"])
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert {"200", "201"} & set(op["responses"]), path
