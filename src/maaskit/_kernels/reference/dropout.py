"""NumPy reference for the ``dropout`` kernel: inverted dropout with a caller-drawn mask.

The caller draws the keep-mask (``uint8``, 1 = keep, with probability ``1 - p``) from its own
seeded generator, so runs are deterministic from ``random_state`` and every backend applies
the same mask. Kept values are scaled by ``scale = 1 / (1 - p)`` at training time, so the
layer is the identity at prediction time (``torch.nn.functional.dropout`` semantics)::

    out = x * mask * scale,    dx = dout * mask * scale

Arrays are flat (callers pass ``a.reshape(-1)`` of a C-contiguous array).
"""

from __future__ import annotations

import numpy as np


def dropout_forward(x, mask, scale, out):
    """Zero the dropped values of ``x`` and scale the kept ones.

    Parameters
    ----------
    x : ndarray of shape (size,)
        Input values.
    mask : ndarray of shape (size,), dtype uint8
        1 where the value is kept, 0 where it is dropped.
    scale : float
        ``1 / (1 - p)``.
    out : ndarray of shape (size,)
        Written with the result (may be ``x`` itself).
    """
    np.multiply(x, mask, out=out, casting="unsafe")
    out *= out.dtype.type(scale)


def dropout_backward(dout, mask, scale, dx):
    """Gradient of :func:`dropout_forward` with respect to ``x``.

    Parameters
    ----------
    dout : ndarray of shape (size,)
        Gradient with respect to the output.
    mask : ndarray of shape (size,), dtype uint8
        The forward pass's mask.
    scale : float
        The forward pass's scale.
    dx : ndarray of shape (size,)
        Written with the gradient (may be ``dout`` itself).
    """
    np.multiply(dout, mask, out=dx, casting="unsafe")
    dx *= dx.dtype.type(scale)
