"""maaskit.client.Client against httpx.MockTransport and against the real ASGI app."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from maaskit import Recommender
from maaskit.client import (
    AuthenticationError,
    Client,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ServiceError,
    ServiceUnavailableError,
)


def _error(status, type_, message):
    return httpx.Response(status, json={"error": {"type": type_, "message": message, "detail": {"x": 1}}})


def test_requests_and_answers_through_a_mock_transport():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.startswith("/v1/recommend/"):
            return httpx.Response(200, json={"items": [3, 1], "scores": [0.9, 0.1], "version": 2})
        if path == "/v1/predict/churn":
            return httpx.Response(200, json={"predictions": [1, 0]})
        if path.endswith("/infer"):
            return httpx.Response(200, json={"model_name": "churn", "outputs": [
                {"name": "predict_proba", "datatype": "FP64", "shape": [2, 2], "data": [0.1, 0.9, 0.8, None]}]})
        if path == "/v1/models":
            return httpx.Response(200, json={"models": [{"name": "films"}]})
        if path == "/v1/models/films" and request.method == "POST":
            return httpx.Response(201, json={"name": "films", "version": 3})
        return _error(404, "not_found", "no route")

    c = Client("http://svc", api_key="mk_abc.def", transport=httpx.MockTransport(handler))
    assert c.recommend("a b/c", model="films", n=2)["items"] == [3, 1]
    req = seen[-1]
    assert req.url.raw_path.startswith(b"/v1/recommend/a%20b%2Fc?")
    assert req.url.params["n"] == "2" and req.url.params["model"] == "films"
    assert req.headers["authorization"] == "Bearer mk_abc.def"
    assert c.predict("churn", np.zeros((2, 3))) == [1, 0]
    assert json.loads(seen[-1].content) == {"instances": [[0.0] * 3] * 2, "method": "predict"}
    out = c.infer("churn", np.ones((2, 3), dtype=np.float32), outputs=["predict_proba"], version=1)
    tensor = json.loads(seen[-1].content)["inputs"][0]
    assert tensor == {"name": "input-0", "shape": [2, 3], "datatype": "FP32", "data": [1.0] * 6}
    assert seen[-1].url.path == "/v2/models/churn/versions/1/infer"
    assert out["predict_proba"].shape == (2, 2) and np.isnan(out["predict_proba"][1, 1])
    c.infer("films", {"user_id": np.array(["u1", "u2"])}, parameters={"n": 3})
    assert json.loads(seen[-1].content)["inputs"][0]["datatype"] == "BYTES"
    assert c.models() == [{"name": "films"}]
    plays = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1]})
    assert c.publish("films", Recommender(random_state=0).fit(plays), tags={"a": "b"})["version"] == 3
    assert seen[-1].headers["content-type"] == "application/octet-stream"
    assert json.loads(seen[-1].url.params["meta"])["tags"] == {"a": "b"}


@pytest.mark.parametrize("status,cls", [(400, ServiceError), (401, AuthenticationError),
                                        (403, PermissionDeniedError), (404, NotFoundError), (500, ServerError),
                                        (503, ServerError)])
def test_errors_carry_the_server_type_and_message(status, cls):
    c = Client("http://svc", transport=httpx.MockTransport(lambda r: _error(status, "some_type", "the message")))
    with pytest.raises(cls) as info:
        c.recommend(1, model="films")
    err = info.value
    assert (err.status_code, err.type, err.message, err.detail) == (status, "some_type", "the message", {"x": 1})
    assert "the message" in str(err)
    plain = Client("http://svc", transport=httpx.MockTransport(lambda r: httpx.Response(502, text="bad gateway")))
    with pytest.raises(ServerError, match="bad gateway"):
        plain.models()


def test_retries_connection_errors_then_gives_up():
    attempts = []

    def flaky(request):
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"models": []})

    c = Client("http://svc", retries=2, backoff=0.001, transport=httpx.MockTransport(flaky))
    assert c.models() == [] and len(attempts) == 3

    def down(request):
        raise httpx.ConnectError("refused", request=request)

    c = Client("http://svc", retries=1, backoff=0.001, transport=httpx.MockTransport(down))
    with pytest.raises(ServiceUnavailableError, match="2 attempt"):
        c.models()
    assert not c.health()


def test_client_against_the_app(tmp_path):
    from maaskit.registry import Registry
    from maaskit.serving import create_app

    plays = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cy", "cy"],
                          "item": ["jazz", "soul", "jazz", "rock", "soul", "pop"]})
    model = Recommender(random_state=0).fit(plays)
    reg = Registry(tmp_path)
    reg.publish("music", model)
    _, token = reg.create_key(["read:*"])
    app = create_app(reg)
    # httpx.ASGITransport is async-only; the sync client speaks to the app through a thread portal.
    import anyio.from_thread

    class Portal(httpx.BaseTransport):
        def __init__(self, portal):
            self.portal = portal
            self.inner = httpx.ASGITransport(app=app)

        def handle_request(self, request):
            async def go():
                body = b"".join([part async for part in request.stream]) if hasattr(request.stream, "__aiter__") \
                    else request.read()
                req = httpx.Request(request.method, request.url, headers=request.headers, content=body)
                resp = await self.inner.handle_async_request(req)
                content = await resp.aread()
                return httpx.Response(resp.status_code, headers=resp.headers, content=content)

            return self.portal.call(go)

    with anyio.from_thread.start_blocking_portal() as portal:
        c = Client("http://app", api_key=token, transport=Portal(portal))
        assert c.recommend("cy", model="music", n=2)["items"] == model.recommend("cy", n=2)[0].tolist()
        assert c.similar("jazz", model="music", n=2)["items"] == model.similar_items("jazz", n=2)[0].tolist()
        out = c.infer("music", {"user_id": np.array(["ann", "bob"])}, parameters={"n": 2})
        np.testing.assert_array_equal(out["item_id"], model.recommend(["ann", "bob"], n=2)[0])
        fallback = c.recommend("zed", model="music", n=2)
        assert fallback["fallback"] is True and c.recommend("cy", model="music", n=2)["fallback"] is False
        with pytest.raises(NotFoundError) as info:
            c.recommend("zed", model="music", strict=True)
        assert info.value.type == "unknown_user" and "zed" in info.value.message
        assert [m["name"] for m in c.models()] == ["music"]
        assert c.health()


def test_a_broken_connection_is_not_retried_for_writes():
    attempts = []

    def broken(request):
        attempts.append(request.method)
        raise httpx.RemoteProtocolError("connection closed mid-response", request=request)

    c = Client("http://svc", retries=3, backoff=0.001, transport=httpx.MockTransport(broken))
    with pytest.raises(ServiceUnavailableError):
        c.predict("churn", [[0.0]])
    assert attempts == ["POST"]
    with pytest.raises(ServiceUnavailableError):
        c.models()
    assert attempts == ["POST"] + ["GET"] * 4
