"""Warnings that point at the user's line, however deep in maaskit they are raised."""

from __future__ import annotations

import os
import sys
import warnings

# The package folder: frames under it are library frames, never what a warning should name.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_stacklevel() -> int:
    """Return the ``stacklevel`` of the first caller outside maaskit, seen from the caller.

    A fixed ``stacklevel`` is right for one call path only: ``Recommender.recommend`` adds a
    frame over ``ALS.recommend``, and scikit-learn's ``GridSearchCV`` adds several. Walking
    the stack finds the user's frame on every path (Python 3.12's ``skip_file_prefixes``
    does the same, but maaskit supports 3.10).

    Returns
    -------
    stacklevel : int
        For ``warnings.warn`` called directly by the function that calls this one.
    """
    frame = sys._getframe(2)  # the function that will call warnings.warn
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside maaskit.

    Parameters
    ----------
    message : str
    category : Warning subclass
    """
    warnings.warn(message, category, stacklevel=user_stacklevel())
