"""Numba ``dropout`` kernel: inverted dropout with a caller-drawn mask.

Same contract as :mod:`maaskit._kernels.reference.dropout`: one pass, no temporaries, so the
forward and backward passes can run in place on the layer's buffers.
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True, nogil=True, fastmath=True)
def _apply(x, mask, scale, out):
    for i in range(x.shape[0]):
        out[i] = x[i] * (mask[i] * scale)  # branch-free, like the reference's multiply


def dropout_forward(x, mask, scale, out):
    """Numba twin of :func:`maaskit._kernels.reference.dropout.dropout_forward`."""
    _apply(x, mask, float(scale), out)


def dropout_backward(dout, mask, scale, dx):
    """Numba twin of :func:`maaskit._kernels.reference.dropout.dropout_backward`."""
    _apply(dout, mask, float(scale), dx)
