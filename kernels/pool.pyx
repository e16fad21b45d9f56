# cython: language_level=3
"""Cython ``pool`` kernel: max and average pooling, OpenMP over (n, c) planes, GIL released.

Same contract as ``maaskit._kernels.reference.pool``.

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from cython cimport floating
from cython.parallel cimport prange


def maxpool2d_forward(const floating[:, :, :, ::1] x, int size, int stride,
                      floating[:, :, :, ::1] out, long long[:, :, :, ::1] argmax):
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], w = x.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3], t, s, ci, y, xo, i, j, y0, x0, bi
    cdef floating best, v
    for t in prange(n * c, nogil=True, schedule="static"):
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


def maxpool2d_backward(const floating[:, :, :, ::1] dout, const long long[:, :, :, ::1] argmax,
                       floating[:, :, :, ::1] dx):
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t oh = dout.shape[2], ow = dout.shape[3], t, s, ci, y, xo, q
    cdef floating* plane
    for t in prange(n * c, nogil=True, schedule="static"):
        s = t // c
        ci = t % c
        plane = &dx[s, ci, 0, 0]
        for q in range(h * w):
            plane[q] = 0
        for y in range(oh):
            for xo in range(ow):
                plane[argmax[s, ci, y, xo]] += dout[s, ci, y, xo]


def avgpool2d_forward(const floating[:, :, :, ::1] x, int size, int stride, floating[:, :, :, ::1] out):
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3], t, s, ci, y, xo, i, j
    cdef double acc, inv = 1.0 / (size * size)
    for t in prange(n * c, nogil=True, schedule="static"):
        s = t // c
        ci = t % c
        for y in range(oh):
            for xo in range(ow):
                acc = 0
                for i in range(size):
                    for j in range(size):
                        acc = acc + x[s, ci, y * stride + i, xo * stride + j]
                out[s, ci, y, xo] = <floating>(acc * inv)


def avgpool2d_backward(const floating[:, :, :, ::1] dout, int size, int stride, floating[:, :, :, ::1] dx):
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t oh = dout.shape[2], ow = dout.shape[3], t, s, ci, y, xo, i, j, q
    cdef floating g
    cdef floating* plane
    cdef floating inv = <floating>(1.0 / (size * size))
    for t in prange(n * c, nogil=True, schedule="static"):
        s = t // c
        ci = t % c
        plane = &dx[s, ci, 0, 0]
        for q in range(h * w):
            plane[q] = 0
        for y in range(oh):
            for xo in range(ow):
                g = dout[s, ci, y, xo] * inv
                for i in range(size):
                    for j in range(size):
                        dx[s, ci, y * stride + i, xo * stride + j] += g
