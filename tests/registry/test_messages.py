"""Issue 16 point 13: reads name the registry they looked in, create nothing, and errors
name the method the user called."""

from __future__ import annotations

import pandas as pd
import pytest

from maaskit import Recommender
from maaskit.__main__ import main
from maaskit.registry import ModelNotFoundError, Registry


@pytest.fixture
def plays():
    return pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})


def test_cli_recommend_without_registry_names_the_path_and_creates_nothing(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home" / ".maaskit"
    monkeypatch.setenv("MAASKIT_HOME", str(home))
    assert main(["recommend", "films", "u1"]) == 1
    err = capsys.readouterr().err
    assert f"no registry at {str(home)!r}" in err and "--registry" in err
    assert not home.exists()
    assert main(["models", "list"]) == 0
    assert str(home) in capsys.readouterr().out and not home.exists()


def test_empty_registry_says_where_it_is(tmp_path, capsys):
    reg = tmp_path / "reg"
    Registry(reg)  # exists, holds nothing
    assert main(["recommend", "films", "u1", "--registry", str(reg)]) == 1
    err = capsys.readouterr().err
    assert f"no model named 'films' in the registry at {str(reg)!r}; it holds no model yet" in err


def test_registry_errors_name_the_method_called(tmp_path, plays):
    reg = Registry(tmp_path)
    reg.publish("films", Recommender(random_state=0).fit(plays))
    with pytest.raises(ModelNotFoundError, match=r"^Registry\.load: no model named 'tv'"):
        reg.load("tv")
    with pytest.raises(ModelNotFoundError, match=r"^Registry\.load: model 'films' has no alias 'prod'"):
        reg.load("films", "prod")
    with pytest.raises(ModelNotFoundError, match=r"^Registry\.set_alias: model 'films' has no version 7"):
        reg.set_alias("films", "production", 7)
    with pytest.raises(ModelNotFoundError, match=r"^Registry\.load_version: "):
        reg.load_version("films", 9)
    with pytest.raises(ModelNotFoundError, match=r"no registry at"):
        Registry(tmp_path / "absent", create=False)
    assert not (tmp_path / "absent").exists()
