"""Issue 13, serving: a posted item history for sequential recommenders (SASRec), through
POST /v1/recommend, KServe V2 infer and the Python client, under the request limits."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from maaskit.client import Client, ServiceError
from maaskit.recommender import SASRec
from maaskit.registry import Registry
from maaskit.serving import create_app


def _sessions(str_ids: bool) -> pd.DataFrame:
    # 40 users walk a chain of items from a random start: the next item is item + 1.
    rng = np.random.default_rng(0)
    rows = [(u, s + t, t) for u in range(40) for s in [int(rng.integers(0, 6))] for t in range(6)]
    df = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    if str_ids:
        df["item"] = "i" + df["item"].astype(str)
    return df


class SyncClient:
    """Drive the ASGI app in-process through httpx.ASGITransport."""

    def __init__(self, app, token):
        self.app, self.headers = app, {"Authorization": f"Bearer {token}"}

    def post(self, url, **kw):
        async def go():
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=self.headers) as c:
                return await c.post(url, **kw)

        return asyncio.run(go())

    def get(self, url, **kw):
        async def go():
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=self.headers) as c:
                return await c.get(url, **kw)

        return asyncio.run(go())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from maaskit import Recommender

    reg = Registry(tmp_path_factory.mktemp("registry"))
    models = {
        "seq": SASRec(n_factors=8, max_len=4, max_iter=2, early_stopping=False, random_state=0).fit(_sessions(False)),
        "seqs": SASRec(n_factors=8, max_len=4, max_iter=2, early_stopping=False, random_state=0).fit(_sessions(True)),
        "films": Recommender("als", n_factors=4, max_iter=2, random_state=0).fit(_sessions(False)[["user", "item"]]),
    }
    for name, m in models.items():
        reg.publish(name, m)
    _, reader = reg.create_key(["read:*"])
    return reg, reader, models


def _client(served, **limits):
    reg, reader, _ = served
    return SyncClient(create_app(reg, reload_interval=0.0, **limits), reader)


def _error(r, status, type_):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == type_ and "detail" in err
    return err


def test_posted_history_is_the_library_answer(served):
    c = _client(served)
    seq = served[2]["seq"]
    for history, n, exclude in (([0, 1, 2], 3, True), ([3, 4, 5, 6, 7, 8], 5, False), ([9], 2, True)):
        r = c.post("/v1/recommend?model=seq", json={"history": history, "n": n, "exclude_seen": exclude})
        assert r.status_code == 200, r.text
        body = r.json()
        ids, scores = seq.recommend_history(history, n=n, exclude_seen=exclude, output="numpy")
        assert body["items"] == ids.tolist() and body["scores"] == pytest.approx(scores.tolist(), rel=1e-6)
        assert body["fallback"] is False and body["unknown_items"] == 0 and body["model"] == "seq"
        if exclude:
            assert not set(body["items"]) & set(history)
    # string item ids keep their type
    r = c.post("/v1/recommend?model=seqs", json={"history": ["i0", "i1"], "n": 2})
    ids, _ = served[2]["seqs"].recommend_history(["i0", "i1"], n=2, output="numpy")
    assert r.json()["items"] == ids.tolist()


def test_unknown_items_are_dropped_and_an_all_unknown_history_falls_back(served):
    c = _client(served)
    seq = served[2]["seq"]
    body = c.post("/v1/recommend?model=seq", json={"history": ["2", 2, 999], "n": 3}).json()
    assert body["unknown_items"] == 2 and "'2' is a str; the model's item ids are int" in body["note"]
    assert body["items"] == seq.recommend_history([2], n=3, output="numpy")[0].tolist()
    body = c.post("/v1/recommend?model=seq", json={"history": [999], "n": 3}).json()
    assert body["fallback"] is True and body["scores"] == [None] * 3 and len(body["popularity"]) == 3
    assert body["items"] == c.post("/v1/recommend?model=seq", json={"history": [], "n": 3}).json()["items"]


def test_history_requests_are_bounded_and_checked(served):
    c = _client(served, max_history=5, max_n=4)
    err = _error(c.post("/v1/recommend?model=seq", json={"history": list(range(6))}), 413, "limit_exceeded")
    assert err["detail"] == {"limit": "max_history", "value": 5, "requested": 6}
    assert c.post("/v1/recommend?model=seq", json={"history": list(range(5)), "n": 4}).status_code == 200
    err = _error(c.post("/v1/recommend?model=seq", json={"history": [1], "n": 5}), 422, "limit_exceeded")
    assert err["detail"]["limit"] == "max_n"
    for body, type_ in (([1, 2], "invalid_request"), ({"items": [1]}, "invalid_request"),
                        ({"history": 3}, "invalid_request"), ({"history": [[1]]}, "invalid_request"),
                        ({"history": [True]}, "invalid_request"), ({"history": [1], "user": 3}, "invalid_request"),
                        ({"history": [1], "n": 0}, "invalid_argument"),
                        ({"history": [1], "n": 2, "exclude_seen": "no"}, "invalid_argument")):
        _error(c.post("/v1/recommend?model=seq", json=body), 400, type_)
    _error(c.post("/v1/recommend?model=seq", content=b"[" * 100 + b"]" * 100), 413, "limit_exceeded")


def test_a_history_to_a_non_sequential_model_is_a_clear_400(served):
    c = _client(served)
    err = _error(c.post("/v1/recommend?model=films", json={"history": [1, 2]}), 400, "unsupported")
    assert "does not take a history" in err["message"] and "GET /v1/recommend/{user_id}" in err["message"]
    tensor = {"name": "history", "shape": [2], "datatype": "INT64", "data": [1, 2]}
    err = _error(c.post("/v2/models/films/infer", json={"inputs": [tensor]}), 400, "unsupported")
    assert "does not take a history" in err["message"]


def test_v2_infer_takes_an_int64_or_bytes_history_tensor(served):
    c = _client(served, max_history=6, max_users=3)
    seq, seqs = served[2]["seq"], served[2]["seqs"]

    def infer(model, shape, datatype, data, **params):
        return c.post(f"/v2/models/{model}/infer", json={"inputs": [
            {"name": "history", "shape": shape, "datatype": datatype, "data": data}], "parameters": params})

    out = {o["name"]: o for o in infer("seq", [3], "INT64", [0, 1, 2], n=4).json()["outputs"]}
    assert out["item_id"]["shape"] == [1, 4]
    assert out["item_id"]["data"] == seq.recommend_history([0, 1, 2], n=4, output="numpy")[0].tolist()
    r = infer("seq", [2, 2], "INT64", [0, 1, 5, 6], n=2).json()
    want = seq.recommend_history([[0, 1], [5, 6]], n=2, output="numpy")[0]
    assert r["outputs"][0]["data"] == want.ravel().tolist() and r["outputs"][2]["data"] == [False, False]
    r = infer("seqs", [2], "BYTES", ["i3", "nope"], n=2).json()
    assert r["outputs"][0]["data"] == seqs.recommend_history(["i3"], n=2, output="numpy")[0].tolist()
    assert r["parameters"]["unknown_items"] == [1]
    _error(infer("seqs", [2], "INT64", [3, 4]), 400, "datatype_mismatch")
    assert _error(infer("seq", [7], "INT64", list(range(7))), 413, "limit_exceeded")["detail"]["limit"] == "max_history"
    assert _error(infer("seq", [4, 1], "INT64", [1, 2, 3, 4]), 413, "limit_exceeded")["detail"]["limit"] == "max_users"
    meta = c.get("/v2/models/seq").json()
    assert {"name": "history", "datatype": "INT64", "shape": [-1, -1]} in meta["inputs"]


def test_client_recommend_history(served):
    reg, reader, models = served
    app = create_app(reg, reload_interval=0.0)

    def handler(request: httpx.Request) -> httpx.Response:
        # Run the real app for each request of the synchronous client.
        async def go():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
                return await ac.request(request.method, str(request.url), headers=request.headers,
                                        content=request.content)

        r = asyncio.run(go())
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)

    c = Client("http://test", api_key=reader, transport=httpx.MockTransport(handler))
    got = c.recommend_history(np.array([0, 1]), model="seq", n=3)
    assert got["items"] == models["seq"].recommend_history([0, 1], n=3, output="numpy")[0].tolist()
    with pytest.raises(ServiceError) as exc:
        c.recommend_history([0, 1], model="films")
    assert exc.value.status_code == 400 and exc.value.type == "unsupported"
    with pytest.raises(TypeError, match="history must be a sequence of item ids"):
        c.recommend_history("i0", model="seqs")
