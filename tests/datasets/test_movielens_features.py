"""load_movielens_features: ML-100k item and user features, indexed like the ratings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from maaskit.datasets import find_data_home, load_movielens, load_movielens_features
from maaskit.recommender import FeatureEncoder

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]


CHILDREN = "Children's"


def _flags(*names):
    return "|".join("1" if g in names else "0" for g in GENRES)


FILES = {
    "u.data": b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n",
    "u.item": (f"242|Kolya (1996)|24-Jan-1997||http://x|{_flags('Comedy')}\n"
               f"302|L.A. Confidential (1997)|01-Jan-1997||http://x|{_flags('Crime', 'Film-Noir')}\n"
               f"377|Heavyweights (1994)|01-Jan-1989||http://x|{_flags(CHILDREN, 'Comedy')}\n"
               f"267|unknown||||{_flags('unknown')}\n").encode("latin-1"),
    "u.user": b"196|49|M|writer|55105\n186|39|F|executive|00000\n22|25|M|writer|T8H1N\n7|17|M|student|9\n",
}


def _folder(tmp_path: Path, files=FILES) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return tmp_path


def test_features_from_files(tmp_path):
    items, users = load_movielens_features(data_home=_folder(tmp_path), zip_prefix=1)
    assert items.index.dtype == np.int64 and users.index.dtype == np.int64
    assert items.loc[302, "genres"] == ["Crime", "Film-Noir"]
    assert items.loc[377, "decade"] == "1980s" and items.loc[242, "decade"] == "1990s"
    assert pd.isna(items.loc[267, "decade"]) and items.loc[267, "genres"] == ["unknown"]
    assert items.loc[242, "title"] == "Kolya (1996)"
    assert users.loc[196].tolist() == ["45-49", "M", "writer", "5"]
    assert users.loc[7, "age_band"] == "under 18" and users.loc[22, "zip_prefix"] == "T"
    assert "zip_prefix" not in load_movielens_features(data_home=tmp_path)[1].columns
    # the kinds the encoder detects are those documented
    enc = FeatureEncoder().fit(items)
    assert enc.kinds_ == {"genres": "multi", "decade": "categorical", "title": "text"}
    assert set(FeatureEncoder().fit(users).kinds_.values()) == {"categorical"}


def test_missing_files_follow_load_movielens(tmp_path):
    files = dict(FILES)
    del files["u.user"]
    with pytest.raises(FileNotFoundError, match=r"u\.user does not exist.*download=True"):
        load_movielens_features(data_home=_folder(tmp_path, files))
    with pytest.raises(ValueError, match="variant must be '100k'"):
        load_movielens_features("1m", data_home=tmp_path)
    with pytest.raises(ValueError, match=r"zip_prefix must be an int in \[0, 5\]"):
        load_movielens_features(data_home=tmp_path, zip_prefix=9)


@pytest.mark.skipif(find_data_home("ml-100k") is None, reason="MovieLens 100K not available locally "
                    "(the generated files above cover the parser)")
def test_real_100k_ids_match_the_ratings():
    home = find_data_home("ml-100k")
    items, users = load_movielens_features(data_home=home)
    ratings = load_movielens(data_home=home)
    assert items.shape == (1682, 3) and users.shape == (943, 3)
    assert set(items.index) == set(ratings["item"]) and set(users.index) == set(ratings["user"])
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items["genres"].map(len).between(1, 6).all()
