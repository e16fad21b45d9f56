"""Readers and a downloader for the GroupLens MovieLens 100K and 1M data sets.

MovieLens may not be redistributed (see the GroupLens licence), so maaskit never ships it:
:func:`load_movielens` reads the original files from the data folder (see
:func:`~maaskit.datasets.get_data_home`) and :func:`fetch_movielens` downloads them from
GroupLens on request.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..exceptions import ArtifactError
from ._home import get_data_home

__all__ = ["load_movielens", "load_movielens_features", "fetch_movielens"]

_BASE_URL = "https://files.grouplens.org/datasets/movielens"

#: variant -> (folder name inside data_home and inside the zip, files that must exist)
_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "100k": ("ml-100k", ("u.data", "u.item")),
    "1m": ("ml-1m", ("ratings.dat", "movies.dat")),
}

#: Known sha256 of the official zips, keyed by variant. Left empty on purpose until the
#: checksums are verified against a fresh download; without an entry, fetch_movielens
#: checks that the archive is a valid zip holding the expected files instead.
_SHA256: dict[str, str] = {}

#: Genre names of MovieLens 100K, in flag order (used when u.genre is absent).
_ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

_RATING_DTYPES = {"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64}


def _check_variant(variant: object, func: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(variant, str) or variant not in _VARIANTS:
        raise ValueError(
            f"{func}: variant must be one of {sorted(_VARIANTS)}; got {variant!r}."
        )
    return _VARIANTS[variant]


def _missing_files(folder: Path, required: tuple[str, ...]) -> list[Path]:
    return [folder / name for name in required if not (folder / name).is_file()]


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------
def _read_ml100k(folder: Path, return_items: bool) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    ratings = pd.read_csv(
        folder / "u.data",
        sep="\t",
        header=None,
        names=list(_RATING_DTYPES),
        dtype=_RATING_DTYPES,
        engine="c",
    )
    if not return_items:
        return ratings, None
    genre_names = list(_ML100K_GENRES)
    genre_file = folder / "u.genre"
    if genre_file.is_file():
        table = pd.read_csv(
            genre_file, sep="|", header=None, names=["name", "index"],
            encoding="latin-1", quoting=csv.QUOTE_NONE, dtype={"name": str},
        ).dropna()
        genre_names = list(table.sort_values("index")["name"])
    n_flags = len(genre_names)
    raw = pd.read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
    )
    if raw.shape[1] != 5 + n_flags:
        raise ValueError(
            f"load_movielens: {folder / 'u.item'} must have {5 + n_flags} '|'-separated "
            f"columns (id, title, release date, video date, url, {n_flags} genre flags); "
            f"got {raw.shape[1]!r}."
        )
    flags = raw.iloc[:, 5:].to_numpy() == "1"
    names = np.asarray(genre_names, dtype=object)
    genres = ["|".join(names[row]) for row in flags]
    items = pd.DataFrame(
        {
            "item": raw.iloc[:, 0].astype(np.int64).to_numpy(),
            "title": raw.iloc[:, 1].to_numpy(dtype=object),
            "genres": genres,
        }
    )
    return ratings, items


def _read_double_colon(path: Path, names: list[str], dtype: dict | type) -> pd.DataFrame:
    # "::" separators force pandas' slow python engine; swap them for tabs instead.
    text = path.read_bytes().replace(b"::", b"\t")
    return pd.read_csv(
        io.BytesIO(text),
        sep="\t",
        header=None,
        names=names,
        dtype=dtype,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
    )


def _read_ml1m(folder: Path, return_items: bool) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    ratings = _read_double_colon(folder / "ratings.dat", list(_RATING_DTYPES), _RATING_DTYPES)
    if not return_items:
        return ratings, None
    items = _read_double_colon(
        folder / "movies.dat", ["item", "title", "genres"], {"item": np.int64, "title": str, "genres": str}
    )
    items["title"] = items["title"].astype(object)
    items["genres"] = items["genres"].astype(object)
    return ratings, items


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def load_movielens(
    variant: str = "100k",
    data_home: str | os.PathLike[str] | None = None,
    download: bool = False,
    return_items: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Load the MovieLens 100K or 1M ratings from the original GroupLens files.

    The files are read from ``<data_home>/ml-100k/`` (``u.data``, ``u.item``,
    ``u.genre``) or ``<data_home>/ml-1m/`` (``ratings.dat``, ``movies.dat``), exactly as
    GroupLens distributes them. MovieLens may not be redistributed, so maaskit does not
    ship it: point ``MAASKIT_DATA`` (or ``data_home``) at a folder holding it, or pass
    ``download=True`` to fetch it from GroupLens with :func:`fetch_movielens`.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
        Which MovieLens release to read.
    data_home : str or os.PathLike, default=None
        Folder that holds ``ml-100k/`` or ``ml-1m/``; see
        :func:`~maaskit.datasets.get_data_home`.
    download : bool, default=False
        If the files are missing, download them with :func:`fetch_movielens` instead of
        raising ``FileNotFoundError``.
    return_items : bool, default=False
        Also return the movie table.

    Returns
    -------
    ratings : pandas.DataFrame
        One row per rating, in file order, with columns ``user`` (int64), ``item``
        (int64), ``rating`` (float64, 1-5) and ``timestamp`` (int64, unix seconds).
    items : pandas.DataFrame
        Only when ``return_items=True``: columns ``item`` (int64), ``title`` (str) and
        ``genres`` (the movie's genres joined by ``"|"``, e.g. ``"Animation|Comedy"``).

    Raises
    ------
    FileNotFoundError
        If the files are missing and ``download=False``; the message names the folder
        searched.
    ValueError
        If ``variant`` is unknown.

    Examples
    --------
    >>> from maaskit.datasets import load_movielens
    >>> ratings = load_movielens("100k")  # doctest: +SKIP
    >>> ratings.shape  # doctest: +SKIP
    (100000, 4)
    """
    folder_name, required = _check_variant(variant, "load_movielens")
    home = get_data_home(data_home)
    folder = home / folder_name
    missing = _missing_files(folder, required)
    if missing:
        if not download:
            raise FileNotFoundError(
                f"load_movielens: MovieLens {variant} was not found: {missing[0]} does not "
                f"exist (searched {folder}). MovieLens cannot be shipped with maaskit; "
                f"set the MAASKIT_DATA environment variable (or data_home=) to a folder "
                f"containing '{folder_name}/', or pass download=True to fetch it from "
                f"GroupLens."
            )
        fetch_movielens(variant, data_home=home)
    reader = _read_ml100k if variant == "100k" else _read_ml1m
    ratings, items = reader(folder, return_items)
    if return_items:
        return ratings, items
    return ratings


#: Age bands of the user features (MovieLens 1M's bands, applied to 100K's exact ages).
_AGE_BANDS = ((0, "under 18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-49"),
              (50, "50-55"), (56, "56+"))


def _age_band(age: int) -> str:
    band = _AGE_BANDS[0][1]
    for lo, name in _AGE_BANDS:
        if age >= lo:
            band = name
    return band


def _decade(date: str) -> str | None:
    # "01-Jan-1995" -> "1990s"; the one item without a date ("unknown") gets None
    year = date.rsplit("-", 1)[-1]
    return f"{int(year) // 10 * 10}s" if len(year) == 4 and year.isdigit() else None


def _read_ml100k_features(folder: Path, zip_prefix: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    _, items = _read_ml100k(folder, return_items=True)
    raw = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1",
                      quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False, usecols=[0, 2])
    dates = dict(zip(raw.iloc[:, 0].astype(np.int64), raw.iloc[:, 1]))
    item_features = pd.DataFrame(
        {
            "genres": [g.split("|") if g else [] for g in items["genres"]],
            "decade": [_decade(dates[i]) for i in items["item"]],
            "title": items["title"].to_numpy(dtype=object),
        },
        index=pd.Index(items["item"].to_numpy(), name="item"),
    )
    users = pd.read_csv(folder / "u.user", sep="|", header=None,
                        names=["user", "age", "gender", "occupation", "zip"],
                        dtype={"user": np.int64, "age": np.int64, "gender": str, "occupation": str,
                               "zip": str},
                        encoding="latin-1", quoting=csv.QUOTE_NONE, keep_default_na=False)
    columns = {
        "age_band": [_age_band(a) for a in users["age"]],
        "gender": users["gender"].to_numpy(dtype=object),
        "occupation": users["occupation"].to_numpy(dtype=object),
    }
    if zip_prefix:
        columns["zip_prefix"] = [z[:zip_prefix].upper() or None for z in users["zip"]]
    user_features = pd.DataFrame(columns, index=pd.Index(users["user"].to_numpy(), name="user"))
    return item_features, user_features


def load_movielens_features(
    variant: str = "100k",
    data_home: str | os.PathLike[str] | None = None,
    download: bool = False,
    *,
    zip_prefix: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the item and user features of MovieLens 100K, indexed by the ratings' ids.

    Items come from ``u.item`` (genre flags, release date, title) and users from
    ``u.user`` (age, gender, occupation, zip code), read from the same folder and under
    the same rules as :func:`load_movielens` (``FileNotFoundError`` naming the folder
    when the files are missing, unless ``download=True``). The frames are ready for
    :class:`maaskit.recommender.FeatureEncoder` and the ``item_features=`` /
    ``user_features=`` of hybrid recommenders: every column's kind is detected as
    listed below.

    Parameters
    ----------
    variant : {"100k"}, default="100k"
        The MovieLens release (only 100K ships user features with items in this form).
    data_home : str or os.PathLike, default=None
        Folder that holds ``ml-100k/``; see :func:`~maaskit.datasets.get_data_home`.
    download : bool, default=False
        If the files are missing, download them with :func:`fetch_movielens`.
    zip_prefix : int, default=0
        Also give users a ``zip_prefix`` column: the first ``zip_prefix`` characters of
        their zip code (1 is the US region, 3 the sectional centre); 0 leaves it out.

    Returns
    -------
    item_features : pandas.DataFrame
        Indexed by ``item`` (int64, the ids of :func:`load_movielens`), one row per movie,
        with columns ``genres`` (list of genre names: multi-label, 19 possible),
        ``decade`` (release decade such as ``"1990s"``, ``None`` when the date is
        missing: categorical) and ``title`` (str, as in the file: text).
    user_features : pandas.DataFrame
        Indexed by ``user`` (int64), one row per user, with columns ``age_band``
        (``"under 18"``, ``"18-24"``, ``"25-34"``, ``"35-44"``, ``"45-49"``,
        ``"50-55"``, ``"56+"``: the bands of MovieLens 1M), ``gender`` (``"M"`` or
        ``"F"``), ``occupation`` (str) and, with ``zip_prefix``, ``zip_prefix``
        (str, upper-cased): all categorical.

    Raises
    ------
    FileNotFoundError
        If the files are missing and ``download=False``.
    ValueError
        If ``variant`` is not ``"100k"`` or ``zip_prefix`` is not in ``[0, 5]``.

    Examples
    --------
    >>> from maaskit.datasets import load_movielens_features
    >>> items, users = load_movielens_features()  # doctest: +SKIP
    >>> items.loc[1, "genres"], items.loc[1, "decade"]  # doctest: +SKIP
    (['Animation', "Children's", 'Comedy'], '1990s')
    """
    if variant != "100k":
        raise ValueError(f"load_movielens_features: variant must be '100k'; got {variant!r}.")
    if isinstance(zip_prefix, bool) or not isinstance(zip_prefix, (int, np.integer)) \
            or not 0 <= zip_prefix <= 5:
        raise ValueError(f"load_movielens_features: zip_prefix must be an int in [0, 5]; "
                         f"got {zip_prefix!r}.")
    folder_name, _ = _VARIANTS[variant]
    required = ("u.data", "u.item", "u.user")
    home = get_data_home(data_home)
    folder = home / folder_name
    missing = _missing_files(folder, required)
    if missing:
        if not download:
            raise FileNotFoundError(
                f"load_movielens_features: MovieLens {variant} was not found: {missing[0]} does "
                f"not exist (searched {folder}). MovieLens cannot be shipped with maaskit; set "
                f"the MAASKIT_DATA environment variable (or data_home=) to a folder containing "
                f"'{folder_name}/', or pass download=True to fetch it from GroupLens."
            )
        fetch_movielens(variant, data_home=home, force=True)
    return _read_ml100k_features(folder, int(zip_prefix))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_members(archive: zipfile.ZipFile, source: str) -> list[str]:
    names = archive.namelist()
    for name in names:
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise ArtifactError(
                f"fetch_movielens: archive members must be relative paths inside the "
                f"archive; got {name!r} in {source}. The download may be corrupt or "
                f"tampered with."
            )
    return names


def fetch_movielens(
    variant: str = "100k",
    data_home: str | os.PathLike[str] | None = None,
    url: str | None = None,
    *,
    sha256: str | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download and extract a MovieLens archive from GroupLens into the data folder.

    The zip is downloaded with :mod:`urllib` into a temporary folder inside
    ``data_home``, verified (its sha256 when one is known or given, otherwise that it is a
    valid zip holding the expected files), extracted there, and only then renamed into
    place, so an interrupted download never leaves a half-written ``ml-*`` folder.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
        Which release to fetch.
    data_home : str or os.PathLike, default=None
        Destination folder (created if needed); see
        :func:`~maaskit.datasets.get_data_home`.
    url : str, default=None
        Where to download the zip from. ``None`` uses the official GroupLens address,
        ``https://files.grouplens.org/datasets/movielens/ml-<variant>.zip``.
    sha256 : str, default=None
        Expected sha256 (hex) of the zip. ``None`` uses maaskit's table of known
        checksums for the official url (no check for a custom url).
    force : bool, default=False
        Download again even if the files are already present.
    timeout : float, default=60.0
        Socket timeout in seconds.

    Returns
    -------
    folder : pathlib.Path
        The folder holding the extracted files, ``<data_home>/ml-<variant>``.

    Raises
    ------
    maaskit.exceptions.ArtifactError
        If the checksum does not match or the archive is not a valid MovieLens zip.
    urllib.error.URLError
        If the download fails.

    Examples
    --------
    >>> from maaskit.datasets import fetch_movielens
    >>> fetch_movielens("100k")  # doctest: +SKIP
    PosixPath('/home/me/maaskit_data/ml-100k')
    """
    folder_name, required = _check_variant(variant, "fetch_movielens")
    home = get_data_home(data_home)
    target = home / folder_name
    if not force and not _missing_files(target, required):
        return target
    if url is None:
        url = f"{_BASE_URL}/{folder_name}.zip"
        if sha256 is None:
            sha256 = _SHA256.get(variant)
    if not isinstance(url, str):
        raise TypeError(f"fetch_movielens: url must be a str or None; got {url!r}.")
    home.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder_name}-", dir=home))
    try:
        zip_path = tmp / f"{folder_name}.zip"
        with urllib.request.urlopen(url, timeout=timeout) as response, open(zip_path, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
        if sha256 is not None:
            actual = _sha256_of(zip_path)
            if actual.lower() != sha256.lower():
                raise ArtifactError(
                    f"fetch_movielens: the sha256 of {url} must be {sha256}; got "
                    f"{actual!r}. The download is corrupt or the file has changed; retry, "
                    f"or pass the new checksum with sha256=."
                )
        try:
            archive = zipfile.ZipFile(zip_path)
        except zipfile.BadZipFile:
            raise ArtifactError(
                f"fetch_movielens: the download from {url} must be a zip archive; got a "
                f"file of {zip_path.stat().st_size} bytes that is not one."
            ) from None
        with archive:
            names = set(_safe_members(archive, url))
            absent = [f"{folder_name}/{n}" for n in required if f"{folder_name}/{n}" not in names]
            if absent:
                raise ArtifactError(
                    f"fetch_movielens: the archive from {url} must contain "
                    f"{[f'{folder_name}/{n}' for n in required]}; got no {absent!r}."
                )
            extract_dir = tmp / "extract"
            archive.extractall(extract_dir)
        if target.exists():
            old = tmp / "old"
            os.replace(target, old)
        os.replace(extract_dir / folder_name, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
