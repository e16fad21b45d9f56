"""Numba ``linear`` kernel: fused per-sample loss and derivative of raw scores (see the reference).

Index safety: every index here comes from loop counters over shapes the caller allocated; none
is read from data.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(nogil=True, inline="always")
def _elem(loss, z, y, eps):
    # returns (loss, derivative) of one score; loss codes as in the reference
    if loss == 0:
        r = z - y
        return 0.5 * r * r, r
    if loss == 1:
        r = z - y
        if abs(r) <= eps:
            return 0.5 * r * r, r
        return eps * abs(r) - 0.5 * eps * eps, eps if r > 0 else -eps
    if loss == 2:
        r = z - y
        if abs(r) > eps:
            return abs(r) - eps, 1.0 if r > 0 else -1.0
        return 0.0, 0.0
    m = y * z
    if loss == 3:
        if m > 0:
            e = math.exp(-m)
            return math.log1p(e), -y * e / (1.0 + e)
        e = math.exp(m)
        return -m + math.log1p(e), -y / (1.0 + e)
    if loss == 4:
        if m < 1.0:
            return 1.0 - m, -y
        return 0.0, 0.0
    h = 1.0 - m if m < 1.0 else 0.0
    if loss == 5 or m >= -1.0:
        return h * h, -2.0 * y * h
    return -4.0 * m, -4.0 * y


@nb.njit(cache=True, nogil=True)
def _loss_grad(loss, Z, Y, sw, dZ, eps):
    n, k = Z.shape
    total = 0.0
    for i in range(n):
        w = sw[i]
        if loss == 7:
            zmax = Z[i, 0]
            for j in range(1, k):
                zmax = max(zmax, Z[i, j])
            s = 0.0
            for j in range(k):
                e = math.exp(Z[i, j] - zmax)
                dZ[i, j] = e
                s += e
            yz = 0.0
            inv = 1.0 / s
            for j in range(k):
                yz += Y[i, j] * Z[i, j]
                dZ[i, j] = w * (dZ[i, j] * inv - Y[i, j])
            total += w * (zmax + math.log(s) - yz)
        else:
            for j in range(k):
                l_, d = _elem(loss, np.float64(Z[i, j]), np.float64(Y[i, j]), eps)
                dZ[i, j] = w * d
                total += w * l_
    return total


def loss_grad(loss, Z, Y, sample_weight, dZ, epsilon):
    """Numba twin of :func:`maaskit._kernels.reference.linear.loss_grad`."""
    return float(_loss_grad(int(loss), Z, Y, sample_weight, dZ, float(epsilon)))
