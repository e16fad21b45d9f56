"""NumPy reference of the ``conv2d`` kernel: 2-D cross-correlation (NCHW) by im2col + GEMM.

Shapes: input ``x`` (N, C, H, W), weights ``w`` (F, C, KH, KW), bias ``b`` (F,), output
(N, F, OH, OW) with ``OH = (H + 2*padding - KH) // stride + 1`` (likewise ``OW``), zero
padding. The caller preallocates the column workspace ``cols`` of shape
(C*KH*KW, N*OH*OW): row ``(c, i, j)``, column ``(n, oh, ow)`` holds
``x_padded[n, c, oh*stride + i, ow*stride + j]``. The forward pass fills it and the
backward pass reuses it, so it must not change in between.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np


def output_size(size: int, k: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling window along one axis.

    Parameters
    ----------
    size : int
        Input length.
    k : int
        Window length.
    stride : int
        Step.
    padding : int
        Zero padding on both sides.

    Returns
    -------
    out : int
    """
    return (size + 2 * padding - k) // stride + 1


def _im2col(x, kh, kw, stride, padding, cols):
    n, c, h, w = x.shape
    oh = output_size(h, kh, stride, padding)
    ow = output_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    view = cols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            view[:, i, j] = patch.transpose(1, 0, 2, 3)


def _col2im(dcols, shape, kh, kw, stride, padding):
    n, c, h, w = shape
    oh = output_size(h, kh, stride, padding)
    ow = output_size(w, kw, stride, padding)
    dxp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=dcols.dtype)
    view = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += (
                view[:, i, j].transpose(1, 0, 2, 3))
    return dxp[:, :, padding:padding + h, padding:padding + w]


def conv2d_forward(x, w, b, stride, padding, cols, out):
    """Convolution forward pass; fills ``cols`` (kept for the backward pass) and ``out``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (F, C, KH, KW)
    b : ndarray of shape (F,)
    stride : int
    padding : int
    cols : ndarray of shape (C*KH*KW, N*OH*OW)
        Workspace, written in place.
    out : ndarray of shape (N, F, OH, OW)
        Written in place.
    """
    f, c, kh, kw = w.shape
    n = x.shape[0]
    _im2col(x, kh, kw, stride, padding, cols)
    res = w.reshape(f, -1) @ cols  # (F, N*P)
    out[...] = res.reshape(f, n, -1).transpose(1, 0, 2).reshape(out.shape) + b[None, :, None, None]


def conv2d_backward(cols, w, dout, stride, padding, dx, dw, db, need_dx):
    """Convolution backward pass from the forward's ``cols``.

    Parameters
    ----------
    cols : ndarray of shape (C*KH*KW, N*OH*OW)
        Workspace filled by :func:`conv2d_forward`.
    w : ndarray of shape (F, C, KH, KW)
    dout : ndarray of shape (N, F, OH, OW)
        Gradient with respect to the output.
    stride : int
    padding : int
    dx : ndarray of shape (N, C, H, W)
        Written in place when ``need_dx``.
    dw : ndarray of shape (F, C, KH, KW)
        Written in place.
    db : ndarray of shape (F,)
        Written in place.
    need_dx : bool
        Whether to compute ``dx``.
    """
    f, c, kh, kw = w.shape
    n = dout.shape[0]
    d2 = dout.reshape(n, f, -1).transpose(1, 0, 2).reshape(f, -1)  # (F, N*P)
    dw[...] = (d2 @ cols.T).reshape(dw.shape)
    db[...] = d2.sum(axis=1)
    if need_dx:
        dcols = w.reshape(f, -1).T @ d2
        dx[...] = _col2im(dcols, dx.shape, kh, kw, stride, padding)
