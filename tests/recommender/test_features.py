"""FeatureEncoder: side information (a DataFrame indexed by id) to a sparse feature matrix."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from maaskit.exceptions import ArtifactError, FeatureError, NotFittedError, UnknownCategoryWarning
from maaskit.persistence import dumps, loads
from maaskit.recommender import FeatureEncoder


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.DataFrame({
        "genres": [["Drama"], ["Comedy", "Drama"], [], None],
        "year": [1994.0, 2001.0, 2020.0, np.nan],
        "country": ["FR", "US", None, "US"],
        "title": ["Toy Story (1995)", "The Big Lebowski", "A Star is Born", None],
    }, index=["i1", "i2", "i3", "i4"])


def test_kinds_detected_and_one_row_per_id(items):
    enc = FeatureEncoder(n_bins=2, normalize=None)
    X = enc.fit_transform(items)
    assert enc.kinds_ == {"genres": "multi", "year": "numeric", "country": "categorical", "title": "text"}
    assert sp.isspmatrix_csr(X) and X.dtype == np.float32
    assert X.shape == (4, enc.n_features_out_) == (4, len(enc.get_feature_names_out()))
    assert list(enc.ids_) == ["i1", "i2", "i3", "i4"]
    names = list(enc.get_feature_names_out())
    dense = pd.DataFrame(X.toarray(), index=items.index, columns=names)
    assert dense.loc["i2", ["genres=Comedy", "genres=Drama"]].tolist() == [1, 1]
    assert dense.loc["i1", "country=FR"] == 1 and dense.loc["i1", "country=US"] == 0
    assert dense.loc["i1", "title:toy"] == 1 and dense.loc["i1", "title:lebowski"] == 0
    # missing values are no feature at all
    assert dense.loc["i4"].sum() == 1  # only country=US
    assert dense.loc["i3", [n for n in names if n.startswith("genres")]].sum() == 0
    # numeric: one bin each, open at both ends
    assert names[2:4] == ["year=(-inf, 2001)", "year=[2001, inf)"]
    assert dense.loc["i1", "year=(-inf, 2001)"] == 1 and dense.loc["i3", "year=[2001, inf)"] == 1


def test_declared_kinds_delimiter_and_scale():
    df = pd.DataFrame({"genres": ["Action|Comedy", "Drama", None], "code": [3, 7, 3],
                       "age": [10, 20, 40]}, index=[10, 20, 30])
    enc = FeatureEncoder({"genres": "multi", "code": "categorical"}, numeric="scale", normalize=None)
    X = enc.fit_transform(df).toarray()
    assert enc.kinds_ == {"genres": "multi", "code": "categorical", "age": "numeric"}
    assert list(enc.get_feature_names_out()) == ["genres=Action", "genres=Comedy", "genres=Drama",
                                                 "code=3", "code=7", "age"]
    np.testing.assert_allclose(X[:, -1], [0.0, 1 / 3, 1.0])
    # values beyond the fitted range are clipped
    out = enc.transform(pd.DataFrame({"genres": ["Drama"], "code": [7], "age": [99]}, index=[1]))
    assert out.toarray()[0, -1] == 1.0


def test_rows_normalised_l1_by_default_like_lightfm(items):
    X = FeatureEncoder().fit_transform(items)
    sums = np.asarray(X.sum(axis=1)).ravel()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-6)
    X2 = FeatureEncoder(normalize="l2").fit_transform(items)
    np.testing.assert_allclose(np.asarray(X2.multiply(X2).sum(axis=1)).ravel(), 1.0, rtol=1e-6)
    empty = pd.DataFrame({"c": ["a", None]}, index=[1, 2])
    assert FeatureEncoder().fit_transform(empty).toarray().tolist() == [[1.0], [0.0]]


def test_unseen_values_follow_handle_unknown(items):
    new = pd.DataFrame({"genres": [["Horror", "Drama"]], "year": [1990.0], "country": ["JP"],
                        "title": ["unknown words only"]}, index=["new"])
    enc = FeatureEncoder(normalize=None).fit(items)
    with pytest.warns(UnknownCategoryWarning, match=r"column 'genres': 1 value\(s\) such as 'Horror'.*"
                                                    r"column 'country': 1 value\(s\) such as 'JP'"):
        X = enc.transform(new)
    names = list(enc.get_feature_names_out())
    assert X.toarray()[0, names.index("genres=Drama")] == 1 and X.nnz == 2  # Drama + a year bin
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert enc.set_params(handle_unknown="ignore").transform(new).nnz == 2
    with pytest.raises(FeatureError, match="handle_unknown='error'.*'Horror'"):
        enc.set_params(handle_unknown="error").transform(new)


def test_bool_and_int_categories_stay_apart():
    enc = FeatureEncoder(normalize=None).fit(
        pd.DataFrame({"c": pd.Series([1, "1"], dtype=object, index=["a", "b"])}))
    with pytest.warns(UnknownCategoryWarning):
        X = enc.transform(pd.DataFrame({"c": pd.Series([True, 1, "1"], dtype=object)}))
    assert X.toarray().tolist() == [[0, 0], [1, 0], [0, 1]]


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"genres": [[]], "year": [1.0], "country": ["US"], "title": ["x"], "extra": [1]},
                  index=["z"]), r"unknown column\(s\) \['extra'\]"),
    (pd.DataFrame({"genres": [[]], "year": [1.0], "title": ["x"]}, index=["z"]), r"missing \['country'\]"),
    (pd.DataFrame({"genres": ["Drama"], "year": [1.0], "country": ["US"], "title": ["x"]}, index=["z"]),
     "'genres' is multi-label.*Declare it"),
    (pd.DataFrame({"genres": [[]], "year": ["old"], "country": ["US"], "title": ["x"]}, index=["z"]),
     "'year' is numeric.*'old'"),
    (pd.DataFrame({"genres": [[]], "year": [1.0], "country": [["US"]], "title": ["x"]}, index=["z"]),
     "'country' is categorical.*list"),
    (pd.DataFrame({"genres": [[]], "year": [1.0], "country": ["US"], "title": [3]}, index=["z"]),
     "'title' is text"),
    (pd.DataFrame({"genres": [[], []], "year": [1.0, 2.0], "country": ["US", "FR"], "title": ["x", "y"]},
                  index=["z", "z"]), r"unique.*1 duplicated id\(s\): 'z'"),
    (pd.DataFrame({"genres": [[]], "year": [1.0], "country": ["US"], "title": ["x"]}, index=[None]),
     "must not be missing"),
    (pd.DataFrame({"genres": [[]], "year": [np.inf], "country": ["US"], "title": ["x"]}, index=["z"]),
     "finite"),
])
def test_transform_errors_are_clear(items, frame, match):
    enc = FeatureEncoder().fit(items)
    with pytest.raises(FeatureError, match=match):
        enc.transform(frame)


def test_fit_errors_are_clear(items):
    with pytest.raises(TypeError, match="X must be a pandas DataFrame indexed by id"):
        FeatureEncoder().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="kind of column 'genres'.*got 'tags'"):
        FeatureEncoder({"genres": "tags"}).fit(items)
    with pytest.raises(FeatureError, match=r"declares \['nope'\]"):
        FeatureEncoder({"nope": "text"}).fit(items)
    with pytest.raises(ValueError, match="The 'n_bins' parameter of FeatureEncoder must be an int"):
        FeatureEncoder(n_bins=0).fit(items)
    with pytest.raises(TypeError, match="'released' holds datetime64.*year or decade"):
        FeatureEncoder().fit(pd.DataFrame({"released": pd.to_datetime(["1995-01-01"])}, index=[1]))
    with pytest.raises(FeatureError, match="only missing values"):
        FeatureEncoder().fit(pd.DataFrame({"x": [np.nan, np.nan]}, index=[1, 2]))
    with pytest.raises(FeatureError, match="at least one feature column"):
        FeatureEncoder().fit(items[[]])
    with pytest.raises(NotFittedError):
        FeatureEncoder().transform(items)


def test_text_vocabulary_is_capped_by_max_features():
    # a hostile column: every row brings new tokens; the width stays max_features
    n = 3000
    texts = [f"common w{i} v{i} u{i}" for i in range(n)]
    enc = FeatureEncoder({"t": "text"}, max_features=50)
    X = enc.fit_transform(pd.DataFrame({"t": texts}, index=np.arange(n)))
    assert enc.n_features_out_ == 50 and X.shape == (n, 50)
    assert "t:common" in set(enc.get_feature_names_out())


def test_word_vectors_add_mean_vectors(items):
    from maaskit.text import Word2Vec

    w2v = Word2Vec(vector_size=4, min_count=1, epochs=1, workers=1, seed=0).fit(
        [["toy", "story"], ["big", "lebowski", "story"]] * 3)
    enc = FeatureEncoder(normalize=None).fit(items, word_vectors=w2v)
    assert enc.word_vector_size_ == 4 and set(enc.wv_words_) == {"toy", "story", "big", "lebowski"}
    X = enc.transform(items).toarray()
    names = list(enc.get_feature_names_out())
    block = X[:, [names.index(f"title:w2v_{j}") for j in range(4)]]
    np.testing.assert_allclose(block[0], (w2v.wv["toy"] + w2v.wv["story"]) / 2, rtol=1e-5)
    assert not block[2].any() and not block[3].any()  # no known word, no text
    again = loads(dumps(enc))
    np.testing.assert_array_equal(again.transform(items).toarray(), X)
    with pytest.raises(NotFittedError, match="word_vectors must be a fitted Word2Vec"):
        FeatureEncoder().fit(items, word_vectors=Word2Vec())


def test_clone_get_params_and_grid_friendly(items):
    enc = FeatureEncoder({"country": "categorical"}, n_bins=3, handle_unknown="error")
    assert enc.get_params()["n_bins"] == 3 and "kinds_" not in vars(enc)
    twin = clone(enc)
    assert twin.get_params() == enc.get_params() and twin is not enc
    enc.fit(items)
    assert not hasattr(clone(enc), "kinds_")
    assert repr(FeatureEncoder(n_bins=3)) == "FeatureEncoder(n_bins=3)"


def test_persistence_round_trip_and_schema(items):
    enc = FeatureEncoder(n_bins=2).fit(items)
    again = loads(dumps(enc))
    assert again.kinds_ == enc.kinds_ and list(again.ids_) == list(enc.ids_)
    assert list(again.get_feature_names_out()) == list(enc.get_feature_names_out())
    assert (again.transform(items) != enc.transform(items)).nnz == 0
    assert again.get_params() == enc.get_params()
    attrs, arrays = enc._get_state()
    import json
    json.dumps(attrs)  # plain JSON vocabularies
    from maaskit._schema import check_state

    bad = dict(attrs, vocabularies_=[attrs["vocabularies_"][0], [3.0, 1.0], *attrs["vocabularies_"][2:]])
    with pytest.raises(ArtifactError, match="vocabularies_"):
        check_state(FeatureEncoder, enc.get_params(), bad, arrays)
    bad = dict(attrs, n_features_out_=attrs["n_features_out_"] + 1)
    with pytest.raises(ArtifactError, match="n_features_out_"):
        check_state(FeatureEncoder, enc.get_params(), bad, arrays)


def test_feature_schema_is_json(items):
    schema = FeatureEncoder().fit(items).feature_schema()
    assert schema["columns"][0] == {"name": "genres", "kind": "multi"}
    assert schema["n_features"] > 0
