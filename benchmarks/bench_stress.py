"""Stress figures of ``maaskit serve`` (issue 12): the run of ``tests/serving/test_stress.py``, measured.

One real server process on 127.0.0.1 (ALS, 2,000 users x 3,000 items, ``--workers 2
--queue 32 --timeout 5``). Phase 1: 8 clients send normal ``GET /v1/recommend`` requests
alone. Phase 2: the same 8 clients while hostile clients send the largest infer the limits
allow (1,000 users x n=100), over-limit requests (the issue's 300,000-user n=1000 attack,
n=1001, 1,001 users), malformed and 200,000-deep JSON, 256 KB headers and slow bodies.
Reported: normal-request p50/p99 in both phases, answers by status, requests shed (503),
past their deadline (504), wrong answers, the attack's time to refusal, idle and peak RSS.

The clients run in this process (Python threads), on the same machine as the server, so on
a small machine they compete with it for the cores: latencies include that.

Usage: ``python benchmarks/bench_stress.py [--seconds 20]``
"""

from __future__ import annotations

import argparse
import os
import platform
import runpy
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
S = runpy.run_path(str(REPO / "tests" / "serving" / "_stress.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    args = parser.parse_args()
    print(f"# bench_stress ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}), {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    model = S["make_model"]()
    with tempfile.TemporaryDirectory() as tmp:
        server = S["Server"](Path(tmp), model)
        try:
            server.wait_ready()
            httpx.get(f"{server.base}/v1/recommend/1", params={"model": "films"},
                      headers={"Authorization": f"Bearer {server.token}"}, timeout=30)
            idle = server.rss()
            calm = S["run"](server, model, seconds=args.seconds, hostile=False)
            storm = S["run"](server, model, seconds=args.seconds, hostile=True)
            alive = server.proc.poll() is None
            metrics = httpx.get(f"{server.base}/metrics", timeout=10).text
        finally:
            server.stop()
    shed = [line for line in metrics.splitlines() if line.startswith("maaskit_shed_requests ")]
    print(f"server flags: {' '.join(S['SERVER_FLAGS'])}")
    print(f"{'phase':<26} {'normal ok':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'503':>5} {'504':>5} "
          f"{'wrong':>5} {'>=500 other':>11}")
    for name, st in (("normal only", calm), ("normal + hostile", storm)):
        p50, p99 = st.percentiles()
        ok = st.normal_status.get(200, 0)
        n503 = st.normal_status.get(503, 0) + sum(n for (k, s), n in st.hostile_status.items() if s == 503)
        n504 = st.normal_status.get(504, 0) + sum(n for (k, s), n in st.hostile_status.items() if s == 504)
        print(f"{name:<26} {ok:>9} {ok / args.seconds:>7.1f} {p50:>8.1f} {p99:>8.1f} {n503:>5} {n504:>5} "
              f"{len(st.wrong):>5} {sum(st.server_errors().values()):>11}")
    print("hostile answers by (client, status):")
    for (kind, status), n in sorted(storm.hostile_status.items(), key=str):
        print(f"  {kind:<8} {status!s:<10} {n}")
    if storm.attack_seconds:
        att = np.asarray(storm.attack_seconds) * 1000
        print(f"issue-12 attack (300,000 user ids, n=1000, read-only key): {len(att)} sent, statuses "
              f"{sorted(set(storm.attack_status))}, refused in median {np.median(att):.0f} ms, max {att.max():.0f} ms")
    print(f"largest allowed infer (1000 users x n=100) answered: {storm.big_ok}")
    print(f"requests shed (server counter): {shed[0].split()[-1] if shed else 'n/a'}")
    print(f"RSS: idle {idle / 2**20:.0f} MiB, peak {max(calm.peak_rss, storm.peak_rss) / 2**20:.0f} MiB "
          f"(+{(max(calm.peak_rss, storm.peak_rss) - idle) / 2**20:.0f} MiB); process alive: {alive}")


if __name__ == "__main__":
    main()
