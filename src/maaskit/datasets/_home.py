"""Where maaskit looks for (and stores) data sets.

Two questions, two functions: :func:`get_data_home` says where the loaders read and
:func:`fetch_movielens` downloads (always a path, created on demand);
:func:`find_data_home` says where real data already lies, or ``None``, for the tests and
benchmarks that fall back to generated data when there is none.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["get_data_home", "find_data_home"]

#: Environment variable that overrides the default data folder.
DATA_ENV_VAR = "MAASKIT_DATA"

#: The checkout this package was imported from (``<checkout>/src/maaskit/datasets``);
#: meaningless, and harmless, for an installed wheel.
_CHECKOUT = Path(__file__).resolve().parents[3]


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds maaskit's data sets.

    The folder is, in order of precedence: the ``data_home`` argument, the
    ``MAASKIT_DATA`` environment variable, or ``~/maaskit_data``. A leading ``~`` is
    expanded. The folder is not created; :func:`fetch_movielens` creates it when it
    downloads.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Explicit folder. ``None`` falls back to ``MAASKIT_DATA``, then ``~/maaskit_data``.

    Returns
    -------
    path : pathlib.Path
        The data folder (absolute when the input was absolute or ``~``-based).

    Examples
    --------
    >>> from maaskit.datasets import get_data_home
    >>> get_data_home("/tmp/my_data").as_posix()
    '/tmp/my_data'
    """
    if data_home is None:
        env = os.environ.get(DATA_ENV_VAR, "")
        data_home = env if env.strip() else Path("~") / "maaskit_data"
    elif not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(
            f"get_data_home: data_home must be a str, os.PathLike or None; got {data_home!r}."
        )
    return Path(data_home).expanduser()


def find_data_home(needs: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the folder that already holds real data sets, or ``None``.

    The candidates are, in order: the ``MAASKIT_DATA`` environment variable, then
    ``../shared/data`` beside the checkout maaskit was imported from, then ``../shared/data``
    beside the working directory (a checkout with maaskit installed in a virtualenv). Unlike
    :func:`get_data_home` nothing is defaulted: callers (tests, benchmarks) fall back to
    generated data on ``None``.

    Parameters
    ----------
    needs : str or os.PathLike, default=None
        A path relative to the data folder (e.g. ``"ml-100k/u.data"``) that must exist in
        the candidate; ``None`` accepts the first candidate that is a folder.

    Returns
    -------
    path : pathlib.Path or None
        The first candidate that qualifies, or ``None`` when none does.

    Examples
    --------
    >>> from maaskit.datasets import find_data_home
    >>> home = find_data_home("ml-100k/u.data")
    >>> home is None or (home / "ml-100k" / "u.data").exists()
    True
    """
    if needs is not None and not isinstance(needs, (str, os.PathLike)):
        raise TypeError(f"find_data_home: needs must be a str, os.PathLike or None; got {needs!r}.")
    env = os.environ.get(DATA_ENV_VAR, "")
    # Beside the checkout maaskit was imported from (an editable install), and beside the
    # working directory (tests and benchmarks run from a checkout whose maaskit is installed
    # into a virtualenv, as CI does).
    candidates = ([Path(env).expanduser()] if env.strip() else []) + [
        _CHECKOUT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for cand in candidates:
        if cand.is_dir() if needs is None else (cand / needs).exists():
            return cand
    return None
