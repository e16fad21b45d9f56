"""The model market page in a real browser: headless Chromium (the distribution's package)
driven by Selenium against a real ``maaskit serve`` process.

Nothing is downloaded at run time: the browser and its driver are the system's
(``/usr/bin/chromium``, ``/usr/bin/chromedriver``; ``.ci/run`` installs them when missing),
and the driver path is given explicitly so that Selenium Manager never runs.
The test saves the screenshots the README shows (``docs/ui-*.png``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from maaskit.client import Client
from maaskit.linear_model import LogisticRegression
from maaskit.recommender import MatrixFactorization
from maaskit.registry import Registry
from maaskit.utils._net import free_port

CHROMIUM = os.environ.get("MAASKIT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MAASKIT_CHROMEDRIVER", "/usr/bin/chromedriver")
# The screenshots in docs/ are regenerated only on request, so a test run never edits the
# checkout; otherwise they go to a temporary folder (still taken: taking them is tested).
_DOCS = Path(__file__).resolve().parents[2] / "docs"
EPOCHS = 12


def _ratings(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(0, 60, 1500), "item": rng.integers(0, 90, 1500),
                         "rating": rng.integers(1, 6, 1500).astype(float)})


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A registry with two models (a recommender with a learning curve, a classifier), keys,
    and a ``maaskit serve`` process over it."""
    assert Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file(), (
        "the browser tests need Debian's chromium and chromium-driver: "
        "apt-get install -y chromium chromium-driver (.ci/run does it)")
    root = tmp_path_factory.mktemp("market")
    reg = Registry(root)
    df = _ratings(0)
    mf1 = MatrixFactorization(n_factors=8, max_iter=EPOCHS, random_state=0).fit(df)
    mf2 = MatrixFactorization(n_factors=16, max_iter=EPOCHS + 4, random_state=1).fit(df)
    reg.publish("movie-ratings", mf1, metrics={"rmse": 0.97, "mae": 0.78}, tags={"team": "discovery"},
                description="explicit ratings", alias="production")
    reg.publish("movie-ratings", mf2, metrics={"rmse": 0.95, "mae": 0.76}, tags={"team": "discovery"})
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 4))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "churn", "stay")
    clf = LogisticRegression().fit(X, y)
    reg.publish("churn", clf, metrics={"accuracy": 0.93}, tags={"team": "growth"}, alias="production")
    _, reader = reg.create_key(["read:*"], label="reader")
    _, publisher = reg.create_key(["read:*", "publish:*"], label="publisher")
    port = free_port()
    log = root / "server.log"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "maaskit", "serve", "--registry", str(root),
                                 "--host", "127.0.0.1", "--port", str(port), "--allow-publish",
                                 "--reload-interval", "0.1", "--log-level", "warning"],
                                stdout=subprocess.DEVNULL, stderr=fh, env=env)
    url = f"http://127.0.0.1:{port}"
    client = Client(url, api_key=reader, retries=0)
    try:
        deadline = time.time() + 60
        while not client.health():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, "maaskit serve did not become ready"
            time.sleep(0.2)
        yield {"url": url, "reg": reg, "reader": reader, "publisher": publisher, "client": client,
               "mf1": mf1, "X": X}
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1",
                "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager (which downloads drivers) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout=15):
    return WebDriverWait(driver, timeout).until(condition)


def _visible(driver, element_id):
    return _wait(driver, EC.visibility_of_element_located((By.ID, element_id)))


def _severe(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _enter_key(driver, token):
    box = driver.find_element(By.ID, "key-input")
    box.clear()
    box.send_keys(token)
    driver.find_element(By.ID, "key-submit").click()


def _fits_width(driver):
    # Usable at this width: nothing makes the page itself scroll sideways.
    return driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")


def _full_page_shot(driver, path):
    # The whole page, not just the viewport: a viewport as tall as the content, then back.
    width, height = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollHeight]")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": min(height, 2400), "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _shown_table(driver, table_id):
    # Read in one script call: the page re-renders tables, and element handles would go stale.
    return driver.execute_script(
        "const t = document.getElementById(arguments[0]); if (!t) return [];"
        "return [...t.querySelectorAll('tbody tr')].map(tr => [...tr.cells].map(td => td.innerText.trim()));",
        table_id)


def test_model_market_in_a_browser(market, browser, tmp_path):
    d, url = browser, market["url"]
    DOCS = _DOCS if os.environ.get("MAASKIT_UPDATE_SCREENSHOTS") == "1" else tmp_path
    d.get(url + "/ui")
    _visible(d, "welcome")
    assert d.find_element(By.ID, "models-view").is_displayed() is False

    # A wrong key: the server's message is shown, not a blank page.
    _enter_key(d, "mk_0000.not-a-key")
    error = _visible(d, "error")
    assert "invalid or revoked" in error.text
    assert d.find_element(By.ID, "welcome").is_displayed()
    # The only console entry allowed here is the browser's note of the 401 itself.
    assert all("401" in e["message"] for e in _severe(d)), _severe(d)

    # The reader key: the models list.
    _enter_key(d, market["reader"])
    _wait(d, lambda drv: len(_shown_table(drv, "models-table")) == 2)
    assert not d.find_element(By.ID, "error").is_displayed()
    rows = {r[0].split("\n")[0]: r for r in _shown_table(d, "models-table")}
    assert set(rows) == {"movie-ratings", "churn"}
    assert rows["movie-ratings"][1] == "recommender" and rows["churn"][1] == "classifier"
    assert rows["movie-ratings"][2] == "production → v1" and rows["movie-ratings"][3] == "v2"
    assert rows["churn"][4] == "accuracy 0.9300"
    # The key is in sessionStorage, not in a cookie or the address.
    assert d.get_cookies() == [] and market["reader"] not in d.current_url
    assert d.execute_script("return sessionStorage.getItem('maaskit.apiKey')") == market["reader"]
    assert _fits_width(d)
    d.save_screenshot(str(DOCS / "ui-models.png"))
    # Filters: by kind (in the page) and by tag (on the server).
    Select(d.find_element(By.ID, "kind-filter")).select_by_value("classifier")
    assert [r[0].split("\n")[0] for r in _shown_table(d, "models-table")] == ["churn"]
    Select(d.find_element(By.ID, "kind-filter")).select_by_value("")
    d.find_element(By.ID, "tag-filter").send_keys("team=discovery")
    _wait(d, lambda drv: [r[0].split("\n")[0] for r in _shown_table(drv, "models-table")] == ["movie-ratings"])
    d.find_element(By.ID, "tag-filter").send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
    _wait(d, lambda drv: len(_shown_table(drv, "models-table")) == 2)

    # A model: versions with metrics side by side, the learning curve, no Promote for a reader.
    d.find_element(By.CSS_SELECTOR, "a.model-link[href='#/model/movie-ratings']").click()
    _visible(d, "model-view")
    _wait(d, lambda drv: drv.find_elements(By.CSS_SELECTOR, "#curves svg path"))
    assert d.find_element(By.ID, "model-name").text == "movie-ratings"
    heads = [th.get_attribute("textContent") for th in d.find_elements(By.CSS_SELECTOR, "#versions-table thead th")]
    assert heads == ["Version", "Published", "rmse", "mae", "Aliases", "SHA-256", "Signed", "Input signature"]
    versions = _shown_table(d, "versions-table")
    assert [v[0] for v in versions] == ["v2", "v1"]
    assert versions[0][2:4] == ["0.9500", "0.7600"] and versions[1][2:4] == ["0.9700", "0.7800"]
    sha = market["reg"].get_version("movie-ratings", 1).sha256
    cells = d.find_elements(By.CSS_SELECTOR, "#versions-table tbody tr[data-version='1'] td.mono")
    assert cells[0].get_attribute("title") == sha
    path = d.find_element(By.CSS_SELECTOR, "#curves svg[data-series='loss'] path")
    points = re.findall(r"[ML]\s*[-\d.]+\s+[-\d.]+", path.get_attribute("d"))
    assert len(points) == EPOCHS == len(market["mf1"].history_["loss"])  # the production version's curve
    assert "(v1)" in d.find_element(By.ID, "curve-version").text
    assert not d.find_element(By.ID, "promote-card").is_displayed()
    assert _fits_width(d)
    _full_page_shot(d, DOCS / "ui-model.png")

    # Try it: the same top-10 as the Python client.
    d.find_element(By.ID, "try-input").send_keys("7")
    d.find_element(By.ID, "try-submit").click()
    _wait(d, lambda drv: len(_shown_table(drv, "try-table")) == 10)
    shown = [r[1] for r in _shown_table(d, "try-table")]
    expected = market["client"].recommend(7, model="movie-ratings", n=10)
    assert shown == [str(i) for i in expected["items"]]
    d.execute_script("document.getElementById('try-card').scrollIntoView()")
    d.find_element(By.ID, "try-card").screenshot(str(DOCS / "ui-try.png"))

    # A classifier: paste a row, get the prediction and the probabilities.
    d.get(url + "/ui#/model/churn")
    _visible(d, "model-view")
    _wait(d, lambda drv: drv.find_element(By.ID, "model-name").text == "churn")
    row = market["X"][0]
    d.find_element(By.ID, "try-input").send_keys(", ".join(f"{v:.6f}" for v in row))
    d.find_element(By.ID, "try-submit").click()
    _wait(d, lambda drv: len(_shown_table(drv, "try-table")) == 2)
    want = market["client"].predict("churn", [[round(v, 6) for v in row]])[0]
    assert d.find_element(By.ID, "try-prediction").text == str(want)
    assert [r[0] for r in _shown_table(d, "try-table")] == ["churn", "stay"]

    # Phone width: the list and a model page stay usable without sideways scrolling.
    d.set_window_size(390, 844)
    d.get(url + "/ui#/")
    _wait(d, lambda drv: len(_shown_table(drv, "models-table")) == 2)
    assert _fits_width(d) and d.find_element(By.CSS_SELECTOR, "a.model-link").is_displayed()
    d.get(url + "/ui#/model/movie-ratings")
    _wait(d, lambda drv: drv.find_elements(By.CSS_SELECTOR, "#curves svg path"))
    assert _fits_width(d) and d.find_element(By.ID, "try-submit").is_displayed()
    width = d.find_element(By.CSS_SELECTOR, "#curves svg").size["width"]
    assert 200 < width <= 390
    d.save_screenshot(str(DOCS / "ui-phone.png"))
    d.set_window_size(1280, 900)

    # A publish key sees Promote; it asks for confirmation, then moves the alias.
    d.find_element(By.ID, "key-forget").click()
    _visible(d, "welcome")
    assert d.execute_script("return sessionStorage.getItem('maaskit.apiKey')") is None
    d.get(url + "/ui#/model/movie-ratings")
    _enter_key(d, market["publisher"])
    _visible(d, "promote-card")
    Select(d.find_element(By.ID, "promote-version")).select_by_value("2")
    d.find_element(By.ID, "promote-submit").click()
    question = _visible(d, "promote-confirm")
    assert "production" in question.text and "v2" in question.text
    assert market["reg"].get_version("movie-ratings", "production").version == 1  # not before confirming
    d.find_element(By.ID, "promote-yes").click()
    _visible(d, "promote-done")
    assert market["reg"].get_version("movie-ratings", "production").version == 2
    _wait(d, lambda drv: drv.find_element(By.CSS_SELECTOR, "#model-aliases [data-alias='production']").text
          == "production → v2")
    assert "(v2)" in d.find_element(By.ID, "curve-version").text

    # No console errors once past the wrong key (all of them were read above).
    assert _severe(d) == []
    assert not d.find_element(By.ID, "error").is_displayed()
