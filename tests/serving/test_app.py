"""The ASGI app in-process: V2 + /v1 endpoints, errors, auth, publishing, hot reload, metrics."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from maaskit import Recommender
from maaskit._schema import Arr, Attr, StateSchema
from maaskit.persistence import PersistableMixin, dumps, register
from maaskit.registry import Registry
from maaskit.serving import create_app


@register
class TinyLogistic(ClassifierMixin, PersistableMixin, BaseEstimator):
    """Test-only tabular classifier: a fixed-weight logistic model, fitted by least squares."""

    _state_schema = StateSchema(
        arrays={"classes_": Arr("label", ("n_classes",)), "coef_": Arr("f8", (None,))},
        attrs={"n_features_in_": Attr(int, min=1)},
    )

    def fit(self, X, y):
        X, y = validate_data(self, X, y, reset=True)
        self.classes_ = np.unique(y)
        A = np.c_[X, np.ones(len(X))]
        self.coef_ = np.linalg.lstsq(A, (y == self.classes_[1]).astype(float) * 4 - 2, rcond=None)[0]
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return X @ self.coef_[:-1] + self.coef_[-1]

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-self.decision_function(X)))
        return np.c_[1 - p, p]

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


@pytest.fixture
def tabular():
    X = np.random.RandomState(0).rand(40, 4)
    return TinyLogistic().fit(X, (X[:, 0] + X[:, 1] > 1).astype(np.int64)), X[:5]


@pytest.fixture
def setup(tmp_path, model, tabular):
    reg = Registry(tmp_path)
    reg.publish("films", model, alias="production")
    reg.publish("churn", tabular[0])
    _, reader = reg.create_key(["read:*"], label="reader")
    _, films_only = reg.create_key(["read:films"])
    _, publisher = reg.create_key(["read:*", "publish:films*"])
    return reg, {"reader": reader, "films_only": films_only, "publisher": publisher}


class SyncClient:
    """Drive an ASGI app in-process through httpx.ASGITransport, one event loop per call."""

    def __init__(self, app, headers=None):
        self.app = app
        self.headers = dict(headers or {})

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

    def put(self, url, **kw):
        return self.request("PUT", url, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)


def client(reg, token=None, **kw):
    kw.setdefault("reload_interval", 0.0)
    return SyncClient(create_app(reg, **kw), {"Authorization": f"Bearer {token}"} if token else None)


def assert_error(r, status, type_):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == type_ and isinstance(err["message"], str) and "detail" in err
    return err


def test_health_and_server_metadata(setup):
    reg, _ = setup
    c = client(reg)  # public endpoints need no key
    assert c.get("/v2/health/live").json() == {"live": True}
    assert c.get("/v2/health/ready").json() == {"ready": True}
    assert c.get("/v2").json()["name"] == "maaskit"


def test_recommend_matches_the_model(setup, model):
    reg, keys = setup
    c = client(reg, keys["reader"])
    for user in (0, 7, 29):
        for exclude in (True, False):
            r = c.get(f"/v1/recommend/{user}", params={"model": "films", "n": 4,
                                                      "exclude_seen": str(exclude).lower()})
            assert r.status_code == 200, r.text
            ids, scores = model.recommend(user, n=4, exclude_seen=exclude)
            body = r.json()
            assert body["items"] == ids.tolist() and body["version"] == 1 and body["user_id"] == user
            np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)
    d = client(reg, keys["reader"], default_model="films")
    assert d.get("/v1/recommend/3").json()["items"] == model.recommend(3, n=10)[0].tolist()


def test_similar_and_predict_match_the_model(setup, model):
    reg, keys = setup
    c = client(reg, keys["reader"])
    r = c.get("/v1/similar/4", params={"model": "films", "n": 3})
    ids, scores = model.similar_items(4, n=3)
    assert r.json()["items"] == ids.tolist()
    np.testing.assert_allclose(r.json()["scores"], scores, rtol=1e-6)
    pairs = [[0, 1], [5, 2], [9, 9]]
    r = c.post("/v1/predict/films", json={"instances": pairs})
    np.testing.assert_allclose(r.json()["predictions"], model.predict(np.array(pairs)), rtol=1e-6)
    # Issue 16: an unknown item gets the model's fallback score, flagged per row; the batch
    # does not fail. strict=true keeps the 404.
    r = c.post("/v1/predict/films", json={"instances": [[0, 1], [0, 999]]})
    assert r.status_code == 200, r.text
    assert r.json()["fallback"] == [False, True]
    assert r.json()["predictions"][0] == pytest.approx(float(model.predict(np.array([[0, 1]]))[0]), rel=1e-6)
    assert_error(c.post("/v1/predict/films", json={"instances": [[0, 999]], "strict": True}), 404, "unknown_item")
    assert_error(c.post("/v1/predict/films", json={"instances": [[0, 1, 2]]}), 400, "shape_mismatch")


def test_v2_infer_recommender(setup, model):
    reg, keys = setup
    c = client(reg, keys["reader"])
    body = {"id": "r1", "inputs": [{"name": "user_id", "shape": [2], "datatype": "INT64", "data": [3, 4]}],
            "parameters": {"n": 5}}
    r = c.post("/v2/models/films/infer", json=body)
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    ids, scores = model.recommend([3, 4], n=5)
    assert r.json()["id"] == "r1" and r.json()["model_version"] == "1"
    assert out["item_id"]["shape"] == [2, 5] and out["item_id"]["data"] == ids.ravel().tolist()
    np.testing.assert_allclose(out["score"]["data"], scores.ravel(), rtol=1e-6)
    r = c.post("/v2/models/films/versions/production/infer", json=body)
    assert r.status_code == 200
    bytes_body = {"inputs": [{"name": "user_id", "shape": [1], "datatype": "BYTES", "data": ["3"]}]}
    assert_error(c.post("/v2/models/films/infer", json=bytes_body), 400, "datatype_mismatch")
    unknown = {"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [12345]}],
               "parameters": {"strict": True}}
    assert_error(c.post("/v2/models/films/infer", json=unknown), 404, "unknown_user")
    meta = c.get("/v2/models/films").json()
    assert meta["inputs"][0]["datatype"] == "INT64" and meta["versions"] == ["1"]
    assert c.get("/v2/models/films/versions/1/ready").json()["ready"] is True


def test_generic_estimator_predict_and_infer(setup, tabular):
    reg, keys = setup
    est, X = tabular
    c = client(reg, keys["reader"])
    r = c.post("/v1/predict/churn", json={"instances": X.tolist()})
    assert r.json()["predictions"] == est.predict(X).tolist()
    r = c.post("/v1/predict/churn", json={"instances": X.tolist(), "method": "predict_proba"})
    np.testing.assert_allclose(r.json()["predictions"], est.predict_proba(X), rtol=1e-12)
    tensor = {"name": "input-0", "shape": [5, 4], "datatype": "FP64", "data": X.ravel().tolist()}
    r = c.post("/v2/models/churn/infer", json={"inputs": [tensor], "outputs": [{"name": "predict"},
                                                                               {"name": "predict_proba"}]})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert out["predict"]["datatype"] == "INT64" and out["predict"]["data"] == est.predict(X).tolist()
    assert out["predict_proba"]["shape"] == [5, 2]
    np.testing.assert_allclose(np.reshape(out["predict_proba"]["data"], (5, 2)), est.predict_proba(X), rtol=1e-12)
    fp32 = dict(tensor, datatype="FP32")
    assert c.post("/v2/models/churn/infer", json={"inputs": [fp32]}).status_code == 200
    # Wrong shapes, sizes, datatypes and values are 4xx with a clear message.
    err = assert_error(c.post("/v2/models/churn/infer", json={"inputs": [dict(tensor, shape=[4, 5])]}),
                       400, "shape_mismatch")
    assert "(n_samples, 4)" in err["message"]
    assert_error(c.post("/v2/models/churn/infer", json={"inputs": [dict(tensor, shape=[5, 3])]}), 400,
                 "shape_mismatch")
    assert_error(c.post("/v2/models/churn/infer", json={"inputs": [dict(tensor, datatype="FP16")]}), 400,
                 "invalid_datatype")
    assert_error(c.post("/v2/models/churn/infer", json={"inputs": [dict(tensor, datatype="INT64")]}), 400,
                 "datatype_mismatch")
    strings = dict(tensor, datatype="BYTES", data=["a"] * 20)
    assert_error(c.post("/v2/models/churn/infer", json={"inputs": [strings]}), 400, "datatype_mismatch")
    assert_error(c.post("/v1/predict/churn", json={"instances": [[1, 2]]}), 400, "shape_mismatch")
    assert_error(c.post("/v1/predict/churn", json={"instances": [[1, 2, 3, "x"]]}), 400, "invalid_input")
    assert_error(c.post("/v1/predict/churn", json={"instances": X.tolist(), "method": "fit"}), 400, "unsupported")
    assert_error(c.get("/v1/recommend/1", params={"model": "churn"}), 400, "unsupported")
    nan = '{"instances": [[NaN, 1, 2, 3]]}'
    assert_error(c.post("/v1/predict/churn", content=nan), 400, "invalid_json")


def test_client_errors_are_4xx_json(setup):
    reg, keys = setup
    c = client(reg, keys["reader"], max_body_bytes=2000)
    assert_error(c.get("/v1/recommend/12345", params={"model": "films", "strict": "true"}), 404, "unknown_user")
    assert_error(c.get("/v1/recommend/abc", params={"model": "films", "strict": "true"}), 404, "unknown_user")
    assert_error(c.get("/v1/similar/12345", params={"model": "films"}), 404, "unknown_item")
    assert_error(c.get("/v1/recommend/1", params={"model": "nope"}), 404, "unknown_model")
    assert_error(c.get("/v1/recommend/1", params={"model": "../etc"}), 404, "unknown_model")
    assert_error(c.get("/v1/recommend/1", params={"model": "films", "version": "9"}), 404, "unknown_model")
    assert_error(c.get("/v1/recommend/1"), 400, "missing_model")
    for n in ("0", "-1", "x"):
        assert_error(c.get("/v1/recommend/1", params={"model": "films", "n": n}), 400, "invalid_argument")
    # Past a limit: 422 naming the limit and its value (issue 12).
    err = assert_error(c.get("/v1/recommend/1", params={"model": "films", "n": "100000"}), 422, "limit_exceeded")
    assert err["detail"]["limit"] == "max_n" and err["detail"]["value"] == 1000
    assert_error(c.get("/v1/recommend/1", params={"model": "films", "exclude_seen": "maybe"}), 400,
                 "invalid_argument")
    assert_error(c.post("/v2/models/films/infer", content=b"{nope"), 400, "invalid_json")
    assert_error(c.post("/v2/models/films/infer", content=b"\xff\xfe"), 400, "invalid_json")
    assert_error(c.post("/v2/models/films/infer", json={"inputs": []}), 400, "invalid_request")
    assert_error(c.post("/v2/models/films/infer", content=b"[" * 5000), 413, "payload_too_large")
    # Deep nesting is refused before parsing, whatever the brackets hide in strings.
    err = assert_error(c.post("/v2/models/films/infer", content=b"[" * 1500 + b"]" * 400), 413, "limit_exceeded")
    assert err["detail"] == {"limit": "max_json_depth", "value": 32, "requested": 1500}
    assert_error(c.post("/v2/models/films/infer", content=b"[" * 20 + b"]" * 19), 400, "invalid_json")
    in_strings = json.dumps({"inputs": [{"name": "[[[[" * 100, "shape": [1], "datatype": "INT64", "data": [3]}]})
    assert c.post("/v2/models/films/infer", content=in_strings).status_code == 200
    assert_error(c.get("/v2/nothing/here"), 404, "not_found")
    assert_error(c.delete("/v1/recommend/1"), 405, "method_not_allowed")


def test_authentication_and_scopes(setup):
    reg, keys = setup
    anon = client(reg)
    err = assert_error(anon.get("/v1/recommend/1", params={"model": "films"}), 401, "unauthenticated")
    assert "API key" in err["message"]
    assert anon.get("/v1/recommend/1", params={"model": "films"}).headers["www-authenticate"].startswith("Bearer")
    assert_error(client(reg, "mk_bad.token").get("/v1/recommend/1", params={"model": "films"}), 401,
                 "unauthenticated")
    assert_error(anon.get("/v1/models", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")
    x_api = anon.get("/v1/recommend/1", params={"model": "films"}, headers={"X-API-Key": keys["films_only"]})
    assert x_api.status_code == 200
    narrow = client(reg, keys["films_only"])
    assert_error(narrow.post("/v1/predict/churn", json={"instances": [[0, 0, 0, 0]]}), 403, "forbidden")
    assert [m["name"] for m in narrow.get("/v1/models").json()["models"]] == ["films"]
    assert [m["name"] for m in client(reg, keys["reader"]).get("/v1/models").json()["models"]] == ["churn", "films"]
    # Revocation takes effect at the next catalogue check.
    key_id = keys["films_only"].split(".")[0][3:]
    reg.revoke_key(key_id)
    assert_error(narrow.get("/v1/recommend/1", params={"model": "films"}), 401, "unauthenticated")
    # Auth can be switched off explicitly.
    assert client(reg, auth=False).get("/v1/recommend/1", params={"model": "films"}).status_code == 200


def test_publish_over_http(setup, other_model):
    reg, keys = setup
    data = dumps(other_model)
    headers = {"Content-Type": "application/octet-stream"}
    off = client(reg, keys["publisher"])
    assert_error(off.post("/v1/models/films", content=data, headers=headers), 403, "publish_disabled")
    on = client(reg, keys["publisher"], allow_publish=True, max_artifact_bytes=len(data) + 10)
    assert_error(client(reg, keys["reader"], allow_publish=True).post("/v1/models/films", content=data), 403,
                 "forbidden")
    assert_error(on.post("/v1/models/films", content=b"junk"), 400, "invalid_artifact")
    assert_error(on.post("/v1/models/films", content=data + b"x" * 20), 413, "payload_too_large")
    assert_error(on.post("/v1/models/films", content=data, params={"meta": "{bad"}), 400, "invalid_json")
    r = on.post("/v1/models/films", content=data, params={"meta": json.dumps({"tags": {"by": "http"}})})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2 and r.json()["tags"] == {"by": "http"}
    assert reg.get_version("films", 2).sha256 == r.json()["sha256"]
    # Production still points at v1 until promoted over HTTP.
    assert on.get("/v1/recommend/1", params={"model": "films"}).json()["version"] == 1
    assert on.put("/v1/models/films/aliases/production", json={"version": 2}).status_code == 200
    assert on.get("/v1/recommend/1", params={"model": "films"}).json()["version"] == 2
    assert_error(on.put("/v1/models/films/aliases/production", json={"version": 99}), 404, "unknown_model")
    versions = on.get("/v1/models/films").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["aliases"] == ["production"]


def test_hot_reload_follows_alias_moves(setup, model, other_model):
    reg, keys = setup
    c = client(reg, keys["reader"], reload_interval=0.0)
    user = 3
    first = c.get(f"/v1/recommend/{user}", params={"model": "films", "n": 5}).json()
    assert first["version"] == 1
    reg.publish("films", other_model)
    assert c.get(f"/v1/recommend/{user}", params={"model": "films", "n": 5}).json()["version"] == 1
    reg.set_alias("films", "production", 2)
    second = c.get(f"/v1/recommend/{user}", params={"model": "films", "n": 5}).json()
    assert second["version"] == 2
    assert second["items"] == other_model.recommend(user, n=5)[0].tolist()
    # An explicit version still answers from that version.
    assert c.get(f"/v1/recommend/{user}", params={"model": "films", "version": "1", "n": 5}).json()["items"] == \
        first["items"]


def test_metrics_and_openapi(setup):
    reg, keys = setup
    app = create_app(reg, reload_interval=0.0, batching=True)
    c = SyncClient(app, {"Authorization": f"Bearer {keys['reader']}"})
    for user in range(3):
        assert c.get(f"/v1/recommend/{user}", params={"model": "films"}).status_code == 200
    c.get("/v1/recommend/999", params={"model": "films", "strict": "true"})
    # /metrics needs a key with the 'metrics' scope (issue 12).
    assert_error(c.get("/metrics"), 403, "forbidden")
    _, scraper = reg.create_key(["metrics"])
    r = c.get("/metrics", headers={"Authorization": f"Bearer {scraper}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    from prometheus_client.parser import text_string_to_metric_families

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(r.text) for s in fam.samples}
    route = ("route", "/v1/recommend/{user_id}")
    assert samples[("maaskit_requests_total", (("code", "200"), ("method", "GET"), route))] == 3
    assert samples[("maaskit_requests_total", (("code", "404"), ("method", "GET"), route))] == 1
    assert samples[("maaskit_request_duration_seconds_count", (route,))] == 4
    assert samples[("maaskit_batch_size_count", (("model", "films"),))] == 3
    assert samples[("maaskit_model_loads_total", (("model", "films"), ("version", "1")))] == 1
    assert ("maaskit_shed_requests", ()) in samples
    # Two apps in one process keep their own counts (one CollectorRegistry per app).
    other = create_app(reg, reload_interval=0.0, public_metrics=True)
    assert "maaskit_requests_total{" not in SyncClient(other).get("/metrics").text
    doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    served = {r.path for r in app.routes}
    assert served <= set(doc["paths"])


def test_micro_batching_answers_concurrent_requests(setup, model):
    reg, keys = setup
    app = create_app(reg, reload_interval=10.0, batching={"films"}, max_batch=16, max_wait_ms=5)
    users = list(range(30))

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {keys['reader']}"}) as c:
            lone = await c.get("/v1/recommend/0", params={"model": "films", "n": 3})
            many = await asyncio.gather(*[c.get(f"/v1/recommend/{u}", params={"model": "films", "n": 3})
                                          for u in users])
            bad = await asyncio.gather(c.get("/v1/recommend/999", params={"model": "films", "strict": "true"}),
                                       c.get("/v1/recommend/1", params={"model": "films", "n": 3}))
            return lone, many, bad

    lone, many, bad = asyncio.run(run())
    expected, _ = model.recommend(users, n=3)
    assert lone.json()["items"] == expected[0].tolist()
    assert [r.json()["items"] for r in many] == expected.tolist()
    assert bad[0].status_code == 404 and bad[1].json()["items"] == expected[1].tolist()
    metrics = app.state.maaskit.metrics
    total = metrics.sample("maaskit_batch_size_sum", {"model": "films"})
    calls = metrics.sample("maaskit_batch_size_count", {"model": "films"})
    assert total == 1 + len(users) + 1 and calls < len(users) + 2  # some requests shared a call


def test_rating_model_with_string_ids(tmp_path, block_interactions):
    model = Recommender(random_state=0, max_iter=5).fit(block_interactions)  # ratings: matrix factorisation
    assert model.algorithm_ == "mf"
    reg = Registry(tmp_path)
    reg.publish("ratings", model)
    c = client(reg, auth=False, batching=True)
    for user in ("u0", "u25"):
        body = c.get(f"/v1/recommend/{user}", params={"model": "ratings", "n": 3}).json()
        ids, scores = model.recommend(user, n=3)
        assert body["items"] == ids.tolist()
        np.testing.assert_allclose(body["scores"], scores, rtol=1e-6)
    tensor = {"name": "user_id", "shape": [2, 1], "datatype": "BYTES", "data": ["u1", "u30"]}
    out = c.post("/v2/models/ratings/infer", json={"inputs": [tensor], "parameters": {"n": 2,
                                                                                  "exclude_seen": False}}).json()
    ids, _ = model.recommend(["u1", "u30"], n=2, exclude_seen=False)
    assert out["outputs"][0]["data"] == ids.ravel().tolist() and out["outputs"][0]["datatype"] == "BYTES"
    assert_error(c.get("/v1/recommend/u999", params={"model": "ratings", "strict": "true"}), 404, "unknown_user")
    assert c.get("/v1/similar/i3", params={"model": "ratings", "n": 2}).json()["items"] == \
        model.similar_items("i3", n=2)[0].tolist()


@register
class TinyKeywordClassifier(ClassifierMixin, PersistableMixin, BaseEstimator):
    """Test-only text classifier: 'pos' when a text holds more known-positive words."""

    _state_schema = StateSchema(arrays={"classes_": Arr("U", (2,))},
                                attrs={"positive_": Attr(list, items=Attr(str))})

    def fit(self, X, y):
        self.classes_ = np.array(["neg", "pos"])
        self.positive_ = sorted({w for text, label in zip(X, y) if label == "pos" for w in text.split()})
        return self

    def predict_proba(self, X):
        if isinstance(X, str) or not all(isinstance(t, str) for t in X):
            raise ValueError("X must be a list of strings")
        hits = np.array([sum(w in self.positive_ for w in t.split()) / max(1, len(t.split())) for t in X])
        return np.c_[1 - hits, hits]

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def test_text_estimator(tmp_path):
    est = TinyKeywordClassifier().fit(["great fun", "dull plot"], ["pos", "neg"])
    reg = Registry(tmp_path)
    mv = reg.publish("sentiment", est)
    assert mv.signature["kind"] == "text"
    c = client(reg, auth=False)
    texts = ["great great fun", "dull", "fun but dull plot"]
    assert c.post("/v1/predict/sentiment", json={"instances": texts}).json()["predictions"] == \
        est.predict(texts).tolist()
    tensor = {"name": "text", "shape": [3], "datatype": "BYTES", "data": texts}
    out = c.post("/v2/models/sentiment/infer", json={"inputs": [tensor], "outputs": [{"name": "predict"},
                                                                                    {"name": "predict_proba"}]})
    assert out.status_code == 200, out.text
    outs = {o["name"]: o for o in out.json()["outputs"]}
    assert outs["predict"]["datatype"] == "BYTES" and outs["predict"]["data"] == est.predict(texts).tolist()
    np.testing.assert_allclose(np.reshape(outs["predict_proba"]["data"], (3, 2)), est.predict_proba(texts))
    assert_error(c.post("/v1/predict/sentiment", json={"instances": [1, 2]}), 400, "invalid_input")
    assert_error(c.post("/v2/models/sentiment/infer", json={"inputs": [dict(tensor, datatype="FP64",
                                                                              data=[1, 2, 3])]}),
                 400, "datatype_mismatch")
    assert c.get("/v2/models/sentiment").json()["inputs"][0]["datatype"] == "BYTES"
