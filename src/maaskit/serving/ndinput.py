"""n-d model input (images, clips): a request's shape against the per-sample shapes a signature lists.

A signature's ``input_shapes`` holds every per-sample shape a model takes, ``-1`` marking an
axis of any length (a clip's frame count: a CRNN fitted on 8x8 frames lists ``[-1, 8, 8]``
and ``[-1, 1, 8, 8]``). Clips of different lengths arrive as nested JSON lists of different
lengths (``POST /v1/predict``) or as one padded V2 tensor plus an ``INT64`` input
``lengths`` (``/v2/.../infer``); both become a list of clips for the estimator, which pads
and masks them itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import bad_request as _bad
from .limits import Limits

__all__ = ["accepted", "check_nd_rows", "clips_from_instances", "clips_from_tensor", "decode_clip_inputs",
           "has_variable_axis"]


def _fits(sample: tuple, pattern: list) -> bool:
    return len(sample) == len(pattern) and all(p == -1 or p == s for s, p in zip(sample, pattern))


def has_variable_axis(shapes: list | None) -> bool:
    """Whether a per-sample shape of the signature has an axis of any length (``-1``).

    Parameters
    ----------
    shapes : list of list of int or None

    Returns
    -------
    variable : bool
    """
    return bool(shapes) and any(-1 in s for s in shapes)


def accepted(shapes: list) -> str:
    """The accepted shapes for a message: ``(n_samples, T, 8, 8) or (n_samples, T, 1, 8, 8)``.

    Parameters
    ----------
    shapes : list of list of int

    Returns
    -------
    text : str
    """
    return " or ".join("(" + ", ".join(["n_samples", *("T" if d == -1 else str(d) for d in s)]) + ")"
                       for s in shapes)


def _check_sample(shape: tuple, shapes: list, where: str, what: str) -> None:
    if not any(_fits(shape, s) for s in shapes):
        per = " or ".join(accepted([s]).replace("n_samples, ", "", 1) for s in shapes)
        raise _bad("shape_mismatch", f"{where}: {what} must be of shape {per}; got {shape!r}.",
                   {"input_shapes": shapes, "shape": list(shape)})
    if 0 in shape:  # fixed axes are positive: only a variable one (frames) can be empty
        raise _bad("shape_mismatch", f"{where}: {what} must have at least one frame; got shape {shape!r}.",
                   {"input_shapes": shapes, "shape": list(shape)})


def check_nd_rows(X: np.ndarray, shapes: list, where: str) -> np.ndarray:
    """Check a rectangular batch against the signature's per-sample shapes (400 when off).

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
    shapes : list of list of int
        The signature's ``input_shapes``.
    where : str
        For messages.

    Returns
    -------
    X : ndarray
    """
    if X.ndim < 2 or not any(_fits(X.shape[1:], s) for s in shapes):
        raise _bad("shape_mismatch", f"{where}: X must be of shape {accepted(shapes)}; got {X.shape!r}.",
                   {"input_shapes": shapes, "shape": list(X.shape)})
    if 0 in X.shape[1:]:
        raise _bad("shape_mismatch", f"{where}: every clip must have at least one frame; got {X.shape!r}.",
                   {"input_shapes": shapes, "shape": list(X.shape)})
    if not np.isfinite(X).all():
        raise _bad("invalid_input", f"{where}: X contains NaN or infinity.")
    return X


def clips_from_instances(instances: list, shapes: list, limits: Limits, where: str) -> list[np.ndarray]:
    """Clips of different lengths from JSON instances, each checked (400/413 when off).

    Parameters
    ----------
    instances : list
        One nested list per clip.
    shapes : list of list of int
        The signature's ``input_shapes``.
    limits : Limits
        ``max_tensor_elements`` bounds the numbers of all clips together.
    where : str
        For messages.

    Returns
    -------
    clips : list of ndarray
    """
    clips, total = [], 0
    for i, inst in enumerate(instances):
        try:
            a = np.asarray(inst, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            raise _bad("invalid_input", f"{where}: instance {i} must be a clip: frames of numbers, all of "
                                        f"one shape.") from None
        total += a.size
        limits.check("max_tensor_elements", total, where, "numbers in instances")
        _check_sample(a.shape, shapes, where, f"instance {i}")
        if not np.isfinite(a).all():
            raise _bad("invalid_input", f"{where}: instance {i} contains NaN or infinity.")
        clips.append(a)
    return clips


def clips_from_tensor(X: np.ndarray, lengths: np.ndarray, shapes: list, where: str) -> list[np.ndarray]:
    """Clips of different lengths from a padded V2 tensor and its ``lengths`` input.

    Parameters
    ----------
    X : ndarray of shape (n_samples, T, ...)
        Clips padded at the end to ``T`` frames (the padding values are ignored).
    lengths : ndarray of shape (n_samples,)
        Frames of each clip, ``1 <= lengths[i] <= T``.
    shapes : list of list of int
        The signature's ``input_shapes``.
    where : str
        For messages.

    Returns
    -------
    clips : list of ndarray
    """
    if not has_variable_axis(shapes):
        raise _bad("invalid_request", f"{where}: this model takes samples of one fixed shape; an input "
                                      f"'lengths' is only for models of variable-length clips.")
    check_nd_rows(X, shapes, where)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.shape[0] != X.shape[0]:
        raise _bad("shape_mismatch", f"{where}: input 'lengths' must have shape [{X.shape[0]}] (one per clip); "
                                     f"got {list(lengths.shape)}.")
    bad = (lengths < 1) | (lengths > X.shape[1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _bad("invalid_input", f"{where}: lengths must be between 1 and {X.shape[1]} (the padded "
                                    f"frame count); got {int(lengths[i])} for clip {i}.")
    return [X[i, :int(t)] for i, t in enumerate(lengths)]


def decode_clip_inputs(tensors: list, where: str) -> tuple[Any, Any]:
    """Split V2 inputs into the data tensor and the optional ``lengths`` tensor.

    Parameters
    ----------
    tensors : list of (name, ndarray, datatype)
    where : str
        For messages.

    Returns
    -------
    data, lengths : tuple or None
        ``(name, array, datatype)`` of the data; the lengths array or ``None``.
    """
    lengths = [t for t in tensors if t[0] == "lengths"]
    data = [t for t in tensors if t[0] != "lengths"]
    if len(data) != 1 or len(lengths) > 1:
        raise _bad("invalid_request", f"{where}: this model takes one input tensor (and, for clips of different "
                                      f"lengths, one INT64 input 'lengths'); got {len(tensors)} inputs.")
    if lengths and lengths[0][2] not in ("INT32", "INT64"):
        raise _bad("datatype_mismatch", f"{where}: input 'lengths' must be INT64; got {lengths[0][2]}.")
    return data[0], (lengths[0][1] if lengths else None)
