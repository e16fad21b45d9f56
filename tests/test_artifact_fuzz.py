"""Crafted artifacts cannot crash or hang a process (issue 12, "Artifacts are untrusted input").

For every loadable class: fit a small model, save it, change one array or one header field
(hypothesis draws which and how: out-of-range and negative indices, wrong dtypes, truncated
or reshaped arrays, NaN/inf, huge counts, header params and attrs), *recompute the checksum*
(anyone can), then load and use the model in a child process. Allowed outcomes: an
ArtifactError at load, or every call succeeding (or refusing with one of maaskit's own
documented errors, e.g. UnknownIdError once the mutation renamed the ids the calls ask for).
A signal (negative exit code), a hang, or any other exception from a call (state that got
past the schema and broke something later) fails.

One long-lived worker process serves all examples and is restarted after a crash, so the
whole file runs in well under its 3-minute budget on two cores.
"""

from __future__ import annotations

import copy
import json
import os
import runpy
import selectors
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maaskit.exceptions import ArtifactError
from maaskit.persistence import dumps, loads

HERE = Path(__file__).parent
CASES_FILE = HERE / "_artifact_cases.py"
_cases = runpy.run_path(str(CASES_FILE))
_tools = runpy.run_path(str(HERE / "_artifacts.py"))
pack, unpack = _tools["pack"], _tools["unpack"]
CASES = _cases["CASES"]
TIMEOUT_S = 60.0  # per example; a hang is what it catches, normal answers take milliseconds
EXAMPLES = int(os.environ.get("MAASKIT_FUZZ_EXAMPLES", "100"))


class Worker:
    """A child process that loads and uses artifacts; restarted when it dies or hangs."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.err = tempfile.TemporaryFile()

    def _start(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, str(CASES_FILE)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=env, text=True)

    def run(self, case: str, data: bytes, tmp: Path) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        path = tmp / "artifact.npz"
        path.write_bytes(data)
        self.proc.stdin.write(json.dumps({"case": case, "path": str(path)}) + "\n")
        self.proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(TIMEOUT_S)
        sel.close()
        line = self.proc.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        if not ready:
            self.proc.kill()
            self.close_pipes()
            self.proc = None
            return {"outcome": "hang", "detail": f"no answer within {TIMEOUT_S} s"}
        code = self.proc.wait()
        self.close_pipes()
        self.proc = None
        self.err.seek(0)
        tail = self.err.read()[-2000:].decode(errors="replace")
        self.err.seek(0)
        self.err.truncate()
        return {"outcome": "crash", "detail": f"exit code {code}: {tail}"}

    def close_pipes(self) -> None:
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()  # the worker's loop ends at EOF
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
        self.err.close()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


_ARTIFACTS: dict[str, bytes] = {}


def artifact(case: str) -> bytes:
    if case not in _ARTIFACTS:
        _ARTIFACTS[case] = dumps(_cases["fit"](case))
    return _ARTIFACTS[case]


# ------------------------------------------------------------------ mutations
_HEADER_VALUES = [None, -1, 0, 1, 2**31, -(2**31), 10**12, 1.5, float("nan"), float("inf"), "x",
                  "cuda", [], {}, True, [1, 2], [10**9], {"__object__": "IdIndex"}]


def _leaves(obj, prefix=(), depth=0):
    """Paths (tuples of keys) of the header's values, up to three levels deep."""
    yield prefix
    if depth >= 3:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, prefix + (k,), depth + 1)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield from _leaves(v, prefix + (i,), depth + 1)


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def _poke_values(a: np.ndarray) -> list:
    n = max(a.shape) if a.ndim else 1
    if a.dtype.kind in "iu":
        vals = [-1, -2, n, n + 1, 2**31 - 1, 10**6]
        return [v for v in vals if np.can_cast(np.min_scalar_type(v), a.dtype) or a.dtype.kind == "i"
                and np.iinfo(a.dtype).min <= v <= np.iinfo(a.dtype).max]
    if a.dtype.kind == "f":
        return [np.nan, np.inf, -np.inf, -1.0, 1e30, float(n)]
    if a.dtype.kind == "U":
        return ["", "zzz", "u0", "i1"]
    return [True, False]


@st.composite
def array_mutation(draw, arrays: dict):
    name = draw(st.sampled_from(sorted(arrays)))
    a = arrays[name]
    kind = draw(st.sampled_from(["poke", "poke", "poke", "fill", "dtype", "truncate", "grow", "reshape",
                                 "drop", "extra"]))
    if kind in ("poke", "fill") and a.size:
        value = draw(st.sampled_from(_poke_values(a) or [0]))
        b = a.copy()
        if kind == "poke":
            b.reshape(-1)[draw(st.integers(0, a.size - 1))] = value
        else:
            b[...] = value
        return f"{kind} {name}={value!r}", {name: b}
    if kind == "dtype":
        dt = draw(st.sampled_from(["<i4", "<i8", "<f4", "<f8", "|u1", "|b1", "<U2"]))
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = a.astype(dt)
        except (ValueError, OverflowError):
            b = np.zeros(a.shape, dtype=dt)
        return f"{name} as {dt}", {name: b}
    if kind == "truncate" and a.ndim and a.shape[0]:
        k = draw(st.integers(1, a.shape[0]))
        return f"truncate {name} by {k}", {name: a[:-k]}
    if kind == "grow" and a.ndim and a.shape[0]:
        return f"grow {name}", {name: np.concatenate([a, a[:1]])}
    if kind == "reshape":
        b = a.reshape(-1) if a.ndim > 1 else a.reshape(1, -1)
        return f"reshape {name} to {b.shape}", {name: b}
    if kind == "drop":
        return f"drop {name}", {name: None}
    return "add evil_", {"evil_": np.arange(3)}


@st.composite
def header_mutation(draw, header: dict):
    paths = [p for p in _leaves({"params": header["params"], "attrs": header["attrs"]}) if len(p) >= 2]
    path = draw(st.sampled_from(paths))
    old = _get({"params": header["params"], "attrs": header["attrs"]}, path)
    choices = list(_HEADER_VALUES)
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        choices += [old + 1, old - 1, old * 2, old * 1000, -old]
    value = draw(st.sampled_from(choices))
    drop = draw(st.booleans()) and draw(st.booleans())  # sometimes remove the field instead
    return path, (None if drop else value), drop


class Mutation:
    """One drawn change; shown by its description (not its bytes) when an example fails."""

    def __init__(self, what: str, data: bytes) -> None:
        self.what, self.data = what, data

    def __repr__(self) -> str:
        return f"Mutation({self.what!r})"


@st.composite
def mutation(draw, case: str):
    header, arrays = unpack(artifact(case))
    header, arrays = copy.deepcopy(header), dict(arrays)
    if draw(st.booleans()):
        what, change = draw(array_mutation(arrays))
        for k, v in change.items():
            if v is None:
                arrays.pop(k, None)
            else:
                arrays[k] = v
    else:
        path, value, drop = draw(header_mutation(header))
        target = {"params": header["params"], "attrs": header["attrs"]}
        if drop:
            parent = _get(target, path[:-1])
            parent.pop(path[-1]) if isinstance(parent, dict) else parent.pop(path[-1])
            what = f"drop {'.'.join(map(str, path))}"
        else:
            _set(target, path, value)
            what = f"{'.'.join(map(str, path))} = {value!r}"
    return Mutation(what, pack(header, arrays))  # checksum recomputed: it gets past it


@pytest.mark.parametrize("case", CASES)
def test_mutated_artifacts_are_refused_or_work(case, worker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(case)
    # the unmutated artifact works in the child too (else the test proves nothing)
    got = worker.run(case, artifact(case), tmp)
    assert got["outcome"] == "ok", got

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(m=mutation(case))
    def check(m):
        got = worker.run(case, m.data, tmp)
        assert got["outcome"] in ("rejected", "ok", "refused"), \
            f"{case}, {m.what}: {got['outcome']}: {got['detail']}"

    check()


# ------------------------------------------------------------------ the reproducer
def test_als_seen_indices_past_the_catalogue_is_refused(worker, tmp_path):
    """The crash reported in issue 12: seen_indices_ pushed past the catalogue, checksum
    recomputed; recommend used to write out of bounds in the top-k kernel (SIGSEGV)."""
    header, arrays = unpack(artifact("ALS"))
    arrays["seen_indices_"] = arrays["seen_indices_"] + 10**6
    crafted = pack(header, arrays)
    with pytest.raises(ArtifactError, match=r"ALS array 'seen_indices_': values must be in \[0, n_items="):
        loads(crafted)
    assert worker.run("ALS", crafted, tmp_path)["outcome"] == "rejected"
    arrays["seen_indices_"] = -arrays["seen_indices_"]  # negative ones too
    with pytest.raises(ArtifactError, match="seen_indices_"):
        loads(pack(header, arrays))


def test_worker_reports_a_crash_as_a_crash(tmp_path):
    """The harness itself: a child killed by a signal is seen as a crash, not a pass."""
    w = Worker()
    try:
        code = "import os, signal, sys; sys.stdin.readline(); os.kill(os.getpid(), signal.SIGSEGV)"
        w.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=w.err, text=True)
        got = w.run("ALS", b"", tmp_path)
    finally:
        w.close()
    assert got["outcome"] == "crash" and "exit code -11" in got["detail"]
