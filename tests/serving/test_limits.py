"""Issue 12, the server part: every request is bounded, CPU work is shed or timed out rather
than queued without bound, invalid keys cannot flood the catalogue; issue 16 point 1: unknown
users get the library's popularity fallback, marked per row."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest

from maaskit.__main__ import main
from maaskit.exceptions import ColdStartWarning
from maaskit.registry import Registry
from maaskit.serving import APIError, create_app
from maaskit.serving.limits import Limits, check_json_depth
from maaskit.serving.pool import WorkerPool



class SyncClient:
    """Drive an ASGI app in-process through httpx.ASGITransport, one event loop per call."""

    def __init__(self, app, headers=None):
        self.app, self.headers = app, dict(headers or {})

    def request(self, method, url, **kw):
        async def go():
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=self.headers) as c:
                return await c.request(method, url, **kw)

        return asyncio.run(go())

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, **kw):
        return self.request("POST", url, **kw)


def assert_error(r, status, type_):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == type_ and isinstance(err["message"], str) and "detail" in err
    return err


@pytest.fixture
def films(tmp_path, model):
    reg = Registry(tmp_path)
    reg.publish("films", model)
    _, reader = reg.create_key(["read:*"])
    return reg, reader


def _client(reg, token, **kw):
    kw.setdefault("reload_interval", 0.0)
    return SyncClient(create_app(reg, **kw), {"Authorization": f"Bearer {token}"})


def _users(data, **params):
    return {"inputs": [{"name": "user_id", "shape": [len(data)], "datatype": "INT64", "data": data}],
            "parameters": params}


def test_the_issue_attack_is_refused_at_once(films):
    reg, reader = films
    c = _client(reg, reader)
    body = json.dumps(_users([3] * 300_000, n=1000)).encode()
    assert len(body) < 1 << 20  # the issue's 900 KB body fits the default body limit
    err = assert_error(c.post("/v2/models/films/infer", content=body), 413, "limit_exceeded")
    assert err["detail"]["limit"] in ("max_tensor_elements", "max_users")


def test_each_limit_is_named_with_its_value(films):
    reg, reader = films
    c = _client(reg, reader, max_users=50, max_n=20, max_output_cells=200, max_tensor_elements=100)
    cases = [(_users([3] * 51, n=2), 413, "max_users"),
             (_users([3] * 2, n=21), 422, "max_n"),
             (_users([3] * 20, n=11), 413, "max_output_cells"),
             ({"inputs": [{"name": "user_id", "shape": [101], "datatype": "INT64", "data": [3] * 101}]}, 413,
              "max_tensor_elements")]
    for body, status, name in cases:
        err = assert_error(c.post("/v2/models/films/infer", json=body), status, "limit_exceeded")
        assert err["detail"]["limit"] == name and str(err["detail"]["value"]) in err["message"]
    # The largest request the limits allow is answered (n is capped to the catalogue).
    r = c.post("/v2/models/films/infer", json=_users(list(range(20)), n=10))
    assert r.status_code == 200 and r.json()["outputs"][0]["shape"] == [20, 10]
    err = assert_error(c.post("/v1/predict/films", json={"instances": [[0, 1]] * 101}), 413, "limit_exceeded")
    assert err["detail"]["limit"] == "max_tensor_elements"
    assert c.get("/v2").json()["limits"]["max_users"] == 50


def test_json_depth_is_checked_without_parsing():
    limit = 5
    check_json_depth(b'{"a": [[["[[[[[[[[[["]]]}', limit, "t")  # brackets in strings do not count
    check_json_depth(b'{"a": "\\"[[[[[[[[", "b": [[1]]}', limit, "t")  # nor after an escaped quote
    with pytest.raises(APIError) as info:
        check_json_depth(b"[" * 6 + b"]" * 6, limit, "t")
    assert info.value.status == 413 and info.value.detail["limit"] == "max_json_depth"
    check_json_depth(b"[" * 200_000, 10**6, "t")  # a deep body within the limit never hits the parser here
    # Too many values is refused before parsing too; commas inside strings do not count.
    with pytest.raises(APIError) as info:
        check_json_depth(b"[" + b"1," * 300 + b"1]", limit, "t", max_values=100)
    assert info.value.detail["limit"] == "max_tensor_elements" and info.value.detail["requested"] == 301
    check_json_depth(b'["' + b"," * 300 + b'"]', limit, "t", max_values=100)
    with pytest.raises(ValueError, match="max_n must be a positive int"):
        Limits(max_n=0)


def test_pool_sheds_with_503_and_times_out_with_504():
    pool = WorkerPool(workers=1, queue=1, timeout=0.2)
    gate = threading.Event()

    async def go():
        first = asyncio.ensure_future(pool.run(gate.wait, 5))
        second = asyncio.ensure_future(pool.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(APIError) as shed:
            await pool.run(int, "1")
        results = await asyncio.gather(first, second, return_exceptions=True)
        return shed.value, results

    shed, results = asyncio.run(go())
    assert shed.status == 503 and shed.headers == {"Retry-After": "1"} and pool.shed == 1
    assert all(isinstance(r, APIError) and r.status == 504 for r in results)
    gate.set()
    for _ in range(200):  # the two threads end within moments of the gate opening
        if pool.in_flight == 0:
            break
        time.sleep(0.01)
    assert asyncio.run(pool.run(int, "7")) == 7  # slots come back once the threads end
    pool.shutdown()


def test_invalid_tokens_never_read_the_catalogue(films, monkeypatch):
    reg, reader = films
    c = _client(reg, reader, reload_interval=3600.0)
    assert c.get("/v1/recommend/3", params={"model": "films"}).status_code == 200
    calls = []
    monkeypatch.setattr(type(reg), "verify_key", lambda *a: calls.append(a))
    monkeypatch.setattr(type(reg), "active_key_hashes", lambda *a: calls.append(a) or {})
    for k in range(2000):
        bad = SyncClient(c.app, {"Authorization": f"Bearer mk_{k:012x}.guess{k}"})
        if k % 500 == 0:
            assert_error(bad.get("/v1/recommend/3", params={"model": "films"}), 401, "unauthenticated")
        else:
            c.app.state.maaskit.auth._verify(f"mk_{k:012x}.guess{k}")
    assert calls == []
    assert c.get("/v1/recommend/3", params={"model": "films"}).status_code == 200  # the valid key still works


def test_metrics_scope_and_exposure_rules(films, tmp_path):
    reg, reader = films
    c = _client(reg, reader)
    assert_error(c.get("/metrics"), 403, "forbidden")
    assert _client(reg, reader, public_metrics=True).get("/metrics").status_code == 200
    with pytest.raises(ValueError, match="--no-auth and --allow-publish"):
        create_app(reg, auth=False, allow_publish=True)
    root = str(tmp_path)
    assert main(["serve", "--registry", root, "--no-auth", "--allow-publish"]) == 2
    assert main(["serve", "--registry", root, "--no-auth", "--host", "0.0.0.0"]) == 2


def test_unknown_users_get_the_library_fallback(films, model):
    reg, reader = films
    c = _client(reg, reader)
    with pytest.warns(ColdStartWarning):
        expected, scores = model.recommend([12345], n=4)
    r = c.get("/v1/recommend/12345", params={"model": "films", "n": 4}).json()
    assert r["fallback"] is True and r["items"] == expected[0].tolist()
    # As the library: a fallback row has no predicted score; its popularity is apart.
    assert np.isnan(scores[0]).all() and r["scores"] == [None] * 4
    with pytest.warns(ColdStartWarning):
        frame = model.recommend(pd.Series([12345]), n=4)
    np.testing.assert_allclose(r["popularity"], frame["popularity"].to_numpy())
    assert c.get("/v1/recommend/3", params={"model": "films"}).json()["fallback"] is False
    # One unknown id in an infer batch does not fail the batch; its row is marked.
    out = c.post("/v2/models/films/infer", json=_users([3, 12345], n=4)).json()
    outs = {o["name"]: o for o in out["outputs"]}
    assert outs["fallback"]["data"] == [False, True] and out["parameters"]["fallback_rows"] == 1
    assert outs["item_id"]["data"] == model.recommend([3], n=4)[0].ravel().tolist() + expected[0].tolist()
    # Path ids are text converted to the model's kind; a non-number cannot be an int id.
    note = c.get("/v1/recommend/abc", params={"model": "films"}).json()
    assert note["fallback"] is True and "the model's user ids are int" in note["note"]
    # Body ids keep their JSON type: "3" is not the user 3 of an int-id model, and the error says why.
    bad = {"inputs": [{"name": "user_id", "shape": [1], "datatype": "BYTES", "data": ["3"]}]}
    err = assert_error(c.post("/v2/models/films/infer", json=bad), 400, "datatype_mismatch")
    assert "'3' is a str; the model's user ids are int" in err["message"]
    r = c.post("/v1/predict/films", json={"instances": [["3", 1], [3, 1]]}).json()
    assert r["fallback"] == [True, False] and r["notes"] == ["'3' is a str; the model's user ids are int.", None]


def test_model_calls_leave_the_event_loop_free(films, monkeypatch):
    from maaskit.serving.models import LoadedModel

    reg, reader = films
    app = create_app(reg, reload_interval=0.0)
    gate, waited = threading.Event(), []
    infer = LoadedModel.infer

    def slow_infer(self, body, where):
        waited.append(gate.wait(10))  # released only once /v2/health/live has been answered
        return infer(self, body, where)

    monkeypatch.setattr(LoadedModel, "infer", slow_infer)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {reader}"}) as c:
            await c.get("/v1/recommend/3", params={"model": "films"})  # loads the model
            slow = asyncio.ensure_future(c.post("/v2/models/films/infer", json=_users([3], n=2)))
            await asyncio.sleep(0.05)
            live = await c.get("/v2/health/live")
            fast = await c.get("/v1/recommend/4", params={"model": "films"})
            gate.set()
            return live, fast, await slow

    live, fast, slow = asyncio.run(go())
    assert live.status_code == fast.status_code == slow.status_code == 200
    assert waited == [True]  # the slow call was still waiting when the others were answered
