"""scikit-learn pipelines holding maaskit estimators save, load and publish without pickle
(issue 16 point 5): skops for the scikit-learn parts behind maaskit's allow-list, maaskit's own
checked format for the maaskit parts."""

from __future__ import annotations

import io
import json
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

import maaskit
from maaskit.exceptions import ArtifactError
from maaskit.linear_model import LogisticRegression
from maaskit.persistence import dumps, loads, registered_classes
from maaskit.registry import Registry
from maaskit.text import DocumentVectorizer

_tools = runpy.run_path(str(Path(__file__).parent / "_artifacts.py"))
pack, unpack = _tools["pack"], _tools["unpack"]

FRAME = pd.DataFrame({"age": [22.0, 35, np.nan, 51, 46, 33, 28, 60],
                      "city": ["a", "b", "a", "c", "b", "a", "c", "b"],
                      "score": [0.1, 0.5, 0.3, 0.9, 0.7, 0.2, 0.4, 0.8]})
Y = np.array([0, 1, 0, 1, 1, 0, 0, 1])


@pytest.fixture
def tabular():
    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ("mm", MinMaxScaler(), ["score"]),
    ])
    return Pipeline([("prep", ct), ("clf", LogisticRegression())]).fit(FRAME, Y)


def test_pipeline_with_column_transformer_round_trip(tmp_path, tabular):
    path = maaskit.save(tabular, tmp_path / "pipe.npz")
    loaded = maaskit.load(path)
    assert type(loaded) is Pipeline
    assert type(loaded.named_steps["clf"]) is LogisticRegression
    np.testing.assert_array_equal(loaded.predict_proba(FRAME), tabular.predict_proba(FRAME))
    # nothing pickled: the skops part is JSON + .npy only
    header, arrays = unpack(path.read_bytes())
    assert header["class"] == "sklearn.pipeline.Pipeline"
    inner = zipfile.ZipFile(io.BytesIO(arrays["skops"].tobytes()))
    assert all(n.endswith((".npy", ".json")) for n in inner.namelist())


def test_text_pipeline_round_trip():
    docs = ["good fun film", "awful boring film", "good acting", "boring plot"] * 3
    y = [1, 0, 1, 0] * 3
    tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs, y)
    again = loads(dumps(tfidf))
    np.testing.assert_array_equal(again.predict(docs), tfidf.predict(docs))
    # a maaskit transformer inside a scikit-learn pipeline
    dv = make_pipeline(DocumentVectorizer(vector_size=8, epochs=2, seed=1), StandardScaler(),
                       LogisticRegression()).fit(docs, y)
    np.testing.assert_array_equal(loads(dumps(dv)).predict(docs), dv.predict(docs))


def test_maaskit_parts_are_checked_by_their_schema(tabular):
    header, arrays = unpack(dumps(tabular))
    arrays["part0__coef_"] = arrays["part0__coef_"][:, :2]  # wrong n_features
    with pytest.raises(ArtifactError, match="LogisticRegression array 'coef_'"):
        loads(pack(header, arrays))


def test_types_outside_the_allow_list_are_refused():
    pipe = make_pipeline(FunctionTransformer(np.log1p), StandardScaler()).fit(FRAME[["score"]])
    with pytest.raises(ArtifactError, match="cannot be saved without pickle|FunctionNode"):
        dumps(pipe)
    # a crafted blob naming a foreign class (checksum recomputed) is refused before skops runs
    ok = make_pipeline(StandardScaler()).fit(FRAME[["score"]])
    header, arrays = unpack(dumps(ok))
    blob = io.BytesIO(arrays["skops"].tobytes())
    out = io.BytesIO()
    with zipfile.ZipFile(blob) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "schema.json":
                data = data.replace(b'"StandardScaler"', b'"Popen"').replace(
                    b'"sklearn.preprocessing._data"', b'"subprocess"')
            dst.writestr(info, data)
    arrays["skops"] = np.frombuffer(out.getvalue(), dtype=np.uint8)
    with pytest.raises(ArtifactError, match="outside the allow-list.*subprocess.Popen"):
        loads(pack(header, arrays))


def test_unsupported_object_names_the_allow_list():
    from sklearn.ensemble import HistGradientBoostingClassifier

    with pytest.raises(ArtifactError) as err:
        dumps(HistGradientBoostingClassifier())
    assert "sklearn.pipeline.Pipeline" in str(err.value) and "maaskit.recommender.ALS" in str(err.value)
    assert "sklearn.preprocessing._data.StandardScaler" in registered_classes()


def test_publish_a_pipeline(tmp_path, tabular):
    reg = Registry(tmp_path, signing_key="k")
    mv = reg.publish("churn", tabular)
    assert mv.estimator_class == "sklearn.pipeline.Pipeline"
    loaded = reg.load("churn")
    np.testing.assert_array_equal(loaded.predict(FRAME), tabular.predict(FRAME))
    assert json.loads(json.dumps(mv.to_dict()))["name"] == "churn"
