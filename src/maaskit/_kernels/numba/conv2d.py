"""Numba ``conv2d`` kernel: im2col / col2im compiled and parallel, the GEMMs on BLAS.

Same contract as :mod:`maaskit._kernels.reference.conv2d`. im2col is parallel over the
rows of ``cols`` (one (c, i, j) tap each); col2im over input channels, so that each thread
owns its slice of ``dx`` and no atomics are needed.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange


@nb.njit(cache=True, nogil=True, parallel=True)
def _im2col(x, kh, kw, stride, padding, oh, ow, cols):
    n, c, h, w = x.shape
    p = oh * ow
    for r in prange(c * kh * kw):
        ci = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        row = cols[r]
        for s in range(n):
            base = s * p
            for y in range(oh):
                iy = y * stride + i - padding
                o = base + y * ow
                if iy < 0 or iy >= h:
                    for xo in range(ow):
                        row[o + xo] = 0
                    continue
                for xo in range(ow):
                    ix = xo * stride + j - padding
                    row[o + xo] = x[s, ci, iy, ix] if 0 <= ix < w else 0


@nb.njit(cache=True, nogil=True, parallel=True)
def _col2im(dcols, kh, kw, stride, padding, oh, ow, dx):
    n, c, h, w = dx.shape
    p = oh * ow
    for t in prange(c * n):
        ci = t // n
        s = t % n
        dx[s, ci] = 0
        for i in range(kh):
            for j in range(kw):
                row = dcols[(ci * kh + i) * kw + j]
                base = s * p
                for y in range(oh):
                    iy = y * stride + i - padding
                    if iy < 0 or iy >= h:
                        continue
                    o = base + y * ow
                    for xo in range(ow):
                        ix = xo * stride + j - padding
                        if 0 <= ix < w:
                            dx[s, ci, iy, ix] += row[o + xo]


@nb.njit(cache=True, nogil=True, parallel=True)
def _scatter_out(res, b, out):
    n, f, oh, ow = out.shape
    p = oh * ow
    for t in prange(n * f):
        s = t // f
        k = t % f
        src = res[k]
        bk = b[k]
        dst = out[s, k].reshape(-1)
        for q in range(p):
            dst[q] = src[s * p + q] + bk


@nb.njit(cache=True, nogil=True, parallel=True)
def _gather_dout(dout, d2, db):
    n, f, oh, ow = dout.shape
    p = oh * ow
    for k in prange(f):
        acc = 0.0
        for s in range(n):
            src = dout[s, k].reshape(-1)
            for q in range(p):
                v = src[q]
                d2[k, s * p + q] = v
                acc += v
        db[k] = acc


@nb.njit(cache=True, nogil=True)
def conv2d_forward(x, w, b, stride, padding, cols, out):
    f, c, kh, kw = w.shape
    oh, ow = out.shape[2], out.shape[3]
    _im2col(x, kh, kw, stride, padding, oh, ow, cols)
    res = np.dot(w.reshape(f, c * kh * kw), cols)
    _scatter_out(res, b, out)


@nb.njit(cache=True, nogil=True)
def conv2d_backward(cols, w, dout, stride, padding, dx, dw, db, need_dx):
    f, c, kh, kw = w.shape
    n, _, oh, ow = dout.shape
    d2 = np.empty((f, n * oh * ow), dtype=dout.dtype)
    _gather_dout(dout, d2, db)
    np.dot(d2, cols.T, dw.reshape(f, c * kh * kw))
    if need_dx:
        dcols = np.dot(w.reshape(f, c * kh * kw).T, d2)
        _col2im(dcols, kh, kw, stride, padding, oh, ow, dx)
