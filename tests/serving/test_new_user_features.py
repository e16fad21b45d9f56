"""POST /v1/recommend with user_features: new users of a hybrid model, ranked from features
(issue 14), through the ASGI app, the registry signature and the Python client."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pandas as pd
import pytest

from maaskit.client import Client, ServiceError
from maaskit.recommender import HybridMF
from maaskit.registry import Registry
from maaskit.serving import create_app

USERS = pd.DataFrame({"age_band": ["18-24", "25-34", "35-44"] * 10,
                      "gender": ["F", "M"] * 15,
                      "likes": [["jazz"], ["rock", "pop"], []] * 10},
                     index=pd.RangeIndex(30))
ITEMS = pd.DataFrame({"genre": ["jazz", "rock", "pop", "soul", "folk"] * 5}, index=pd.RangeIndex(25))


@pytest.fixture(scope="module")
def hybrid():
    rng = np.random.RandomState(0)
    plays = pd.DataFrame([(u, int(i)) for u in range(30) for i in rng.choice(25, 6, replace=False)],
                         columns=["user", "item"])
    return HybridMF(n_factors=4, max_iter=2, random_state=0).fit(plays, user_features=USERS,
                                                                 item_features=ITEMS)


@pytest.fixture
def served(tmp_path, hybrid, model):
    reg = Registry(tmp_path)
    reg.publish("hyb", hybrid)
    reg.publish("films", model)  # plain ALS: no user features
    _, key = reg.create_key(["read:*"])
    return reg, {"Authorization": f"Bearer {key}"}


def _call(app, method, url, headers, **kw):
    # in-process through httpx.ASGITransport (starlette's TestClient wants httpx2)
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
            return await c.request(method, url, **kw)

    return asyncio.run(go())


def _post(app, headers, body, model="hyb"):
    return _call(app, "POST", f"/v1/recommend?model={model}", headers, content=json.dumps(body))


def test_one_new_user_is_answered_by_recommend_new_user(served, hybrid):
    reg, headers = served
    form = {"age_band": "25-34", "gender": "F", "likes": ["jazz", "pop"]}
    r = _post(create_app(reg), headers, {"user_features": form, "n": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    ids, scores = hybrid.recommend_new_user(pd.DataFrame([form]), n=5, output="numpy")
    assert body["items"] == ids[0].tolist() and body["model"] == "hyb" and "note" not in body
    np.testing.assert_allclose(body["scores"], scores[0], rtol=1e-6)


def test_a_list_of_users_with_missing_and_unseen_values(served, hybrid):
    reg, headers = served
    forms = [{"age_band": "18-24"},  # gender and likes left out: missing
             {"age_band": "65+", "gender": "M", "likes": ["jazz", "opera"]}]
    r = _post(create_app(reg), headers, {"user_features": forms, "n": 3})
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert len(rows) == 2 and "note" not in rows[0]
    assert rows[1]["note"] == "values not seen in training were ignored: age_band='65+', likes='opera'"
    seen = pd.DataFrame([{"age_band": "18-24", "gender": None, "likes": None},
                         {"age_band": None, "gender": "M", "likes": ["jazz"]}])
    ids, _ = hybrid.recommend_new_user(seen, n=3, output="numpy")
    assert [row["items"] for row in rows] == ids.tolist()


def test_candidate_items(served, hybrid):
    reg, headers = served
    form = {"gender": "M"}
    r = _post(create_app(reg), headers, {"user_features": form, "n": 10, "items": [24, 3, 7]})
    assert r.status_code == 200, r.text
    full = pd.DataFrame([{"age_band": None, "gender": "M", "likes": None}])  # left out: missing
    ids, _ = hybrid.recommend_new_user(full, n=3, items=[24, 3, 7], output="numpy")
    assert r.json()["items"] == ids[0].tolist() and sorted(ids[0].tolist()) == [3, 7, 24]
    r = _post(create_app(reg), headers, {"user_features": form, "items": [3, 999]})
    assert r.status_code == 404 and r.json()["error"]["type"] == "unknown_item"
    r = _post(create_app(reg), headers, {"user_features": form, "items": ["3"]})
    assert r.status_code == 404  # JSON ids keep their type: "3" is not item 3


@pytest.mark.parametrize("body, status, kind, match", [
    ({"user_features": {"age_band": "18-24", "shoe_size": 42}}, 400, "invalid_features",
     r"unknown column\(s\) \['shoe_size'\]"),
    ({"user_features": {"age_band": {"from": 18}}}, 400, "invalid_features", "got an object"),
    ({"user_features": {"likes": [["jazz"]]}}, 400, "invalid_features", "nested list"),
    ({"user_features": {"likes": "jazz"}}, 400, "invalid_features", "multi-label"),
    ({"user_features": []}, 400, "invalid_features", "non-empty list"),
    ({"features": {}}, 400, "invalid_request", "'user_features'"),
    ({"user_features": {}, "history": [1]}, 400, "invalid_request", r"unknown field\(s\) \['history'\]"),
    ({"user_features": {}, "n": 0}, 400, "invalid_argument", "n must be an int >= 1"),
    ({"user_features": {}, "items": [1, 1]}, 400, "invalid_request", "duplicate"),
    ({"user_features": {}, "items": 1}, 400, "invalid_request", "non-empty list"),
    ({"user_features": {}, "n": 5000}, 422, "limit_exceeded", "max_n"),
])
def test_clear_4xx(served, body, status, kind, match):
    reg, headers = served
    r = _post(create_app(reg), headers, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == kind
    import re
    assert re.search(match, err["message"]), err["message"]


def test_a_model_without_user_features_is_a_400(served):
    reg, headers = served
    r = _post(create_app(reg), headers, {"user_features": {"age_band": "18-24"}}, model="films")
    assert r.status_code == 400 and r.json()["error"]["type"] == "unsupported"
    assert "not a hybrid model" in r.json()["error"]["message"]


def test_server_limits_apply_to_the_payload(served):
    reg, headers = served
    app = create_app(reg, max_users=2, max_history=20, max_output_cells=6, max_body_bytes=2000)
    r = _post(app, headers, {"user_features": [{}] * 3, "n": 1})
    assert r.status_code == 413 and r.json()["error"]["detail"]["limit"] == "max_users"
    r = _post(app, headers, {"user_features": {"gender": "x" * 21}, "n": 1})
    assert r.status_code == 413 and r.json()["error"]["detail"]["limit"] == "max_history"
    r = _post(app, headers, {"user_features": [{}, {}], "n": 4})
    assert r.status_code == 413 and r.json()["error"]["detail"]["limit"] == "max_output_cells"
    r = _post(app, headers, {"user_features": {"likes": ["a"] * 1000}})
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"


def test_signature_records_the_feature_schema(served):
    reg, headers = served
    sig = reg.get_version("hyb").signature
    assert sig["user_features"] == [{"name": "age_band", "kind": "categorical"},
                                    {"name": "gender", "kind": "categorical"},
                                    {"name": "likes", "kind": "multi"}]
    assert sig["item_features"] == [{"name": "genre", "kind": "categorical"}]
    assert "recommend_new_user" in sig["methods"]
    assert "user_features" not in reg.get_version("films").signature
    meta = _call(create_app(reg), "GET", "/v2/models/hyb", headers).json()
    assert meta["signature"]["user_features"][2] == {"name": "likes", "kind": "multi"}


def test_client_recommend_new_user(served, hybrid):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [3], "scores": [0.5], "model": "hyb", "version": 1})

    c = Client("http://svc", transport=httpx.MockTransport(handler))
    assert c.recommend_new_user({"gender": "F"}, model="hyb", n=1, version=2)["items"] == [3]
    req = seen[-1]
    assert req.method == "POST" and req.url.path == "/v1/recommend"
    assert req.url.params["model"] == "hyb" and req.url.params["version"] == "2"
    assert json.loads(req.content) == {"user_features": {"gender": "F"}, "n": 1}
    c.recommend_new_user([{"gender": "F"}], n=2, items=np.array([4, 5]))
    assert json.loads(seen[-1].content) == {"user_features": [{"gender": "F"}], "n": 2, "items": [4, 5]}
    # and against the app itself, errors included (the sync client reaches the async app
    # through a thread portal, as in tests/test_client.py)
    import anyio.from_thread

    reg, headers = served
    app = create_app(reg)

    class Portal(httpx.BaseTransport):
        def __init__(self, portal):
            self.portal, self.inner = portal, httpx.ASGITransport(app=app)

        def handle_request(self, request):
            async def go():
                req = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())
                resp = await self.inner.handle_async_request(req)
                return httpx.Response(resp.status_code, headers=resp.headers, content=await resp.aread())

            return self.portal.call(go)

    with anyio.from_thread.start_blocking_portal() as portal:
        c = Client("http://app", api_key=headers["Authorization"].split()[1], transport=Portal(portal))
        out = c.recommend_new_user([{"gender": "F"}, {"gender": "M"}], model="hyb", n=2)
        assert [row["items"] for row in out["results"]] == hybrid.recommend_new_user(
            pd.DataFrame({"age_band": [None] * 2, "gender": ["F", "M"], "likes": [None] * 2}),
            n=2, output="numpy")[0].tolist()
        with pytest.raises(ServiceError) as info:
            c.recommend_new_user({"planet": "Mars"}, model="hyb")
        assert info.value.status_code == 400 and info.value.type == "invalid_features"


def test_known_users_of_a_hybrid_model_still_use_get(served, hybrid):
    reg, headers = served
    r = _call(create_app(reg), "GET", "/v1/recommend/5?model=hyb&n=4", headers)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == hybrid.recommend(5, n=4)[0].tolist()


def test_a_recommender_that_chose_hybridmf_is_served_too(tmp_path):
    from maaskit import Recommender

    rng = np.random.RandomState(1)
    plays = pd.DataFrame([(u, int(i)) for u in range(30) for i in rng.choice(25, 6, replace=False)],
                         columns=["user", "item"])
    rec = Recommender(n_factors=4, max_iter=2, random_state=0).fit(plays, user_features=USERS)
    assert rec.algorithm_ == "hybrid"
    reg = Registry(tmp_path)
    reg.publish("auto", rec)
    assert reg.get_version("auto").signature["user_features"][1] == {"name": "gender", "kind": "categorical"}
    _, key = reg.create_key(["read:*"])
    r = _post(create_app(reg), {"Authorization": f"Bearer {key}"}, {"user_features": {"gender": "F"}, "n": 3},
              model="auto")
    assert r.status_code == 200, r.text
    full = pd.DataFrame([{"age_band": None, "gender": "F", "likes": None}])
    assert r.json()["items"] == rec.recommend_new_user(full, n=3, output="numpy")[0][0].tolist()
