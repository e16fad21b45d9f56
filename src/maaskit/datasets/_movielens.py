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

__all__ = ["load_movielens", "fetch_movielens"]

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
