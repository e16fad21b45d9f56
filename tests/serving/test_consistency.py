"""Issue 16 points 3 and 4: a served CNN accepts the shape it was trained on; a published
Word2Vec serves similar words and vectors; ``maaskit recommend`` on a classifier says "not a
recommender" as the server does, without a traceback."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from maaskit.__main__ import main
from maaskit.neural_network import CNNClassifier
from maaskit.registry import Registry
from maaskit.serving import create_app
from maaskit.text import Word2Vec


def _get(app, method, url, **kw):
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.request(method, url, **kw)

    return asyncio.run(go())


def _cnn():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 8, 8).astype(np.float32)
    y = (X[:, :4].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    # numpy backend: no kernel compilation in a unit test
    return CNNClassifier(filters=(2,), hidden_layer_sizes=(4,), max_iter=2, batch_size=20, random_state=0,
                         backend="numpy", device="cpu").fit(X, y), X[:3]


def test_served_cnn_accepts_the_shape_it_was_fitted_on(tmp_path):
    cnn, X = _cnn()
    reg = Registry(tmp_path)
    mv = reg.publish("digits", cnn)
    assert mv.signature["input_shape"] == [8, 8] and [64] in mv.signature["input_shapes"]
    app = create_app(reg, auth=False)
    expected = cnn.predict_proba(X)
    r = _get(app, "POST", "/v1/predict/digits", json={"instances": X.tolist(), "method": "predict_proba"})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-5)
    flat = _get(app, "POST", "/v1/predict/digits",
                json={"instances": X.reshape(3, 64).tolist(), "method": "predict_proba"})
    np.testing.assert_allclose(flat.json()["predictions"], expected, rtol=1e-5)
    tensor = {"name": "input-0", "shape": [3, 8, 8], "datatype": "FP32", "data": X.ravel().tolist()}
    r = _get(app, "POST", "/v2/models/digits/infer",
             json={"inputs": [tensor], "outputs": [{"name": "predict_proba"}]})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.reshape(r.json()["outputs"][0]["data"], (3, 2)), expected, rtol=1e-5)
    bad = _get(app, "POST", "/v2/models/digits/infer", json={"inputs": [dict(tensor, shape=[3, 4, 16])]})
    assert bad.status_code == 400 and "(n_samples, 8, 8)" in bad.json()["error"]["message"]
    assert _get(app, "GET", "/v2/models/digits").json()["inputs"][0]["shape"] == [-1, 8, 8]


def test_published_word2vec_serves_similar_words_and_vectors(tmp_path):
    corpus = [["cat", "dog", "mouse", "pet"], ["dog", "bone", "pet"], ["car", "road", "wheel"],
              ["car", "wheel", "engine"]] * 20
    w2v = Word2Vec(vector_size=8, min_count=1, epochs=2, seed=0, backend="numpy").fit(corpus)
    reg = Registry(tmp_path)
    assert reg.publish("words", w2v).signature["kind"] == "word_vectors"
    app = create_app(reg, auth=False)
    r = _get(app, "GET", "/v1/similar/dog", params={"model": "words", "n": 3})
    assert r.status_code == 200, r.text
    expected = w2v.wv.most_similar("dog", topn=3)
    assert r.json()["items"] == [w for w, _ in expected]
    np.testing.assert_allclose(r.json()["scores"], [s for _, s in expected], rtol=1e-6)
    v = _get(app, "GET", "/v1/vector/cat", params={"model": "words"}).json()
    np.testing.assert_allclose(v["vector"], w2v.wv.get_vector("cat"), rtol=1e-6)
    assert _get(app, "GET", "/v1/vector/zebra", params={"model": "words"}).json()["error"]["type"] == "unknown_word"
    err = _get(app, "POST", "/v1/predict/words", json={"instances": ["dog"]}).json()["error"]
    assert err["type"] == "unsupported" and "/v1/similar" in err["message"]
    assert _get(app, "GET", "/v1/recommend/1", params={"model": "words"}).json()["error"]["type"] == "unsupported"


def test_cli_recommend_on_a_classifier_is_a_clean_error(tmp_path, capsys):
    cnn, _ = _cnn()
    from maaskit.persistence import save

    path = save(cnn, tmp_path / "cnn.npz")
    assert main(["recommend", str(path), "3"]) == 1
    err = capsys.readouterr().err
    assert "not a recommender" in err and "Traceback" not in err and "AttributeError" not in err
