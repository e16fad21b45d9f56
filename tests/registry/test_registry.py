"""The embedded registry: versions, aliases, checksums, atomic and concurrent publishing, keys."""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import sqlite3

import numpy as np
import pytest

from maaskit import Recommender
from maaskit.exceptions import ArtifactError
from maaskit.registry import ModelNotFoundError, Registry, default_home, infer_signature


def _same_answers(a, b, users):
    ia, sa = a.recommend(users, n=5)
    ib, sb = b.recommend(users, n=5)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_allclose(sa, sb)


def test_publish_load_roundtrip_and_metadata(tmp_path, model):
    reg = Registry(tmp_path)
    mv = reg.publish("films", model, description="first", tags={"team": "tv"}, metrics={"ndcg": 0.3})
    assert (mv.name, mv.version, mv.description, mv.tags, mv.metrics) == ("films", 1, "first", {"team": "tv"},
                                                                           {"ndcg": 0.3})
    assert mv.signature == infer_signature(model)
    assert mv.signature["kind"] == "recommender" and mv.signature["user_datatype"] == "INT64"
    assert mv.estimator_class == "maaskit.recommender.Recommender"
    assert (tmp_path / mv.path).is_file() and mv.size == (tmp_path / mv.path).stat().st_size
    loaded = reg.load("films", 1)
    _same_answers(model, loaded, [0, 1, 2])
    np.testing.assert_allclose(model.predict(np.array([[0, 1], [2, 3]])), loaded.predict(np.array([[0, 1], [2, 3]])))


def test_versions_aliases_default_and_archive(tmp_path, model, other_model):
    reg = Registry(tmp_path)
    assert reg.publish("films", model).version == 1
    assert reg.publish("films", other_model, tags={"stage": "new"}).version == 2
    assert reg.get_version("films").version == 2  # no production alias: latest
    reg.set_alias("films", "production", 1)
    assert reg.get_version("films").version == 1  # production wins
    assert reg.get_version("films", "latest").version == 2
    assert reg.get_version("films", "production").aliases == ("production",)
    reg.set_alias("films", "champion", "production")
    assert reg.get_version("films", "champion").version == 1
    reg.set_alias("films", "production", 2)
    _same_answers(other_model, reg.load("films"), [0, 1])
    reg.remove_alias("films", "champion")
    with pytest.raises(ModelNotFoundError, match="no alias 'champion'"):
        reg.get_version("films", "champion")
    reg.archive("films", 2)
    assert [v.version for v in reg.versions("films")] == [1]
    assert reg.get_version("films").version == 1  # archived: not latest, alias dropped
    with pytest.raises(ValueError, match="archived"):
        reg.set_alias("films", "production", 2)
    reg.archive("films", 2, archived=False)
    assert reg.delete("films", 2) == 1
    assert reg.publish("films", other_model).version == 3  # numbers are never reused
    assert reg.delete("films") == 2
    assert reg.model_names() == []
    assert not any(p.suffix == ".npz" for p in (tmp_path / "artifacts").rglob("*"))


def test_list_and_search(tmp_path, model):
    reg = Registry(tmp_path)
    reg.publish("films-eu", model, tags={"team": "tv", "region": "eu"})
    reg.publish("films-us", model, tags={"team": "tv"}, alias="production")
    reg.publish("music", model, tags={"team": "audio"})
    assert [m["name"] for m in reg.list_models()] == ["films-eu", "films-us", "music"]
    assert [m["name"] for m in reg.list_models(search="FILMS")] == ["films-eu", "films-us"]
    assert [m["name"] for m in reg.list_models(tag="team=audio")] == ["music"]
    assert [m["name"] for m in reg.list_models(tag="region")] == ["films-eu"]
    assert reg.list_models(search="films-us")[0]["aliases"] == {"production": 1}


def test_unknown_names_versions_and_aliases(tmp_path, model):
    reg = Registry(tmp_path)
    reg.publish("films", model)
    with pytest.raises(ModelNotFoundError, match="no model named 'nope'"):
        reg.get_version("nope")
    with pytest.raises(ModelNotFoundError, match="no version 7"):
        reg.get_version("films", 7)
    with pytest.raises(ValueError, match="positive int"):
        reg.get_version("films", 0)


@pytest.mark.parametrize("bad", ["../evil", "a/b", ".hidden", "", "x" * 129, "..", "films\n", "a\\b", "é"])
def test_names_cannot_escape_the_store(tmp_path, model, bad):
    reg = Registry(tmp_path)
    with pytest.raises(ValueError, match="must match"):
        reg.publish(bad, model)
    with pytest.raises(ValueError, match="must match"):
        reg.get_version(bad)
    assert not any((tmp_path / "artifacts").iterdir())


@pytest.mark.parametrize("bad", ["3", "latest", "../x"])
def test_bad_aliases(tmp_path, model, bad):
    reg = Registry(tmp_path)
    reg.publish("films", model)
    with pytest.raises(ValueError):
        reg.set_alias("films", bad, 1)


def test_checksum_is_verified_on_load(tmp_path, model):
    reg = Registry(tmp_path)
    mv = reg.publish("films", model)
    path = tmp_path / mv.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        reg.load("films")
    path.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        reg.load("films")


def test_publish_bytes_refuses_foreign_and_pickled_artifacts(tmp_path, model):
    reg = Registry(tmp_path)
    buf = io.BytesIO()
    np.savez(buf, payload=np.array([{"evil": 1}], dtype=object))  # needs pickle to load
    for blob in (b"not a zip", buf.getvalue()):
        with pytest.raises(ArtifactError):
            reg.publish_bytes("films", blob)
    assert reg.model_names() == []
    assert list((tmp_path / "artifacts").rglob("*.npz")) == []
    from maaskit.persistence import dumps

    assert reg.publish_bytes("films", dumps(model)).version == 1


def _crash_mid_publish(root, model_bytes):
    # Die (no cleanup, like a kill -9) after the artifact is renamed into place but
    # before the catalogue transaction commits.
    from maaskit.registry import _catalogue

    _catalogue._fsync_dir = lambda path: os._exit(3)
    Registry(root).publish_bytes("films", model_bytes)


def test_crash_mid_publish_leaves_no_half_version(tmp_path, model):
    from maaskit.persistence import dumps

    data = dumps(model)
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_crash_mid_publish, args=(str(tmp_path), data))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    reg = Registry(tmp_path)
    assert reg.model_names() == [] and reg.versions("films") == []
    mv = reg.publish_bytes("films", data)
    assert mv.version == 1
    _same_answers(model, reg.load("films"), [0, 1])


_PUBLISHER = """
import json, os, sys
from maaskit.registry import Registry
root, artifact, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(artifact, "rb").read()
reg = Registry(root)
print(json.dumps([reg.publish_bytes("films", data, tags={"pid": str(os.getpid())}).version
                  for _ in range(n)]))
"""


def test_concurrent_publishers_from_several_processes(tmp_path, model):
    # Four independent interpreters (not forks of this one) publish the same name at once.
    import json
    import subprocess
    import sys

    from maaskit.persistence import dumps

    artifact = tmp_path / "model.npz"
    artifact.write_bytes(dumps(model))
    root = tmp_path / "registry"
    Registry(root).close()  # create the catalogue once, as a deployment would
    procs = [subprocess.Popen([sys.executable, "-c", _PUBLISHER, str(root), str(artifact), "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    got = sorted(v for r in results for v in r)
    assert got == list(range(1, 17))
    reg = Registry(root)
    versions = reg.versions("films")
    assert [v.version for v in versions] == got
    assert len({v.tags["pid"] for v in versions}) == 4
    for v in versions:
        reg.load("films", v.version)  # every artifact is complete and verified
    assert sqlite3.connect(reg.db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_api_keys_are_stored_hashed(tmp_path):
    reg = Registry(tmp_path)
    key, token = reg.create_key(["read:films-*", "publish:films-eu"], label="ci")
    assert token.startswith(f"mk_{key.key_id}.")
    assert reg.verify_key(token).scopes == ("read:films-*", "publish:films-eu")
    assert reg.verify_key(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert reg.verify_key("mk_nope.secret") is None and reg.verify_key("garbage") is None
    secret = token.partition(".")[2]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("catalogue.sqlite3*"))
    assert secret.encode() not in raw
    before = reg.stamp()
    reg.revoke_key(key.key_id)
    assert reg.stamp() > before
    assert reg.verify_key(token) is None
    assert reg.list_keys()[0].revoked
    with pytest.raises(ValueError, match="scope"):
        reg.create_key(["write:*"])


def test_default_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MAASKIT_HOME", str(tmp_path / "reg"))
    assert default_home() == tmp_path / "reg"
    assert Registry().root == tmp_path / "reg"
    monkeypatch.delenv("MAASKIT_HOME")
    assert default_home().name == ".maaskit"


def test_tabular_signature():
    from sklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).rand(20, 3)
    est = LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    sig = infer_signature(est)
    assert sig["kind"] == "tabular" and sig["n_features"] == 3 and sig["classes"] == [0, 1]
    assert {"predict", "predict_proba"} <= set(sig["methods"])
    assert infer_signature(Recommender())["kind"] == "tabular"  # unfitted: no ids yet



def test_signing_registry_signs_and_refuses_unsigned(tmp_path, model, monkeypatch):
    from maaskit.persistence import dumps

    monkeypatch.delenv("MAASKIT_SIGNING_KEY", raising=False)
    plain = Registry(tmp_path / "a")
    plain.publish("films", model)
    unsigned_path = tmp_path / "a" / plain.get_version("films").path
    signed = Registry(tmp_path / "b", signing_key="secret")
    mv = signed.publish("films", model)
    assert type(signed.load("films")) is type(model)
    # the catalogue records what was stored signed (the model market shows it)
    assert plain.signed_versions("films") == {1: False} and signed.signed_versions("films") == {1: True}
    # what it published is signed with its key: another key refuses it
    with pytest.raises(ArtifactError, match="signature mismatch"):
        Registry(tmp_path / "b", signing_key="other").load("films")
    # uploads are verified when signed and re-signed by the registry
    mv2 = signed.publish_bytes("films", unsigned_path.read_bytes())
    assert type(signed.load("films", mv2.version)) is type(model)
    with pytest.raises(ArtifactError, match="signature mismatch"):
        signed.publish_bytes("films", dumps(model, signing_key="other"))
    # an unsigned artifact swapped in on disk (catalogue digest updated too) is refused
    path = tmp_path / "b" / mv.path
    path.write_bytes(unsigned_path.read_bytes())
    import hashlib
    import sqlite3

    con = sqlite3.connect(signed.db_path)
    con.execute("UPDATE versions SET sha256 = ? WHERE name = 'films' AND version = 1",
                (hashlib.sha256(path.read_bytes()).hexdigest(),))
    con.commit()
    con.close()
    with pytest.raises(ArtifactError, match="not signed"):
        signed.load("films", 1)
    monkeypatch.setenv("MAASKIT_SIGNING_KEY", "secret")
    with pytest.raises(ArtifactError, match="not signed"):
        Registry(tmp_path / "b").load("films", 1)
