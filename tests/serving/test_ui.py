"""The model market page's server side, in-process: static files with a strict CSP, the
history endpoint and ``can_promote`` behind the same keys and scopes as every endpoint."""

from __future__ import annotations

import asyncio
import re

import httpx
import numpy as np
import pandas as pd
import pytest

from maaskit.recommender import MatrixFactorization
from maaskit.registry import Registry
from maaskit.serving import create_app
from maaskit.serving.ui import UI_FILES


def get(app, url, token=None):
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
            return await c.get(url)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def mf():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 40, 400),
                       "rating": rng.integers(1, 6, 400).astype(float)})
    return MatrixFactorization(n_factors=4, max_iter=5, random_state=0).fit(df)


@pytest.fixture
def setup(tmp_path, mf, model):
    reg = Registry(tmp_path)
    reg.publish("ratings", mf, metrics={"rmse": 0.93}, tags={"team": "tv"}, alias="production")
    reg.publish("films", model)
    keys = {"reader": reg.create_key(["read:*"])[1], "films": reg.create_key(["read:films"])[1],
            "publisher": reg.create_key(["read:*", "publish:ratings"])[1]}
    return reg, keys


def test_ui_files_are_served_with_a_strict_csp(setup):
    reg, _ = setup
    app = create_app(reg, reload_interval=0.0)
    page = get(app, "/ui")  # public: the page holds no data
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and page.headers["x-content-type-options"] == "nosniff"
    # No inline script or style in the page itself, nothing from another origin.
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html
    assert "http://" not in html.replace('"http://www.w3.org', "") and "https://" not in html
    for name, media in UI_FILES.items():
        r = get(app, f"/ui/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == media and r.headers["content-security-policy"]
    js = get(app, "/ui/app.js").text
    assert "innerHTML" not in js and "document.cookie" not in js and "localStorage" not in js
    for bad in ("/ui/../app.py", "/ui/missing.js", "/ui/%2e%2e%2fapp.py"):
        assert get(app, bad).status_code == 404


def test_history_endpoint_and_catalogue_fields(setup, mf):
    reg, keys = setup
    app = create_app(reg, reload_interval=0.0)
    r = get(app, "/v1/models/ratings/history", keys["reader"])
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "ratings", "version": 1, "history": {"loss": mf.history_["loss"]}}
    assert get(app, "/v1/models/films/history?version=1", keys["reader"]).json()["history"] == {}
    # Same keys and scopes as the rest.
    assert get(app, "/v1/models/ratings/history").status_code == 401
    assert get(app, "/v1/models/ratings/history", "mk_bad.token").status_code == 401
    assert get(app, "/v1/models/ratings/history", keys["films"]).status_code == 403
    assert get(app, "/v1/models/ratings/history?version=9", keys["reader"]).status_code == 404
    assert get(app, "/v1/models/ratings/history?version=-1", keys["reader"]).status_code == 400
    assert get(app, "/v1/models/nope/history", keys["reader"]).status_code == 404
    versions = get(app, "/v1/models/ratings", keys["reader"]).json()["versions"]
    assert [v["signed"] for v in versions] == [reg.signed_versions("ratings")[1]]
    listed = {m["name"]: m for m in get(app, "/v1/models", keys["reader"]).json()["models"]}
    assert listed["ratings"]["kind"] == "recommender" and listed["ratings"]["metrics"] == {"rmse": 0.93}
    assert listed["ratings"]["updated"] > 0


def test_can_promote_needs_publish_scope_and_allow_publish(setup):
    reg, keys = setup
    closed = create_app(reg, reload_interval=0.0)
    opened = create_app(reg, reload_interval=0.0, allow_publish=True)
    assert get(closed, "/v1/models/ratings", keys["publisher"]).json()["can_promote"] is False
    assert get(opened, "/v1/models/ratings", keys["publisher"]).json()["can_promote"] is True
    assert get(opened, "/v1/models/films", keys["publisher"]).json()["can_promote"] is False
    assert get(opened, "/v1/models/ratings", keys["reader"]).json()["can_promote"] is False
