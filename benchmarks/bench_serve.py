"""Load test of ``maaskit serve``: throughput and p50/p99 latency on loopback, answers checked.

Starts real server processes (uvicorn, one worker) and drives each with concurrent
keep-alive HTTP/1.1 connections from a raw asyncio client (cheap, so the client does not
eat the server's CPU), for a bounded request count and time. Workloads:

* ``GET /v1/recommend/{user}`` (top-10, seen items excluded), with and without micro-batching;
* ``POST /v2/models/films/infer`` (V2 tensors, one user per request), with and without it.

The *floor* is a handmade endpoint written for this benchmark, not a maintained server: a
minimal Starlette endpoint on the same uvicorn that parses the request, calls
``model.recommend`` and returns JSON, with no auth, metrics, registry or batching. It is
the least work a Python server can do per request, so it bounds from above what any
Python model server (BentoML, KServe, MLflow's scoring server) could reach here; it is not
a peer. No maintained model server is installed in this environment (none of MLflow,
BentoML, Ray Serve), so none is compared. Every answer (maaskit and floor) is checked
against the in-process model; the error count must be 0.

Target (issue 6): >= 1,000 recommend req/s with p99 < 10 ms on this 2-core machine.

Usage: ``python benchmarks/bench_serve.py [--quick] [--concurrency 8] [--requests 6000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from maaskit.utils._net import free_port

REPO = Path(__file__).resolve().parents[1]
PEER = "floor (handmade plain Starlette endpoint, not a maintained server)"

PEER_APP = textwrap.dedent('''
    import json, sys
    import numpy as np
    import maaskit
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from threadpoolctl import threadpool_limits

    # Same one-thread-per-call setting as maaskit serve, so the comparison is like for like.
    maaskit.set_config(n_threads=1)
    threadpool_limits(limits=1)
    model = maaskit.load(sys.argv[1])
    dtype = model.user_index_.ids.dtype

    def answer(ids, scores):
        return Response(json.dumps({"items": ids.tolist(), "scores": scores.astype(float).tolist()}),
                        media_type="application/json")

    async def recommend(request):
        user = np.array([request.path_params["user_id"]]).astype(dtype)
        n = int(request.query_params.get("n", 10))
        ids, scores = model.recommend(user, n=n, output="numpy")
        return answer(ids[0], scores[0])

    async def infer(request):
        body = await request.json()
        users = np.asarray(body["inputs"][0]["data"]).astype(dtype)
        ids, scores = model.recommend(users, n=int(body.get("parameters", {}).get("n", 10)), output="numpy")
        return Response(json.dumps({"outputs": [
            {"name": "item_id", "datatype": "INT64", "shape": list(ids.shape), "data": ids.ravel().tolist()},
            {"name": "score", "datatype": "FP32", "shape": list(ids.shape), "data": scores.ravel().astype(float).tolist()}]}),
            media_type="application/json")

    app = Starlette(routes=[Route("/v1/recommend/{user_id}", recommend),
                            Route("/v2/models/films/infer", infer, methods=["POST"])])

    if __name__ == "__main__":
        import uvicorn
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False,
                    lifespan="off")
''')


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start in time")


def make_model(quick: bool):
    import pandas as pd

    from maaskit import Recommender

    from maaskit.datasets import find_data_home

    home = find_data_home()
    path = home / "ml-100k" / "u.data" if home else None
    if path is not None and path.exists():
        df = pd.read_csv(path, sep="\t", names=["user", "item", "rating", "ts"])
        source = "MovieLens 100k (implicit: ratings >= 4)"
        df = df[df.rating >= 4][["user", "item"]]
    else:
        rng = np.random.RandomState(0)
        df = pd.DataFrame({"user": rng.randint(0, 943, 50_000), "item": rng.zipf(1.3, 50_000) % 1682})
        source = "synthetic 943 x 1682"
    model = Recommender("als", n_factors=64, max_iter=5 if quick else 15, random_state=0).fit(df)
    return model, source


async def drive(port: int, requests: list[bytes], check, concurrency: int, max_seconds: float):
    """Send ``requests`` round-robin over ``concurrency`` keep-alive connections."""
    latencies: list[float] = []
    errors: list[str] = []
    next_idx = 0
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal next_idx
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_idx < len(requests) and time.perf_counter() < deadline:
                k = next_idx
                next_idx += 1
                t0 = time.perf_counter()
                writer.write(requests[k])
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                status = int(head[9:12])
                err = check(k, status, body)
                if err:
                    errors.append(err)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    wall = time.perf_counter() - t0
    return {"lat": latencies, "wall": wall, "errors": errors}


def merge(parts: list[dict]) -> dict:
    lat = np.concatenate([np.asarray(p["lat"]) for p in parts]) * 1000
    wall = sum(p["wall"] for p in parts)
    errors = [e for p in parts for e in p["errors"]]
    return {"n": len(lat), "rps": len(lat) / wall, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "errors": len(errors), "first_error": errors[:1]}


def has_fast_http() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--requests", type=int, default=6000)
    p.add_argument("--max-seconds", type=float, default=20.0)
    args = p.parse_args()
    n_req = 600 if args.quick else args.requests

    from maaskit.registry import Registry

    model, source = make_model(args.quick)
    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    reg = Registry(tmp / "registry")
    reg.publish("films", model, alias="production")
    _, token = reg.create_key(["read:*"])
    artifact = tmp / "films.npz"
    model.save(artifact)
    peer_script = tmp / "peer_app.py"
    peer_script.write_text(PEER_APP)

    rng = np.random.RandomState(1)
    users = model.user_index_.ids[rng.randint(0, model.n_users_, n_req)]
    expected_ids, _ = model.recommend(users, n=10, output="numpy")
    auth = f"Authorization: Bearer {token}\r\n".encode()

    def get_req(u, with_auth: bool) -> bytes:
        return (f"GET /v1/recommend/{u}?model=films&n=10 HTTP/1.1\r\nHost: bench\r\n".encode()
                + (auth if with_auth else b"") + b"\r\n")

    def infer_req(u, with_auth: bool) -> bytes:
        body = json.dumps({"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [int(u)]}],
                           "parameters": {"n": 10}}).encode()
        return (b"POST /v2/models/films/infer HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                + (auth if with_auth else b"") + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def check_recommend(k: int, status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:200]!r}"
        items = json.loads(body)["items"]
        return None if items == expected_ids[k].tolist() else f"wrong answer for user {users[k]}"

    def check_infer(k: int, status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:200]!r}"
        out = {o["name"]: o for o in json.loads(body)["outputs"]}
        return None if out["item_id"]["data"] == expected_ids[k].tolist() else f"wrong answer for user {users[k]}"

    serve = [sys.executable, "-m", "maaskit", "serve", "--registry", str(tmp / "registry"), "--log-level", "warning"]
    servers = {
        "maaskit": serve,
        "maaskit+batching": serve + ["--batching"],
        "maaskit (h11, asyncio)": serve + ["--http", "h11", "--loop", "asyncio"],
        PEER: [sys.executable, str(peer_script), str(artifact)],
    }
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs, ports = {}, {}
    try:
        for label, cmd in servers.items():
            ports[label] = free_port()
            extra = ["--port", str(ports[label])] if label != PEER else [str(ports[label])]
            procs[label] = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            text=True, env=env)
        for label in servers:
            wait_ready(ports[label], procs[label])
        routes = (("/v1/recommend", get_req, check_recommend), ("/infer", infer_req, check_infer))
        reqs = {(label, route): [build(u, label != PEER) for u in users]
                for label in servers for route, build, _ in routes}
        checks = {route: check for route, _, check in routes}
        for (label, route), rs in reqs.items():  # warm-up: model load, JIT, connections (not timed)
            asyncio.run(drive(ports[label], rs[:50], checks[route], 2, 30))
        # Interleave rounds so that load from other users of the machine hits every server alike.
        parts: dict = {key: [] for key in reqs}
        rounds = 3
        for r in range(rounds):
            for (label, route), rs in reqs.items():
                chunk = rs[r * len(rs) // rounds:(r + 1) * len(rs) // rounds]
                offset = r * len(rs) // rounds
                parts[(label, route)].append(asyncio.run(drive(
                    ports[label], chunk, lambda k, st, body, c=checks[route], o=offset: c(k + o, st, body),
                    args.concurrency, args.max_seconds / rounds)))
        results = {key: merge(p) for key, p in parts.items()}
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)
        parser = "httptools + uvloop" if has_fast_http() else "h11 + asyncio (httptools/uvloop not installed)"

    load = os.getloadavg()
    lines = [f"# bench_serve ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}, "
             f"loadavg after run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
             f"data: {source}; ALS 64 factors, {model.n_users_} users x {model.n_items_} items; top-10, "
             f"{args.concurrency} keep-alive connections, up to {n_req} requests / {args.max_seconds:.0f} s per "
             f"server and route, in 3 interleaved rounds; HTTP stack (unless named): {parser}",
             "", "| server | route | requests | req/s | p50 ms | p99 ms | errors | req/s vs floor |",
             "|---|---|---|---|---|---|---|---|"]
    for (label, route), r in results.items():
        peer = results[(PEER, route)]["rps"]
        lines.append(f"| {label} | {route} | {r['n']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                     f"{r['errors']} | {r['rps'] / peer:.2f}x |")
    rec = [results[(lbl, "/v1/recommend")] for lbl in servers if lbl != PEER]
    best = max(rec, key=lambda r: r["rps"])
    met = best["rps"] >= 1000 and best["p99"] < 10
    lines += ["", f"target >= 1000 recommend req/s with p99 < 10 ms: {'MET' if met else 'MISSED'} "
                  f"(best maaskit: {best['rps']:.0f} req/s, p99 {best['p99']:.2f} ms)"]
    errs = [r["first_error"] for r in results.values() if r["errors"]]
    if errs:
        lines.append(f"ERRORS: {errs}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
