"""MicroBatcher: bounded batches, one call per batch, a lone request never waits, errors isolated."""

from __future__ import annotations

import asyncio
import time

import pytest

from maaskit.serving import MicroBatcher


def _run(coro):
    return asyncio.run(coro)


def test_lone_request_does_not_wait():
    calls = []

    def fn(key, items):
        calls.append(list(items))
        return [x * 2 for x in items]

    async def go():
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=500)
        t0 = time.perf_counter()
        out = await b.submit("k", 21)
        return out, time.perf_counter() - t0

    out, elapsed = _run(go())
    assert out == 42 and calls == [[21]]
    assert elapsed < 0.25  # far below max_wait_ms=500: nobody lingered


@pytest.mark.parametrize("in_thread", [True, False])
def test_concurrent_requests_share_bounded_calls(in_thread):
    calls = []

    def fn(key, items):
        calls.append((key, list(items)))
        time.sleep(0.005)
        return [(key, x) for x in items]

    async def go():
        b = MicroBatcher(fn, max_batch=4, max_wait_ms=20, run_in_thread=in_thread,
                         on_batch=lambda size: sizes.append(size))
        return await asyncio.gather(*[b.submit(i % 2, i) for i in range(20)])

    sizes: list = []
    out = _run(go())
    assert out == [(i % 2, i) for i in range(20)]
    assert all(len(items) <= 4 for _, items in calls)
    assert all(all(x % 2 == key for x in items) for key, items in calls)  # one key per call
    assert len(calls) < 20 and sum(sizes) == 20


def test_a_failing_call_fails_its_requests_only():
    def fn(key, items):
        if key == "bad":
            raise ValueError("boom")
        return items

    async def go():
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=1)
        res = await asyncio.gather(b.submit("bad", 1), b.submit("ok", 2), return_exceptions=True)
        again = await b.submit("ok", 3)
        return res, again

    (bad, ok), again = _run(go())
    assert isinstance(bad, ValueError) and ok == 2 and again == 3
