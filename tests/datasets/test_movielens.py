import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import maaskit.datasets._movielens as ml
from maaskit.datasets import fetch_movielens, find_data_home, get_data_home, load_movielens
from maaskit.exceptions import ArtifactError

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]

CHILDREN = "Children's"
U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"


def _flags(*names):
    return "|".join("1" if g in names else "0" for g in GENRES)


U_ITEM = (
    f"242|Kolya (1996)|24-Jan-1997||http://x|{_flags('Comedy')}\n"
    f"302|L.A. Confidential (1997)|01-Jan-1997||http://x|{_flags('Crime', 'Film-Noir', 'Mystery', 'Thriller')}\n"
    f"377|Heavyweights (1994)|01-Jan-1994||http://x|{_flags(CHILDREN, 'Comedy')}\n"
    f"267|unknown||||{_flags('unknown')}\n"
)
U_GENRE = "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n"

ML100K_FILES = {"u.data": U_DATA.encode(), "u.item": U_ITEM.encode("latin-1"), "u.genre": U_GENRE.encode()}


def _write(folder: Path, files: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


def _zip_bytes(files: dict, prefix: str = "ml-100k/") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(prefix + name, content)
    return buf.getvalue()


# --- get_data_home ---------------------------------------------------------------------
def test_get_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MAASKIT_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("MAASKIT_DATA")
    assert get_data_home() == Path("~/maaskit_data").expanduser()
    with pytest.raises(TypeError, match="data_home must be"):
        get_data_home(3)


def test_find_data_home_env_then_checkout_then_none(monkeypatch, tmp_path):
    from maaskit.datasets import _home

    env, shared = tmp_path / "env", tmp_path / "checkout-parent" / "shared" / "data"
    (env / "a").mkdir(parents=True)
    (shared / "b").mkdir(parents=True)
    monkeypatch.setattr(_home, "_CHECKOUT", tmp_path / "checkout-parent" / "maaskit")
    monkeypatch.setenv("MAASKIT_DATA", str(env))
    assert find_data_home() == env
    assert find_data_home("a") == env
    assert find_data_home("b") == shared  # env lacks it: the next candidate
    assert find_data_home("c") is None
    monkeypatch.delenv("MAASKIT_DATA")
    assert find_data_home() == shared
    monkeypatch.setattr(_home, "_CHECKOUT", tmp_path / "nowhere" / "maaskit")
    (tmp_path / "nowhere" / "repo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "nowhere" / "repo")
    assert find_data_home() is None
    # an installed maaskit, run from a checkout that has shared/data beside it (as CI does)
    monkeypatch.chdir(tmp_path / "checkout-parent")
    (tmp_path / "checkout-parent" / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "checkout-parent" / "repo")
    assert find_data_home() == shared
    with pytest.raises(TypeError, match="needs must be"):
        find_data_home(3)


# --- load_movielens --------------------------------------------------------------------
def test_load_100k_from_files(tmp_path):
    _write(tmp_path / "ml-100k", ML100K_FILES)
    ratings = load_movielens("100k", data_home=tmp_path)
    assert list(ratings.columns) == ["user", "item", "rating", "timestamp"]
    assert ratings.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]
    assert ratings.iloc[0].tolist() == [196, 242, 3.0, 881250949]
    ratings, items = load_movielens("100k", data_home=tmp_path, return_items=True)
    assert len(ratings) == 3
    assert list(items.columns) == ["item", "title", "genres"]
    assert items["item"].dtype == np.int64
    assert items["genres"].tolist() == [
        "Comedy", "Crime|Film-Noir|Mystery|Thriller", "Children's|Comedy", "unknown"
    ]
    assert items["title"].iloc[0] == "Kolya (1996)"


def test_load_100k_without_u_genre(tmp_path):
    files = dict(ML100K_FILES)
    del files["u.genre"]
    _write(tmp_path / "ml-100k", files)
    _, items = load_movielens(data_home=tmp_path, return_items=True)
    assert items["genres"].iloc[1] == "Crime|Film-Noir|Mystery|Thriller"


def test_load_1m_from_files(tmp_path, monkeypatch):
    _write(
        tmp_path / "ml-1m",
        {
            "ratings.dat": b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
            "movies.dat": "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                          "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
                          "3::Caf\xe9 au lait, \"Le\" (1994)::Comedy\n".encode("latin-1"),
        },
    )
    monkeypatch.setenv("MAASKIT_DATA", str(tmp_path))
    ratings, items = load_movielens("1m", return_items=True)
    assert ratings.dtypes.tolist() == [np.int64, np.int64, np.float64, np.int64]
    assert ratings["rating"].tolist() == [5.0, 3.0, 4.0]
    assert items["genres"].tolist() == ["Drama", "Animation|Children's|Musical", "Comedy"]
    assert items["title"].iloc[2] == 'Caf\xe9 au lait, "Le" (1994)'


def test_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        load_movielens("100k", data_home=tmp_path)
    msg = str(exc.value)
    assert str(tmp_path / "ml-100k") in msg
    assert "MAASKIT_DATA" in msg and "download=True" in msg


def test_bad_variant(tmp_path):
    with pytest.raises(ValueError, match=r"load_movielens: variant must be one of \['100k', '1m'\]; got '10m'"):
        load_movielens("10m", data_home=tmp_path)
    with pytest.raises(ValueError, match="fetch_movielens: variant"):
        fetch_movielens("20m", data_home=tmp_path)


def _real_data_home():
    return find_data_home("ml-100k/u.data")


@pytest.mark.skipif(_real_data_home() is None, reason="MovieLens 100K not available locally")
def test_real_movielens_100k():
    ratings, items = load_movielens("100k", data_home=_real_data_home(), return_items=True)
    assert ratings.shape == (100_000, 4)
    assert ratings["user"].nunique() == 943 and ratings["item"].nunique() == 1682
    assert ratings["rating"].value_counts().sort_index().tolist() == [6110, 11370, 27145, 34174, 21201]
    assert len(items) == 1682
    first = items.iloc[0]
    assert (first["item"], first["title"], first["genres"]) == (1, "Toy Story (1995)", "Animation|Children's|Comedy")


# --- fetch_movielens through a loopback HTTP server ------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_fetch_and_load(server, tmp_path):
    root, base = server
    payload = _zip_bytes(ML100K_FILES)
    (root / "ml-100k.zip").write_bytes(payload)
    home = tmp_path / "home"
    folder = fetch_movielens("100k", data_home=home, url=f"{base}/ml-100k.zip",
                             sha256=hashlib.sha256(payload).hexdigest())
    assert folder == home / "ml-100k"
    assert sorted(p.name for p in home.iterdir()) == ["ml-100k"]  # no temp leftovers
    ratings = load_movielens(data_home=home)
    assert len(ratings) == 3
    # already present: no second download (the server file is gone)
    (root / "ml-100k.zip").unlink()
    assert fetch_movielens("100k", data_home=home, url=f"{base}/ml-100k.zip") == folder


def test_load_with_download_uses_official_layout(server, tmp_path, monkeypatch):
    root, base = server
    (root / "ml-100k.zip").write_bytes(_zip_bytes(ML100K_FILES))
    monkeypatch.setattr(ml, "_BASE_URL", base)  # never contact GroupLens in tests
    monkeypatch.setattr(ml, "_SHA256", {})
    ratings, items = load_movielens(data_home=tmp_path / "h", download=True, return_items=True)
    assert len(ratings) == 3 and len(items) == 4


def test_fetch_force_replaces_existing(server, tmp_path):
    root, base = server
    home = tmp_path / "home"
    _write(home / "ml-100k", {**ML100K_FILES, "u.data": b"1\t1\t5\t1\n"})
    (root / "ml-100k.zip").write_bytes(_zip_bytes(ML100K_FILES))
    fetch_movielens("100k", data_home=home, url=f"{base}/ml-100k.zip", force=True)
    assert len(load_movielens(data_home=home)) == 3
    assert sorted(p.name for p in home.iterdir()) == ["ml-100k"]


@pytest.mark.parametrize(
    "payload, kwargs, match",
    [
        (_zip_bytes(ML100K_FILES), {"sha256": "0" * 64}, "sha256 of .* must be 0000"),
        (b"not a zip at all", {}, "must be a zip archive"),
        (_zip_bytes({"u.data": b""}), {}, "must contain"),
        (_zip_bytes({"x": b""}, prefix="../"), {}, "relative paths"),
    ],
)
def test_fetch_rejects_bad_archives(server, tmp_path, payload, kwargs, match):
    root, base = server
    (root / "ml-100k.zip").write_bytes(payload)
    home = tmp_path / "home"
    with pytest.raises(ArtifactError, match=match):
        fetch_movielens("100k", data_home=home, url=f"{base}/ml-100k.zip", **kwargs)
    assert list(home.iterdir()) == []  # nothing half-written is left behind
