"""Where maaskit looks for (and stores) downloaded data sets."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["get_data_home"]

#: Environment variable that overrides the default data folder.
DATA_ENV_VAR = "MAASKIT_DATA"


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
