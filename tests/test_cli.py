"""The ``maaskit`` command: quickstart, recommend, models, keys, serve --help."""

from __future__ import annotations

import json

import pytest

import maaskit
from maaskit.__main__ import main
from maaskit.registry import Registry


def test_quickstart_then_recommend_from_file_and_registry(tmp_path, capsys):
    out = tmp_path / "model.npz"
    assert main(["quickstart", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "top-10 for user" in text and f"saved the model to {out}" in text
    model = maaskit.load(out)
    user = model.user_index_.ids[0]
    assert main(["recommend", str(out), str(user), "-n", "3"]) == 0
    from_file = capsys.readouterr().out
    expected = model.recommend([user], n=3, output="pandas")
    assert from_file.strip() == expected.to_string(index=False).strip()
    reg = tmp_path / "reg"
    assert main(["models", "publish", "films", str(out), "--registry", str(reg), "--tag", "team=tv",
                 "--metric", "rmse=0.91", "--description", "first", "--alias", "production"]) == 0
    assert "published films v1" in capsys.readouterr().out
    assert main(["recommend", "films@production", str(user), "-n", "3", "--registry", str(reg)]) == 0
    assert capsys.readouterr().out == from_file


def test_models_commands(tmp_path, capsys, model, other_model):
    reg = tmp_path / "reg"
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    model.save(a)
    other_model.save(b)
    r = ["--registry", str(reg)]
    assert main(["models", "list", *r]) == 0 and "no models" in capsys.readouterr().out
    assert main(["models", "publish", "films", str(a), *r, "--alias", "production"]) == 0
    assert main(["models", "publish", "films", str(b), *r, "--tag", "stage=new"]) == 0
    capsys.readouterr()
    assert main(["models", "list", *r]) == 0
    assert "production->v1" in capsys.readouterr().out
    assert main(["models", "promote", "films", "2", *r]) == 0
    assert capsys.readouterr().out.strip() == "films@production -> v2"
    assert Registry(reg).get_version("films").version == 2
    assert main(["models", "show", "films", *r]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in shown] == [1, 2] and shown[1]["tags"] == {"stage": "new"}
    assert main(["models", "list", "--json", "--tag", "stage=new", *r]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)] == ["films"]
    assert main(["models", "archive", "films", "1", *r]) == 0
    assert [v.version for v in Registry(reg).versions("films")] == [2]
    assert main(["models", "delete", "films", "--version", "1", "--yes", *r]) == 0
    assert main(["models", "delete", "films", "--yes", *r]) == 0
    assert Registry(reg).model_names() == []
    capsys.readouterr()
    # Mistakes give a message and a non-zero status, not a traceback.
    assert main(["models", "show", "nope", *r]) == 1
    assert "no model named 'nope'" in capsys.readouterr().err
    assert main(["models", "promote", "nope", "1", *r]) == 1
    assert "no model named 'nope'" in capsys.readouterr().err
    assert main(["models", "publish", "../evil", str(a), *r]) == 1
    assert "must match" in capsys.readouterr().err
    assert main(["models", "publish", "x", str(a), "--tag", "novalue", *r]) == 2


def test_keys_commands(tmp_path, capsys):
    r = ["--registry", str(tmp_path)]
    assert main(["keys", "create", "--scope", "read:films*", "--label", "web", *r]) == 0
    cap = capsys.readouterr()
    token = cap.out.strip()
    key = Registry(tmp_path).verify_key(token)
    assert key is not None and key.scopes == ("read:films*",) and key.key_id in cap.err
    assert main(["keys", "list", *r]) == 0
    listed = capsys.readouterr().out
    assert key.key_id in listed and "active" in listed and token.partition(".")[2] not in listed
    assert main(["keys", "revoke", key.key_id, *r]) == 0
    assert Registry(tmp_path).verify_key(token) is None
    assert main(["keys", "create", "--scope", "write:*", *r]) == 1


def test_help_reads_well(capsys):
    for args in ([], ["serve"], ["models"], ["models", "publish"], ["keys", "create"], ["quickstart"],
                 ["recommend"]):
        assert main([*args, "--help"]) == 0
        text = capsys.readouterr().out
        assert text.startswith("Usage: maaskit")
    assert main(["serve", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--registry", "--host", "--port", "--ssl-certfile", "--ssl-keyfile", "--batching", "--allow-publish"):
        assert flag in text
    assert main(["serve", "--ssl-certfile", "x.pem"]) == 2
    assert "go together" in capsys.readouterr().err


@pytest.fixture
def model():
    from maaskit import Recommender
    import pandas as pd

    return Recommender("als", n_factors=4, max_iter=2, random_state=0).fit(
        pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 1, 2, 0]}))


@pytest.fixture
def other_model():
    from maaskit import Recommender
    import pandas as pd

    return Recommender("als", n_factors=4, max_iter=2, random_state=1).fit(
        pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 1, 2, 2]}))


def test_serve_signing_key_file(tmp_path, model, monkeypatch):
    import maaskit.serving

    monkeypatch.delenv("MAASKIT_SIGNING_KEY", raising=False)
    reg = tmp_path / "reg"
    Registry(reg).publish("films", model)  # unsigned
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    seen = {}
    monkeypatch.setattr(maaskit.serving, "run", lambda registry, **kw: seen.setdefault("reg", registry))
    assert main(["serve", "--registry", str(reg), "--no-auth", "--signing-key-file", str(key)]) == 0
    with pytest.raises(maaskit.ArtifactError, match="not signed"):
        seen["reg"].load("films")
    a = tmp_path / "a.npz"
    model.save(a)
    assert main(["models", "publish", "films", str(a), "--registry", str(reg), "--signing-key-file", str(key)]) == 0
    assert type(Registry(reg, signing_key="s3cret").load("films", 2)) is type(model)
