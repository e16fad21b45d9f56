"""Safe persistence: round trip, format version, checksum, foreign files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

import maaskit
from maaskit.exceptions import ArtifactError
from maaskit.persistence import dumps, loads
from maaskit.recommender import Popularity


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
    def evil(arrays):
        header = json.loads(arrays["__maaskit__"].tobytes())
        header["class"] = "os.system"
        arrays["__maaskit__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with pytest.raises(ArtifactError, match="not a loadable maaskit estimator"):
        loads(_rewrite(dumps(fitted), evil))


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
