"""The Python blocks of docs/distributed.md run, in order, against a scheduler address."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "distributed.md"


def test_distributed_doc_runs(client, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 4
    # The torch.distributed block starts two processes; test_ddp.py runs that same call
    # (fit_ddp with 2 gloo processes), so CI pays for process start-ups only once.
    dask_blocks = [b for b in blocks if "fit_ddp(" not in b]
    assert len(dask_blocks) == 3
    # Point the example at the test cluster's scheduler, as a user points it at theirs.
    monkeypatch.setenv("MAASKIT_SCHEDULER", client.scheduler.address)
    # The doc trains on more rows for the reader's eyes; fewer keep the test fast.
    code = "\n".join(dask_blocks)
    for old, new in (("n_interactions=40_000", "n_interactions=6_000"), ("npartitions=8", "npartitions=2"),
                     ("max_iter=10", "max_iter=3")):
        assert old in code
        code = code.replace(old, new)
    exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})
    out = capsys.readouterr().out
    assert "{'regularization':" in out and "fallback" in out
