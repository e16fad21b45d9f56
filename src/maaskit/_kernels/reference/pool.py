"""NumPy reference of the ``pool`` kernel: 2-D max and average pooling (NCHW), no padding.

Windows of ``size`` x ``size`` move by ``stride``; the output has
``OH = (H - size) // stride + 1`` rows (floor mode, like torch). Max pooling records, per
output cell, the flat index ``h * W + w`` of the winner inside its (n, c) plane (the first
maximum on ties, as torch does); the backward pass scatters the gradient there.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numpy as np


def _windows(x, size, stride):
    n, c, h, w = x.shape
    oh = (h - size) // stride + 1
    ow = (w - size) // stride + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, size, size), (s[0], s[1], s[2] * stride, s[3] * stride, s[2], s[3]),
        writeable=False)


def maxpool2d_forward(x, size, stride, out, argmax):
    """Max pooling forward pass.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    size : int
        Window side.
    stride : int
    out : ndarray of shape (N, C, OH, OW)
        Written in place.
    argmax : ndarray of shape (N, C, OH, OW), int64
        Written in place: flat index into the (H, W) plane of each maximum.
    """
    n, c, oh, ow = out.shape
    win = _windows(np.ascontiguousarray(x), size, stride).reshape(n, c, oh, ow, size * size)
    k = win.argmax(axis=-1)
    out[...] = np.take_along_axis(win, k[..., None], axis=-1)[..., 0]
    di, dj = np.divmod(k, size)
    rows = np.arange(oh)[:, None] * stride + di
    colsx = np.arange(ow)[None, :] * stride + dj
    argmax[...] = rows * x.shape[3] + colsx


def maxpool2d_backward(dout, argmax, dx):
    """Max pooling backward pass: scatter-add ``dout`` to the recorded maxima.

    Parameters
    ----------
    dout : ndarray of shape (N, C, OH, OW)
    argmax : ndarray of shape (N, C, OH, OW), int64
        From :func:`maxpool2d_forward`.
    dx : ndarray of shape (N, C, H, W)
        Overwritten with the gradient.
    """
    n, c, h, w = dx.shape
    flat = np.zeros((n * c, h * w), dtype=dx.dtype)
    idx = argmax.reshape(n * c, -1)
    np.add.at(flat, (np.arange(n * c)[:, None], idx), dout.reshape(n * c, -1))
    dx[...] = flat.reshape(dx.shape)


def avgpool2d_forward(x, size, stride, out):
    """Average pooling forward pass.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    size : int
    stride : int
    out : ndarray of shape (N, C, OH, OW)
        Written in place.
    """
    out[...] = _windows(np.ascontiguousarray(x), size, stride).mean(axis=(-1, -2))


def avgpool2d_backward(dout, size, stride, dx):
    """Average pooling backward pass.

    Parameters
    ----------
    dout : ndarray of shape (N, C, OH, OW)
    size : int
    stride : int
    dx : ndarray of shape (N, C, H, W)
        Overwritten with the gradient.
    """
    dx[...] = 0
    oh, ow = dout.shape[2], dout.shape[3]
    share = dout / (size * size)
    for i in range(size):
        for j in range(size):
            dx[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += share
