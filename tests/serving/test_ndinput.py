"""A served CRNN takes its native input: 4-D/5-D clips and clips of different lengths, through
POST /v1/predict (nested lists), KServe V2 infer (shape + flat data, plus 'lengths') and the
Client, under the request limits, with 4xx answers for wrong ranks and shapes."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from maaskit.client import Client, ServiceError
from maaskit.neural_network import CRNNClassifier
from maaskit.registry import Registry
from maaskit.serving import create_app


def _request(app, method, url, **kw):
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.request(method, url, **kw)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    rng = np.random.RandomState(0)
    clips = [rng.rand(t, 6, 6) for t in (3, 2, 4, 1, 3, 2)]
    # numpy backend: no kernel compilation in a unit test
    crnn = CRNNClassifier(filters=(2,), frame_size=4, hidden_size=3, max_iter=2, batch_size=6, random_state=0,
                          backend="numpy", device="cpu").fit(clips, [0, 1, 2, 0, 1, 2])
    reg = Registry(tmp_path_factory.mktemp("reg"))
    mv = reg.publish("clips", crnn)
    app = create_app(reg, auth=False, reload_interval=0.0, max_tensor_elements=2000)
    return app, crnn, mv, rng


def _proba(app, instances, **kw):
    return _request(app, "POST", "/v1/predict/clips", json={"instances": instances, "method": "predict_proba", **kw})


def test_signature_records_frames_of_any_length(served):
    app, crnn, mv, _ = served
    assert mv.signature["input_shape"] == [-1, 6, 6]
    assert mv.signature["input_shapes"] == [[-1, 6, 6], [-1, 1, 6, 6]]
    meta = _request(app, "GET", "/v2/models/clips").json()
    assert meta["inputs"][0]["shape"] == [-1, -1, 6, 6]
    assert meta["inputs"][1] == {"name": "lengths", "datatype": "INT64", "shape": [-1], "optional": True}


def test_predict_takes_4d_5d_and_clips_of_different_lengths(served):
    app, crnn, _, rng = served
    X = rng.rand(3, 5, 6, 6)  # 5 frames: longer than any clip of the fit
    r = _proba(app, X.tolist())
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], crnn.predict_proba(X), rtol=1e-12)
    r5 = _proba(app, X[:, :, None].tolist())
    np.testing.assert_allclose(r5.json()["predictions"], crnn.predict_proba(X), rtol=1e-12)
    ragged = [rng.rand(t, 6, 6) for t in (2, 4, 1)]
    r = _proba(app, [c.tolist() for c in ragged])
    assert r.status_code == 200, r.text
    expected = np.vstack([crnn.predict_proba(c[None]) for c in ragged])
    np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-12)


def test_v2_infer_takes_a_padded_tensor_with_lengths(served):
    app, crnn, _, rng = served
    ragged = [rng.rand(t, 6, 6) for t in (2, 4, 1)]
    padded = np.zeros((3, 4, 6, 6))
    for i, c in enumerate(ragged):
        padded[i, :len(c)] = c
    body = {"inputs": [{"name": "input-0", "shape": [3, 4, 6, 6], "datatype": "FP64", "data": padded.ravel().tolist()},
                       {"name": "lengths", "shape": [3], "datatype": "INT64", "data": [2, 4, 1]}],
            "outputs": [{"name": "predict_proba"}]}
    r = _request(app, "POST", "/v2/models/clips/infer", json=body)
    assert r.status_code == 200, r.text
    expected = np.vstack([crnn.predict_proba(c[None]) for c in ragged])
    np.testing.assert_allclose(np.reshape(r.json()["outputs"][0]["data"], (3, 3)), expected, rtol=1e-12)
    # without lengths: every clip has the tensor's frame count
    r = _request(app, "POST", "/v2/models/clips/infer", json={"inputs": body["inputs"][:1], "outputs": body["outputs"]})
    np.testing.assert_allclose(np.reshape(r.json()["outputs"][0]["data"], (3, 3)), crnn.predict_proba(padded),
                               rtol=1e-12)


def _tensor(shape, data=None, name="input-0", datatype="FP64"):
    n = int(np.prod(shape))
    return {"name": name, "shape": list(shape), "datatype": datatype, "data": data if data is not None else [0.5] * n}


@pytest.mark.parametrize("inputs, status, needle", [
    ([_tensor([2, 6, 6])], 400, "X must be of shape (n_samples, T, 6, 6) or (n_samples, T, 1, 6, 6)"),
    ([_tensor([2, 3, 5, 6])], 400, "got (2, 3, 5, 6)"),
    ([_tensor([2, 0, 6, 6])], 400, "at least one frame"),
    ([_tensor([2, 3, 6, 6]), _tensor([2], [1, 4], "lengths", "INT64")], 400, "lengths must be between 1 and 3"),
    ([_tensor([2, 3, 6, 6]), _tensor([3], [1, 2, 3], "lengths", "INT64")], 400, "must have shape [2]"),
    ([_tensor([2, 3, 6, 6]), _tensor([2], [1.0, 2.0], "lengths", "FP64")], 400, "'lengths' must be INT64"),
    ([_tensor([2, 3, 6, 6]), _tensor([2, 3, 6, 6], name="other")], 400, "one input tensor"),
    ([_tensor([20, 3, 6, 6])], 413, "max_tensor_elements"),
])
def test_v2_infer_refuses_wrong_ranks_shapes_and_lengths(served, inputs, status, needle):
    app = served[0]
    r = _request(app, "POST", "/v2/models/clips/infer", json={"inputs": inputs})
    assert r.status_code == status, r.text
    assert needle in r.text


@pytest.mark.parametrize("instances, status, needle", [
    ([[[0.0] * 6] * 6], 400, "got (1, 6, 6)"),  # one frame without the clip axis: wrong rank
    ([[[[0.0] * 6] * 6], [[[0.0] * 5] * 6]], 400, "instance 1 must be of shape (T, 6, 6) or (T, 1, 6, 6); got (1, 6, 5)"),
    ([[[[0.0] * 6] * 6], [[[0.0] * 6] * 6, [[0.0] * 6] * 5]], 400, "instance 1 must be a clip"),  # ragged frames
    ([[[[0.0] * 6] * 6], []], 400, "instance 1 must be of shape"),  # an empty clip
    ([[[[0.0] * 6] * 6]] * 60 + [[[[0.0] * 6] * 6] * 2], 413, "max_tensor_elements"),
])
def test_predict_refuses_wrong_clips(served, instances, status, needle):
    app = served[0]
    r = _proba(app, instances)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_cnn_signature_is_unchanged_and_refuses_lengths(tmp_path):
    from maaskit.neural_network import CNNClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(20, 6, 6)
    cnn = CNNClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=1, random_state=0, backend="numpy",
                        device="cpu").fit(X, np.arange(20) % 2)
    reg = Registry(tmp_path)
    assert reg.publish("img", cnn).signature["input_shapes"] == [[6, 6], [1, 6, 6], [36]]
    app = create_app(reg, auth=False)
    r = _request(app, "POST", "/v2/models/img/infer",
                 json={"inputs": [_tensor([2, 6, 6]), _tensor([2], [1, 1], "lengths", "INT64")]})
    assert r.status_code == 400 and "one input tensor" in r.text
    r = _request(app, "POST", "/v1/predict/img", json={"instances": [X[0].tolist(), X[1, :5].tolist()]})
    assert r.status_code == 400 and "equal length" in r.text


def test_client_sends_clips_of_different_lengths(served):
    app, crnn, _, rng = served

    def handler(request: httpx.Request) -> httpx.Response:
        async def go():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
                return await ac.request(request.method, str(request.url), headers=request.headers,
                                        content=request.content)

        r = asyncio.run(go())
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)

    c = Client("http://test", transport=httpx.MockTransport(handler))
    ragged = [rng.rand(t, 6, 6) for t in (3, 1)]
    expected = np.vstack([crnn.predict_proba(x[None]) for x in ragged])
    np.testing.assert_allclose(c.predict("clips", ragged, method="predict_proba"), expected, rtol=1e-12)
    got = c.infer("clips", ragged, outputs=["predict_proba"])["predict_proba"]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"every clip must have frames of shape \(6, 6\); got \(5, 5\) for clip 1"):
        c.infer("clips", [rng.rand(2, 6, 6), rng.rand(2, 5, 5)])
    with pytest.raises(ServiceError) as exc:  # the server's answer to the same clips
        c.predict("clips", [rng.rand(2, 6, 6), rng.rand(2, 5, 5)])
    assert exc.value.status_code == 400 and "instance 1 must be of shape" in exc.value.message


def test_body_size_limit_holds_for_clips(served, tmp_path):
    _, crnn, _, rng = served
    reg = Registry(tmp_path)
    reg.publish("clips", crnn)
    app = create_app(reg, auth=False, max_body_bytes=4096)
    small = _request(app, "POST", "/v1/predict/clips", json={"instances": [rng.rand(1, 6, 6).round(2).tolist()]})
    assert small.status_code == 200, small.text
    big = _request(app, "POST", "/v1/predict/clips", json={"instances": [rng.rand(9, 6, 6).tolist()]})
    assert big.status_code == 413, big.text
