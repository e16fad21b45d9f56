"""A real ``maaskit serve`` process over HTTPS (trustme certificate): publish, serve, promote,
see the answer change, kill -9, restart, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from maaskit.__main__ import main
from maaskit.client import Client, ServiceUnavailableError
from maaskit.registry import Registry
from maaskit.utils._net import free_port


def _start(registry, port, cert, key, log):
    cmd = [sys.executable, "-m", "maaskit", "serve", "--registry", str(registry), "--port", str(port),
           "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--reload-interval", "0.1",
           "--allow-publish", "--batching", "--log-level", "warning"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with open(log, "ab") as fh:  # the child keeps its own handle
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh, env=env)


def _wait(client, proc, log, timeout=90.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        if client.health():
            return
        time.sleep(0.2)
    pytest.fail("the server did not become ready")


def test_real_server_process(tmp_path, model, other_model):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_pem, key_pem, ca_pem = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    for blob in cert.cert_chain_pems[1:]:
        blob.write_to_path(str(cert_pem), append=True)
    cert.private_key_pem.write_to_path(str(key_pem))
    ca.cert_pem.write_to_path(str(ca_pem))

    root = tmp_path / "registry"
    reg = Registry(root)
    reg.publish("films", model, alias="production")
    _, token = reg.create_key(["read:*", "publish:films"])
    port = free_port()
    log = tmp_path / "server.log"
    proc = _start(root, port, cert_pem, key_pem, log)
    url = f"https://127.0.0.1:{port}"
    try:
        c = Client(url, api_key=token, verify=str(ca_pem), retries=0)
        _wait(c, proc, log)
        first = c.recommend(3, model="films", n=5)
        assert first["version"] == 1 and first["items"] == model.recommend(3, n=5)[0].tolist()
        # The certificate is checked: a client that does not trust the CA cannot connect.
        with pytest.raises(ServiceUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            Client(url, api_key=token, retries=0).models()
        # Publish v2 over HTTPS, then promote it with the command line; the server follows.
        assert c.publish("films", other_model, description="retrained")["version"] == 2
        assert c.recommend(3, model="films", n=5)["version"] == 1
        assert main(["models", "promote", "films", "2", "--registry", str(root)]) == 0
        deadline = time.time() + 10
        while c.recommend(3, model="films", n=5)["version"] != 2:
            assert time.time() < deadline, "the server did not follow the alias move"
            time.sleep(0.1)
        second = c.recommend(3, model="films", n=5)
        assert second["items"] == other_model.recommend(3, n=5)[0].tolist()
        # Kill -9 and restart: nothing is lost.
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc = _start(root, port, cert_pem, key_pem, log)
        _wait(c, proc, log)
        assert c.recommend(3, model="films", n=5) == second
        assert c.recommend(3, model="films", n=5, version=1)["items"] == first["items"]
        assert [v["version"] for v in c.versions("films")] == [1, 2]
        assert c.versions("films")[1]["description"] == "retrained"
        c.close()
    finally:
        proc.kill()
        proc.wait(10)
