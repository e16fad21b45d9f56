"""Issue 12, "proof under load": a real ``maaskit serve`` process on 127.0.0.1 keeps answering
8 normal clients correctly while others send the largest allowed requests, over-limit ones
(the issue's 300,000-user attack among them), malformed and deeply nested JSON, huge headers
and slow bodies; it never answers >= 500 except a deliberate 503/504, stays alive and stays
within its memory budget. Bounded: about 15 s of traffic, ~40 s in all on 2 cores.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import httpx

S = runpy.run_path(str(Path(__file__).with_name("_stress.py")))

#: Resident memory the server may add above its idle size (model loaded) under the run:
#: 2 workers x (a 1000 x 100 answer + one score block of BaseRecommender.recommend) plus up
#: to 32 queued bodies of at most 1 MiB. Measured: 55-80 MiB.
MEMORY_BUDGET = 200 << 20
SECONDS = 15.0


def test_server_under_hostile_load(tmp_path):
    model = S["make_model"]()
    server = S["Server"](tmp_path, model)
    try:
        server.wait_ready()
        # Idle size: the model loaded (one normal request), nothing in flight.
        r = httpx.get(f"{server.base}/v1/recommend/1", params={"model": "films"},
                      headers={"Authorization": f"Bearer {server.token}"}, timeout=30)
        assert r.status_code == 200, r.text
        idle = server.rss()
        stats = S["run"](server, model, seconds=SECONDS, hostile=True)
        assert server.proc.poll() is None, server.log.read_text()[-3000:]
        peak = max(stats.peak_rss, server.rss())
    finally:
        server.stop()
    assert stats.server_errors() == {}, (stats.normal_status, stats.hostile_status)
    assert stats.wrong == [] and stats.errors == []
    # Normal clients were answered throughout (200, or a deliberate 503 when the queue was full).
    assert set(stats.normal_status) <= {200, 503} and stats.normal_status.get(200, 0) >= 40
    assert stats.big_ok > 0  # the largest allowed requests ran, and were right
    hostile = stats.hostile_status
    assert {status for (kind, status) in hostile if kind == "over"} <= {400, 413, 422, 503}
    assert {status for (kind, status) in hostile if kind == "headers"} == {431}
    assert {status for (kind, status) in hostile if kind == "slow"} == {408}
    # The attack (read-only key, 300,000 copies of one user, n=1000) is refused at
    # once, well inside the 5 s deadline, instead of growing the process to 23 GB.
    assert stats.attack_status and set(stats.attack_status) == {413}
    assert max(stats.attack_seconds) < 5.0
    assert peak - idle < MEMORY_BUDGET, (idle >> 20, peak >> 20)
