"""Generated image sequences: :func:`make_moving_digits`.

scikit-learn's 8x8 handwritten digits (bundled with scikit-learn, no download) slide in a
straight line across a larger canvas, one step per frame. The class joins what the digit
is (a per-frame, convolutional cue) and where it goes (a cue across frames, which no single
frame shows), so a model needs both a CNN and a recurrence to reach high accuracy.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["make_moving_digits", "DIRECTIONS"]

#: Directions a digit can move in, as (row step sign, column step sign).
DIRECTIONS = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}

_DIGIT = 8  # side of sklearn's digit images


def make_moving_digits(n_samples: int = 1000, *, n_frames: int = 8, canvas_size: int = 16,
                       digits=None, directions=("right", "left", "down", "up"),
                       noise: float = 0.0, random_state=None):
    """Clips of a handwritten digit moving across a canvas; class = digit x direction.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of clips.
    n_frames : int, default=8
        Frames per clip (``T``), at least 2.
    canvas_size : int, default=16
        Side of the square frames, at least 9 (the digit is 8x8 and must be able to move).
    digits : sequence of int or None, default=None
        Digit labels (0-9) to draw from; ``None`` for all ten.
    directions : sequence of {"right", "left", "down", "up"}, default=all four
        Directions of motion.
    noise : float, default=0.0
        Standard deviation of Gaussian pixel noise added to every frame.
    random_state : int, RandomState instance or None, default=None
        Seeds the digit images, the classes, the start offsets and the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, n_frames, canvas_size, canvas_size), dtype float32
        Pixel intensities in about ``[0, 1]`` (digit pixels are ``value / 16``).
    y : ndarray of shape (n_samples,), dtype int64
        ``digit_index * len(directions) + direction_index``, where ``digit_index`` is the
        position of the digit in ``digits``.

    Examples
    --------
    >>> from maaskit.datasets import make_moving_digits
    >>> X, y = make_moving_digits(20, n_frames=4, digits=(0, 1), directions=("left", "right"),
    ...                           random_state=0)
    >>> X.shape, sorted(set(y.tolist())) <= [0, 1, 2, 3]
    ((20, 4, 16, 16), True)
    """
    from sklearn.datasets import load_digits

    where = "make_moving_digits"
    for name, value, low in (("n_samples", n_samples, 1), ("n_frames", n_frames, 2),
                             ("canvas_size", canvas_size, _DIGIT + 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"{where}: {name} must be an int >= {low}; got {value!r}.")
    if not isinstance(noise, numbers.Real) or isinstance(noise, bool) or not noise >= 0:
        raise ValueError(f"{where}: noise must be a real number >= 0; got {noise!r}.")
    digits = tuple(range(10)) if digits is None else tuple(digits)
    if not digits or len(set(digits)) != len(digits) or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and 0 <= d <= 9 for d in digits):
        raise ValueError(f"{where}: digits must be distinct ints in [0, 9]; got {digits!r}.")
    directions = tuple(directions)
    if not directions or len(set(directions)) != len(directions) or not all(
            isinstance(d, str) and d in DIRECTIONS for d in directions):
        raise ValueError(f"{where}: directions must be distinct names among {sorted(DIRECTIONS)}; "
                         f"got {directions!r}.")
    rng = check_random_state(random_state)
    images, labels = load_digits(return_X_y=True)
    images = (images / 16.0).reshape(-1, _DIGIT, _DIGIT).astype(np.float32)
    pools = [np.flatnonzero(labels == d) for d in digits]

    n, T, S = int(n_samples), int(n_frames), int(canvas_size)
    span = S - _DIGIT  # how far the digit travels, first frame to last
    di = rng.randint(len(digits), size=n)
    ri = rng.randint(len(directions), size=n)
    cross = rng.randint(span + 1, size=n)  # offset across the direction of motion
    steps = np.rint(np.linspace(0, span, T)).astype(int)
    X = np.zeros((n, T, S, S), dtype=np.float32)
    for i in range(n):
        img = images[pools[di[i]][rng.randint(len(pools[di[i]]))]]
        dr, dc = DIRECTIONS[directions[ri[i]]]
        for t in range(T):
            along = steps[t] if (dr + dc) > 0 else span - steps[t]
            r, c = (along, cross[i]) if dr else (cross[i], along)
            X[i, t, r:r + _DIGIT, c:c + _DIGIT] = img
    if noise > 0:
        X += rng.normal(0.0, noise, X.shape).astype(np.float32)
    y = (di * len(directions) + ri).astype(np.int64)
    return X, y
