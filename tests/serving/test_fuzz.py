"""Fuzz: whatever a client sends, the service answers JSON with a status < 500 and keeps serving."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import httpx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maaskit.registry import Registry
from maaskit.serving import create_app

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)
_tensor = st.fixed_dictionaries({
    "name": st.one_of(st.text(max_size=5), st.integers()),
    "shape": st.one_of(st.lists(st.integers(-2, 6), max_size=3), _json),
    "datatype": st.sampled_from(["FP32", "FP64", "INT64", "INT32", "BYTES", "BOOL", "UINT8", "x"]),
    "data": st.one_of(st.lists(st.one_of(st.integers(-5, 40), st.floats(allow_nan=False), st.text(max_size=3),
                                         st.booleans()), max_size=12), _json),
})
_infer_body = st.one_of(_json, st.fixed_dictionaries(
    {"inputs": st.lists(_tensor, max_size=2)},
    optional={"parameters": st.one_of(_json, st.fixed_dictionaries({"n": _json, "exclude_seen": _json})),
              "outputs": _json, "id": _json}))
_predict_body = st.one_of(_json, st.fixed_dictionaries(
    {"instances": st.one_of(_json, st.lists(st.lists(st.integers(-3, 40) | st.floats(allow_nan=False)
                                                     | st.text(max_size=3), max_size=5), max_size=4))},
    optional={"method": _json, "version": _json}))
_segment = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


def test_fuzz_requests_never_500(tmp_path, model):
    reg = Registry(tmp_path)
    reg.publish("films", model, alias="production")
    _, token = reg.create_key(["read:*", "publish:*"])
    app = create_app(reg, reload_interval=60.0, batching=True, allow_publish=True)
    loop = asyncio.new_event_loop()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    http = httpx.AsyncClient(transport=transport, base_url="http://fuzz", headers={"Authorization": f"Bearer {token}"})

    def send(method, url, **kw):
        r = loop.run_until_complete(http.request(method, url, **kw))
        assert r.status_code < 500, (method, url, kw, r.text)
        if r.status_code >= 400:
            err = r.json()["error"]
            assert set(err) == {"type", "message", "detail"}
        return r

    settings_ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

    @settings_
    @given(body=_infer_body, name=st.sampled_from(["films", "nope", "films/versions/1", "films/versions/x"]))
    def fuzz_infer(body, name):
        send("POST", f"/v2/models/{name}/infer", content=json.dumps(body))

    @settings_
    @given(body=_predict_body)
    def fuzz_predict(body):
        send("POST", "/v1/predict/films", content=json.dumps(body))

    @settings_
    @given(user=_segment, n=_segment, exclude=_segment, version=_segment)
    def fuzz_recommend(user, n, exclude, version):
        send("GET", "/v1/recommend/" + quote(user, safe=""),
             params={"model": "films", "n": n, "exclude_seen": exclude, "version": version})
        send("GET", "/v1/similar/x", params={"model": user, "n": n})

    @settings_
    @given(raw=st.binary(max_size=300), meta=st.text(max_size=30))
    def fuzz_raw_bytes(raw, meta):
        send("POST", "/v2/models/films/infer", content=raw)
        send("POST", "/v1/models/films", content=raw, params={"meta": meta})
        send("PUT", "/v1/models/films/aliases/production", content=raw)

    try:
        fuzz_infer()
        fuzz_predict()
        fuzz_recommend()
        fuzz_raw_bytes()
        # The worker is still healthy and answers correctly.
        r = send("GET", "/v1/recommend/3", params={"model": "films", "n": 4})
        assert r.json()["items"] == model.recommend(3, n=4)[0].tolist()
        assert np.all(np.isfinite(r.json()["scores"]))
    finally:
        loop.run_until_complete(http.aclose())
        loop.close()
