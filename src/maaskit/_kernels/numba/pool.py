"""Numba ``pool`` kernel: max and average pooling, parallel over (n, c) planes.

Same contract as :mod:`maaskit._kernels.reference.pool`.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numba as nb
from numba import prange


@nb.njit(cache=True, nogil=True, parallel=True)
def maxpool2d_forward(x, size, stride, out, argmax):
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for t in prange(n * c):
        s = t // c
        ci = t % c
        for y in range(oh):
            for xo in range(ow):
                y0 = y * stride
                x0 = xo * stride
                best = x[s, ci, y0, x0]
                bi = y0 * w + x0
                for i in range(size):
                    for j in range(size):
                        v = x[s, ci, y0 + i, x0 + j]
                        if v > best:
                            best = v
                            bi = (y0 + i) * w + x0 + j
                out[s, ci, y, xo] = best
                argmax[s, ci, y, xo] = bi


@nb.njit(cache=True, nogil=True, parallel=True)
def maxpool2d_backward(dout, argmax, dx):
    n, c, h, w = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    for t in prange(n * c):
        s = t // c
        ci = t % c
        plane = dx[s, ci].reshape(-1)
        plane[:] = 0
        for y in range(oh):
            for xo in range(ow):
                plane[argmax[s, ci, y, xo]] += dout[s, ci, y, xo]


@nb.njit(cache=True, nogil=True, parallel=True)
def avgpool2d_forward(x, size, stride, out):
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    inv = 1.0 / (size * size)
    for t in prange(n * c):
        s = t // c
        ci = t % c
        for y in range(oh):
            for xo in range(ow):
                acc = 0.0
                for i in range(size):
                    for j in range(size):
                        acc += x[s, ci, y * stride + i, xo * stride + j]
                out[s, ci, y, xo] = acc * inv


@nb.njit(cache=True, nogil=True, parallel=True)
def avgpool2d_backward(dout, size, stride, dx):
    n, c, h, w = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    inv = 1.0 / (size * size)
    for t in prange(n * c):
        s = t // c
        ci = t % c
        dx[s, ci] = 0
        for y in range(oh):
            for xo in range(ow):
                g = dout[s, ci, y, xo] * inv
                for i in range(size):
                    for j in range(size):
                        dx[s, ci, y * stride + i, xo * stride + j] += g
