"""Safe persistence: round trip, format version, checksum, foreign files."""

from __future__ import annotations

import io
import json
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import maaskit
from maaskit.exceptions import ArtifactError
from maaskit.persistence import ReadLimits, dumps, loads
from maaskit.recommender import Popularity

# helpers shared with the fuzz test (tests are not a package: --import-mode=importlib)
_tools = runpy.run_path(str(Path(__file__).parent / "_artifacts.py"))
mutate, pack, unpack = _tools["mutate"], _tools["pack"], _tools["unpack"]


@pytest.fixture
def fitted(block_interactions):
    return Popularity().fit(block_interactions)


def _rewrite(data: bytes, mutate) -> bytes:
    """Rebuild an npz with ``mutate(dict_of_arrays)`` applied, keeping the header."""
    npz = np.load(io.BytesIO(data), allow_pickle=False)
    arrays = {k: npz[k] for k in npz.files}
    mutate(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_round_trip_file(tmp_path, fitted):
    path = fitted.save(tmp_path / "m.npz")
    loaded = maaskit.load(path)
    assert type(loaded) is Popularity
    a = fitted.recommend(["u1", "u30"], n=3, output="numpy")
    b = loaded.recommend(["u1", "u30"], n=3, output="numpy")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert Popularity.load(path).get_params() == fitted.get_params()


def test_ids_keep_their_type(tmp_path):
    df = pd.DataFrame({"user": [10**12, 10**12 + 1], "item": [7, 8]})
    m = loads(dumps(Popularity().fit(df)))
    assert m.user_index_.ids.dtype.kind == "i"
    assert m.recommend(10**12, n=1)[0][0] == 8


def test_tampered_array_is_rejected(fitted):
    def bump(arrays):
        arrays["item_popularity_"] = arrays["item_popularity_"] + 1
    with pytest.raises(ArtifactError, match="checksum"):
        loads(_rewrite(dumps(fitted), bump))


def test_future_format_version_is_rejected(fitted):
    def future(arrays):
        header = json.loads(arrays["__maaskit__"].tobytes())
        header["format_version"] = 99
        arrays["__maaskit__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with pytest.raises(ArtifactError, match="format_version 99"):
        loads(_rewrite(dumps(fitted), future))


def test_class_outside_allow_list_is_rejected(fitted):
    def evil(header, arrays):
        header["class"] = "os.system"
    # the header is covered by the checksum ...
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        loads(mutate(dumps(fitted), evil, reseal=False))
    # ... and a resealed file still meets the allow-list
    with pytest.raises(ArtifactError, match="not a loadable maaskit estimator"):
        loads(mutate(dumps(fitted), evil))


def test_foreign_files_are_rejected(tmp_path):
    with pytest.raises(ArtifactError, match="not a maaskit artifact"):
        loads(b"definitely not a zip file")
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(3))
    with pytest.raises(ArtifactError, match="no maaskit header"):
        loads(buf.getvalue())
    # A pickled object array inside an npz must never be unpickled.
    buf = io.BytesIO()
    np.savez(buf, __maaskit__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ArtifactError):
        loads(buf.getvalue())
    truncated = dumps(Popularity().fit(pd.DataFrame({"user": [1], "item": [2]})))[:200]
    with pytest.raises(ArtifactError):
        loads(truncated)
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as zf:
        zf.writestr("__maaskit__.npy", b"garbage")
    with pytest.raises(ArtifactError):
        maaskit.load(tmp_path / "z.npz")


def test_expected_class(tmp_path, fitted):
    from maaskit.recommender import BaseRecommender

    path = fitted.save(tmp_path / "m.npz")
    assert isinstance(BaseRecommender.load(path), Popularity)


def test_unsaveable_ids(tmp_path):
    df = pd.DataFrame({"user": [(1, 2), (3, 4)], "item": [1, 2]})
    m = Popularity().fit(df)
    with pytest.raises(ArtifactError, match="cannot be saved without pickle"):
        m.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# ----------------------------------------------------------------- format 2: header, signature
def test_header_is_covered_by_the_checksum(fitted):
    def edit(header, arrays):
        header["attrs"]["n_items_"] = 3
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        loads(mutate(dumps(fitted), edit, reseal=False))


def test_signature_round_trip_and_refusals(fitted, monkeypatch):
    monkeypatch.delenv("MAASKIT_SIGNING_KEY", raising=False)
    signed = dumps(fitted, signing_key="k1")
    assert unpack(signed)[0]["signature"]["alg"] == "hmac-sha256"
    assert type(loads(signed, signing_key="k1")) is Popularity
    with pytest.raises(ArtifactError, match="signature mismatch"):
        loads(signed, signing_key="k2")
    unsigned = dumps(fitted)
    assert "signature" not in unpack(unsigned)[0]
    with pytest.raises(ArtifactError, match="not signed"):
        loads(unsigned, signing_key="k1")  # a key means a signature is required ...
    assert type(loads(unsigned, signing_key="k1", require_signature=False)) is Popularity
    with pytest.raises(ArtifactError, match="no signing key"):
        loads(signed, require_signature=True)  # ... and requiring one needs a key
    # an attacker who edits the state can reseal the checksum, not the signature
    header, arrays = unpack(signed)
    header["attrs"]["n_items_"] = 3
    forged = pack(header, arrays, key=b"attacker")
    with pytest.raises(ArtifactError, match="signature mismatch"):
        loads(forged, signing_key="k1")


def test_signing_key_from_environment(tmp_path, fitted, monkeypatch):
    monkeypatch.setenv("MAASKIT_SIGNING_KEY", "env-key")
    path = fitted.save(tmp_path / "m.npz")
    assert type(maaskit.load(path)) is Popularity
    assert type(Popularity.load(path, signing_key="env-key")) is Popularity
    monkeypatch.delenv("MAASKIT_SIGNING_KEY")
    with pytest.raises(ArtifactError, match="signature mismatch"):
        maaskit.load(path, signing_key="other")


def test_format_1_files_still_load_and_cannot_satisfy_a_signature(fitted):
    from maaskit._artifact import checksum_v1

    header, arrays = unpack(dumps(fitted))
    header["format_version"] = 1
    header["sha256"] = checksum_v1(arrays)
    v1 = pack(header, arrays, reseal=False)
    m = loads(v1)
    assert m.recommend("u1", n=2)[0].shape == (2,)
    with pytest.raises(ArtifactError, match="format 1 cannot be"):
        loads(v1, signing_key="k", require_signature=True)


# ----------------------------------------------------------------- bounds before allocation
def _npy_member_header(shape, dtype="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_limits_are_checked_before_reading(fitted):
    data = dumps(fitted)
    with pytest.raises(ArtifactError, match="max_arrays=2"):
        loads(data, limits=ReadLimits(max_arrays=2))
    with pytest.raises(ArtifactError, match="max_array_bytes=64"):
        loads(data, limits=ReadLimits(max_array_bytes=64))
    with pytest.raises(ArtifactError, match="max_total_bytes=1000"):
        loads(data, limits=ReadLimits(max_total_bytes=1000))
    with pytest.raises(ArtifactError, match="max_header_bytes=100"):
        loads(data, limits=ReadLimits(max_header_bytes=100))
    header, arrays = unpack(data)
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    header["attrs"]["history_"] = deep
    with pytest.raises(ArtifactError, match="max_header_depth=32"):
        loads(pack(header, arrays))


def _with_member(data: bytes, name: str, payload: bytes, compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(zipfile.ZipInfo(name), payload, compress_type=compress)
    return buf.getvalue()


def _peak_traced(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_crafted_huge_array_is_refused_before_allocation(fitted):
    """A member whose .npy header claims 8 TB is refused from the declaration alone."""
    crafted = _with_member(dumps(fitted), "huge_.npy", _npy_member_header((10**12,)) + b"\0" * 16)

    def attempt():
        with pytest.raises(ArtifactError, match="max_array_bytes"):
            loads(crafted)
    assert _peak_traced(attempt) < 16 << 20
    # whatever the limits, a member's declared size must match the bytes behind it
    huge = ReadLimits(max_array_bytes=1 << 62, max_total_bytes=1 << 62)
    with pytest.raises(ArtifactError, match="truncated or corrupt"):
        loads(crafted, limits=huge)


def test_zip_bomb_is_refused_before_inflating(fitted):
    """A deflated member of 256 MiB of zeros (a few hundred KB in the file) is refused from
    the zip directory's uncompressed size, without inflating it."""
    zeros = np.zeros(32 << 20)  # 256 MiB
    payload = _npy_member_header(zeros.shape) + zeros.tobytes()
    bomb = _with_member(dumps(fitted), "bomb_.npy", payload, zipfile.ZIP_DEFLATED)
    del zeros, payload
    assert len(bomb) < 2 << 20

    def attempt():
        with pytest.raises(ArtifactError, match="max_total_bytes"):
            loads(bomb, limits=ReadLimits(max_total_bytes=64 << 20))
    assert _peak_traced(attempt) < 16 << 20


def test_only_plain_dtypes_are_read(fitted):
    crafted = _with_member(dumps(fitted), "obj_.npy", _npy_member_header((1,), "|O") + b"\0" * 8)
    with pytest.raises(ArtifactError, match="artifacts hold only"):
        loads(crafted)


def test_a_file_that_is_not_an_artifact_says_what_it_is_not(tmp_path):
    (tmp_path / "notes.npz").write_bytes(b"hello, these are notes")
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(__import__("pickle").dumps({"a": 1}))
    for path in (tmp_path / "notes.npz", pickled):
        with pytest.raises(ArtifactError) as err:
            maaskit.load(path)
        msg = str(err.value)
        assert "not a maaskit artifact" in msg and "not a zip archive" in msg
        assert "pickle" not in msg.lower()
    np.save(tmp_path / "arr.npy", np.arange(3))
    buf = io.BytesIO()
    np.savez(buf, x=np.arange(3))
    (tmp_path / "plain.npz").write_bytes(buf.getvalue())
    with pytest.raises(ArtifactError, match="no maaskit header") as err:
        maaskit.load(tmp_path / "plain.npz")
    assert "pickle" not in str(err.value).lower()


def test_allow_list_is_complete_without_imports():
    """The classes listed do not depend on what has been imported (issue 16 point 5)."""
    import subprocess
    import sys

    code = ("import maaskit.persistence as p, json; print(json.dumps(p.registered_classes()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listed = json.loads(out.stdout)
    import maaskit.ensemble, maaskit.linear_model, maaskit.neural_network  # noqa: E401,F401
    import maaskit.recommender, maaskit.svm, maaskit.text  # noqa: E401,F401
    from maaskit.persistence import _REGISTRY

    assert {k for k in _REGISTRY if k.startswith("maaskit.")} == {k for k in listed if k.startswith("maaskit.")}
    assert "maaskit.neural_network.MLPClassifier" in listed
