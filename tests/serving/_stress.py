"""The stress harness shared by ``test_stress.py`` and ``benchmarks/bench_stress.py``.

Starts a real ``maaskit serve`` process on 127.0.0.1 with an ALS model over a generated
catalogue, then, for a bounded time, runs 8 clients sending normal recommend requests while
hostile clients send the largest requests the limits allow, over-limit ones (among them the
issue 12 attack: 300,000 copies of one user id with n=1000 from a read-only key), malformed
and deeply nested JSON, huge headers and slow bodies. A monitor samples the server's
resident memory. Every 200 answer is compared with the in-process model.

Everything is bounded: loops stop on a deadline, sockets have timeouts, the server is
killed at the end whatever happens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maaskit.utils._net import free_port

#: Server settings of the run (flags of ``maaskit serve``).
SERVER_FLAGS = ["--workers", "2", "--queue", "32", "--timeout", "5", "--max-users", "1000", "--max-n", "1000",
                "--max-output-cells", "100000", "--log-level", "warning", "--public-metrics"]
BIG_USERS, BIG_N = 1000, 100  # the largest infer the limits allow: 1000 x 100 = max_output_cells


def make_model(n_users: int = 2000, n_items: int = 3000, n_interactions: int = 60_000):
    """ALS on a generated implicit catalogue of a few thousand items."""
    from maaskit.datasets import make_interactions
    from maaskit.recommender import ALS

    df = make_interactions(n_users, n_items, n_interactions, kind="implicit", random_state=0)
    return ALS(n_factors=32, max_iter=3, random_state=0).fit(df[["user", "item"]])


def same_answer(ids, scores, exp_ids, exp_scores, rtol: float = 1e-4) -> bool:
    """Equal top-n, allowing items whose scores tie (within ``rtol``) to swap places."""
    scores = np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64)
    exp_scores = np.asarray(exp_scores, dtype=np.float64)
    if scores.shape != exp_scores.shape or not np.allclose(scores, exp_scores, rtol=rtol, atol=1e-6):
        return False
    ids, exp_ids = np.asarray(ids), np.asarray(exp_ids)
    differ = ids != exp_ids
    if not differ.any():
        return True
    # Every differing position must sit in a run of tied scores, and the sets must agree.
    close = np.isclose(exp_scores[differ][:, None], exp_scores[None, :], rtol=rtol, atol=1e-6).sum(axis=1)
    return bool((close > 1).all()) and set(ids.tolist()) == set(exp_ids.tolist())


@dataclass
class Stats:
    """What one run saw."""

    normal_latency: list = field(default_factory=list)
    normal_status: dict = field(default_factory=dict)
    hostile_status: dict = field(default_factory=dict)
    wrong: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    attack_seconds: list = field(default_factory=list)
    attack_status: list = field(default_factory=list)
    big_ok: int = 0
    idle_rss: int = 0
    peak_rss: int = 0

    def count(self, table: dict, key) -> None:
        table[key] = table.get(key, 0) + 1

    def server_errors(self) -> dict:
        """Answers >= 500 other than the deliberate 503 (shed) and 504 (deadline)."""
        out: dict = {}
        answers = [(("normal", s), n) for s, n in self.normal_status.items()] + list(self.hostile_status.items())
        for (kind, status), n in answers:
            if isinstance(status, int) and status >= 500 and status not in (503, 504):
                out[(kind, status)] = out.get((kind, status), 0) + n
        return out

    def percentiles(self) -> tuple[float, float]:
        lat = np.asarray(self.normal_latency) * 1000
        return (float(np.percentile(lat, 50)), float(np.percentile(lat, 99))) if len(lat) else (np.nan, np.nan)


class Server:
    """A ``maaskit serve`` subprocess over a fresh registry holding the model as ``films``."""

    def __init__(self, root: Path, model, extra_flags: list | None = None) -> None:
        from maaskit.registry import Registry

        self.root = Path(root)
        reg = Registry(self.root / "registry")
        reg.publish("films", model, alias="production")
        _, self.token = reg.create_key(["read:*"], label="read-only")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = self.root / "server.log"
        cmd = [sys.executable, "-m", "maaskit", "serve", "--registry", str(self.root / "registry"),
               "--host", "127.0.0.1", "--port", str(self.port), *SERVER_FLAGS, *(extra_flags or [])]
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh, env=env)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def rss(self) -> int:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _infer_body(users, n: int) -> bytes:
    return json.dumps({"inputs": [{"name": "user_id", "shape": [len(users)], "datatype": "INT64",
                                   "data": [int(u) for u in users]}], "parameters": {"n": n}}).encode()


def _raw_request(port: int, payload: bytes, trickle: bytes = b"", every: float = 0.0,
                 deadline: float = 10.0) -> int | str:
    """Send raw bytes (then ``trickle`` one byte every ``every`` s); return the status or why none."""
    end = time.time() + deadline
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=deadline) as s:
            try:
                s.sendall(payload)
                for b in trickle:
                    if time.time() > end:
                        break
                    s.sendall(bytes([b]))
                    time.sleep(every)
            except OSError:
                pass  # the server stopped reading (it answered, or closed): read what it said
            s.settimeout(max(0.5, end - time.time()))
            head = s.recv(64)
    except ConnectionError:
        return "closed"
    except socket.timeout:
        return "no-answer"
    if not head:
        return "closed"
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else "garbled"


def run(server: Server, model, seconds: float = 20.0, hostile: bool = True, normal_clients: int = 8,
        stats: Stats | None = None) -> Stats:
    """Drive ``server`` for ``seconds``: normal clients, plus the hostile ones when ``hostile``."""
    import httpx

    stats = stats or Stats()
    users = np.asarray(model.user_index_.ids)
    rng = np.random.RandomState(0)
    probe = rng.choice(users, 200, replace=False)
    exp_ids, exp_scores = model.recommend(probe, n=10)
    expected = {int(u): (exp_ids[k], exp_scores[k]) for k, u in enumerate(probe)}
    big_users = rng.choice(users, BIG_USERS, replace=False)
    big_ids, big_scores = model.recommend(big_users, n=BIG_N) if hostile else (None, None)
    headers = {"Authorization": f"Bearer {server.token}"}
    stop = threading.Event()
    lock = threading.Lock()

    def normal(seed: int) -> None:
        r_ = np.random.RandomState(seed)
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as c:
            while not stop.is_set():
                u = int(probe[r_.randint(len(probe))])
                t0 = time.perf_counter()
                try:
                    r = c.get(f"/v1/recommend/{u}", params={"model": "films", "n": 10})
                except httpx.HTTPError as exc:
                    with lock:
                        stats.errors.append(("normal", repr(exc)))
                    continue
                dt = time.perf_counter() - t0
                with lock:
                    stats.count(stats.normal_status, r.status_code)
                    if r.status_code == 200:
                        stats.normal_latency.append(dt)
                        body = r.json()
                        if not same_answer(body["items"], body["scores"], *expected[u]) or body["fallback"]:
                            stats.wrong.append(("normal", u))
                if r.status_code == 503:
                    time.sleep(0.05)

    def hostile_http(kind: str) -> None:
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as c:
            k = 0
            while not stop.is_set():
                k += 1
                try:
                    if kind == "big":
                        r = c.post("/v2/models/films/infer", content=_infer_body(big_users, BIG_N))
                        if r.status_code == 200:
                            out = {o["name"]: o for o in r.json()["outputs"]}
                            ids = np.reshape(out["item_id"]["data"], (BIG_USERS, BIG_N))
                            sc = np.reshape([np.nan if s is None else s for s in out["score"]["data"]],
                                            (BIG_USERS, BIG_N))
                            bad = [j for j in range(0, BIG_USERS, 50)
                                   if not same_answer(ids[j], sc[j], big_ids[j], big_scores[j])]
                            with lock:
                                stats.big_ok += 1
                                stats.wrong += [("big", int(big_users[j])) for j in bad]
                    elif kind == "over":
                        choice = k % 5
                        if choice == 0:
                            body = _infer_body([int(users[0])] * 300_000, 1000)  # the attack
                            t0 = time.perf_counter()
                            r = c.post("/v2/models/films/infer", content=body)
                            with lock:
                                stats.attack_seconds.append(time.perf_counter() - t0)
                                stats.attack_status.append(r.status_code)
                        elif choice == 1:
                            r = c.post("/v2/models/films/infer", content=_infer_body(big_users[:10], 1001))
                        elif choice == 2:
                            r = c.post("/v2/models/films/infer", content=_infer_body(
                                np.resize(big_users, 1001), 10))
                        elif choice == 3:
                            r = c.post("/v2/models/films/infer", content=b'{"inputs": [{"name": "u", nope')
                        else:
                            r = c.post("/v2/models/films/infer", content=b"[" * 200_000 + b"]" * 200_000)
                    else:
                        raise ValueError(kind)
                except httpx.HTTPError as exc:
                    with lock:
                        stats.errors.append((kind, repr(exc)))
                    continue
                with lock:
                    stats.count(stats.hostile_status, (kind, r.status_code))

    def hostile_raw(kind: str) -> None:
        while not stop.is_set():
            if kind == "headers":  # a 256 KB header block
                payload = (b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 << 10)
                           + b"\r\n\r\n")
                status = _raw_request(server.port, payload, deadline=5)
            else:  # a slow body: the headers promise 200 bytes, one byte arrives every 0.25 s
                payload = (f"POST /v2/models/films/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           f"{server.token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                           ).encode()
                status = _raw_request(server.port, payload, trickle=b" " * 200, every=0.25, deadline=9)
            with lock:
                stats.count(stats.hostile_status, (kind, status))
            if status == "no-answer":
                stop.wait(0.5)

    def monitor() -> None:
        while not stop.is_set():
            try:
                rss = server.rss()
            except Exception:  # the process is gone: the caller's liveness check reports it
                return
            stats.peak_rss = max(stats.peak_rss, rss)
            stop.wait(0.05)

    threads = [threading.Thread(target=normal, args=(s,)) for s in range(normal_clients)]
    if hostile:
        threads += [threading.Thread(target=hostile_http, args=(k,)) for k in ("big", "big", "over", "over")]
        threads += [threading.Thread(target=hostile_raw, args=(k,)) for k in ("headers", "slow", "slow")]
    threads.append(threading.Thread(target=monitor))
    for t in threads:
        t.daemon = True
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(40)
    return stats
