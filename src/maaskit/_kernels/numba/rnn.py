"""Numba ``rnn`` kernel: Elman, GRU and LSTM cells through time with BPTT.

Same contract as :mod:`maaskit._kernels.reference.rnn` (time-major, input projection done by
the caller). The whole time loop is one compiled call: the per-step ``(B, H) x (H, G)``
products go to BLAS through ``np.dot`` and the gate maths is fused into plain loops, so no
temporaries are allocated per step and there is no Python cost per step.

Index safety: Token ids (when the layer embeds tokens) are gathered through the ``embedding``
kernel's contract: not checked here, reachable only through validated input and state (see that
kernel).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _sig(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


@nb.njit(cache=True, nogil=True)
def _rnn_forward(xw, w_hh, h0, lengths, hs):
    T, B, H = xw.shape
    a = np.empty((B, H), dtype=xw.dtype)
    wt = w_hh.T
    for t in range(T):
        hprev = hs[t - 1] if t > 0 else h0
        np.dot(hprev, wt, a)
        for b in range(B):
            if t < lengths[b]:
                for j in range(H):
                    hs[t, b, j] = np.tanh(a[b, j] + xw[t, b, j])
            else:
                for j in range(H):
                    hs[t, b, j] = hprev[b, j]


@nb.njit(cache=True, nogil=True)
def _rnn_backward(dhs, w_hh, h0, lengths, hs, dxw, dw_hh, dh0):
    T, B, H = dhs.shape
    dh = np.zeros((B, H), dtype=dhs.dtype)
    back = np.empty((B, H), dtype=dhs.dtype)
    dw_hh[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        hprev = hs[t - 1] if t > 0 else h0
        da = dxw[t]
        for b in range(B):
            act = t < lengths[b]
            for j in range(H):
                g = dh[b, j] + dhs[t, b, j]
                if act:
                    y = hs[t, b, j]
                    da[b, j] = g * (1.0 - y * y)
                    dh[b, j] = 0.0
                else:
                    da[b, j] = 0.0
                    dh[b, j] = g
        dw_hh += np.dot(da.T, hprev)
        np.dot(da, w_hh, back)
        dh += back
    dh0[:, :] = dh


@nb.njit(cache=True, nogil=True)
def _gru_forward(xw, w_hh, b_hh, h0, lengths, hs, gates):
    T, B, H3 = xw.shape
    H = H3 // 3
    hw = np.empty((B, H3), dtype=xw.dtype)
    wt = w_hh.T
    for t in range(T):
        hprev = hs[t - 1] if t > 0 else h0
        np.dot(hprev, wt, hw)
        for b in range(B):
            act = t < lengths[b]
            for j in range(H):
                r = _sig(xw[t, b, j] + hw[b, j] + b_hh[j])
                z = _sig(xw[t, b, H + j] + hw[b, H + j] + b_hh[H + j])
                hn = hw[b, 2 * H + j] + b_hh[2 * H + j]
                n = np.tanh(xw[t, b, 2 * H + j] + r * hn)
                gates[t, b, j] = r
                gates[t, b, H + j] = z
                gates[t, b, 2 * H + j] = n
                gates[t, b, 3 * H + j] = hn
                hs[t, b, j] = (1.0 - z) * n + z * hprev[b, j] if act else hprev[b, j]


@nb.njit(cache=True, nogil=True)
def _gru_backward(dhs, w_hh, h0, lengths, hs, gates, dxw, dw_hh, db_hh, dh0):
    T, B, H = dhs.shape
    dh = np.zeros((B, H), dtype=dhs.dtype)
    dhw = np.empty((B, 3 * H), dtype=dhs.dtype)
    back = np.empty((B, H), dtype=dhs.dtype)
    dw_hh[:, :] = 0.0
    db_hh[:] = 0.0
    for t in range(T - 1, -1, -1):
        hprev = hs[t - 1] if t > 0 else h0
        for b in range(B):
            act = t < lengths[b]
            for j in range(H):
                g = dh[b, j] + dhs[t, b, j]
                if act:
                    r = gates[t, b, j]
                    z = gates[t, b, H + j]
                    n = gates[t, b, 2 * H + j]
                    hn = gates[t, b, 3 * H + j]
                    dan = g * (1.0 - z) * (1.0 - n * n)
                    dar = dan * hn * r * (1.0 - r)
                    daz = g * (hprev[b, j] - n) * z * (1.0 - z)
                    dxw[t, b, j] = dar
                    dxw[t, b, H + j] = daz
                    dxw[t, b, 2 * H + j] = dan
                    dhw[b, j] = dar
                    dhw[b, H + j] = daz
                    dhw[b, 2 * H + j] = dan * r
                    dh[b, j] = g * z
                else:
                    dxw[t, b, j] = 0.0
                    dxw[t, b, H + j] = 0.0
                    dxw[t, b, 2 * H + j] = 0.0
                    dhw[b, j] = 0.0
                    dhw[b, H + j] = 0.0
                    dhw[b, 2 * H + j] = 0.0
                    dh[b, j] = g
        dw_hh += np.dot(dhw.T, hprev)
        for b in range(B):
            for j in range(3 * H):
                db_hh[j] += dhw[b, j]
        np.dot(dhw, w_hh, back)
        dh += back
    dh0[:, :] = dh


@nb.njit(cache=True, nogil=True)
def _lstm_forward(xw, w_hh, h0, c0, lengths, hs, cs, gates):
    T, B, H4 = xw.shape
    H = H4 // 4
    a = np.empty((B, H4), dtype=xw.dtype)
    wt = w_hh.T
    for t in range(T):
        hprev = hs[t - 1] if t > 0 else h0
        cprev = cs[t - 1] if t > 0 else c0
        np.dot(hprev, wt, a)
        for b in range(B):
            act = t < lengths[b]
            for j in range(H):
                i = _sig(a[b, j] + xw[t, b, j])
                f = _sig(a[b, H + j] + xw[t, b, H + j])
                g = np.tanh(a[b, 2 * H + j] + xw[t, b, 2 * H + j])
                o = _sig(a[b, 3 * H + j] + xw[t, b, 3 * H + j])
                gates[t, b, j] = i
                gates[t, b, H + j] = f
                gates[t, b, 2 * H + j] = g
                gates[t, b, 3 * H + j] = o
                if act:
                    c = f * cprev[b, j] + i * g
                    cs[t, b, j] = c
                    hs[t, b, j] = o * np.tanh(c)
                else:
                    cs[t, b, j] = cprev[b, j]
                    hs[t, b, j] = hprev[b, j]


@nb.njit(cache=True, nogil=True)
def _lstm_backward(dhs, w_hh, h0, c0, lengths, hs, cs, gates, dxw, dw_hh, dh0, dc0):
    T, B, H = dhs.shape
    dh = np.zeros((B, H), dtype=dhs.dtype)
    dc = np.zeros((B, H), dtype=dhs.dtype)
    back = np.empty((B, H), dtype=dhs.dtype)
    dw_hh[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        hprev = hs[t - 1] if t > 0 else h0
        cprev = cs[t - 1] if t > 0 else c0
        da = dxw[t]
        for b in range(B):
            act = t < lengths[b]
            for j in range(H):
                g_h = dh[b, j] + dhs[t, b, j]
                if act:
                    i = gates[t, b, j]
                    f = gates[t, b, H + j]
                    g = gates[t, b, 2 * H + j]
                    o = gates[t, b, 3 * H + j]
                    tc = np.tanh(cs[t, b, j])
                    dcn = dc[b, j] + g_h * o * (1.0 - tc * tc)
                    da[b, j] = dcn * g * i * (1.0 - i)
                    da[b, H + j] = dcn * cprev[b, j] * f * (1.0 - f)
                    da[b, 2 * H + j] = dcn * i * (1.0 - g * g)
                    da[b, 3 * H + j] = g_h * tc * o * (1.0 - o)
                    dc[b, j] = dcn * f
                    dh[b, j] = 0.0
                else:
                    for k in range(4):
                        da[b, k * H + j] = 0.0
                    dh[b, j] = g_h
        dw_hh += np.dot(da.T, hprev)
        np.dot(da, w_hh, back)
        dh += back
    dh0[:, :] = dh
    dc0[:, :] = dc


def rnn_forward(xw, w_hh, h0, lengths, hs):
    """Numba twin of :func:`maaskit._kernels.reference.rnn.rnn_forward`."""
    _rnn_forward(xw, w_hh, h0, lengths, hs)


def rnn_backward(dhs, w_hh, h0, lengths, hs, dxw, dw_hh, dh0):
    """Numba twin of :func:`maaskit._kernels.reference.rnn.rnn_backward`."""
    _rnn_backward(dhs, w_hh, h0, lengths, hs, dxw, dw_hh, dh0)


def gru_forward(xw, w_hh, b_hh, h0, lengths, hs, gates):
    """Numba twin of :func:`maaskit._kernels.reference.rnn.gru_forward`."""
    _gru_forward(xw, w_hh, b_hh, h0, lengths, hs, gates)


def gru_backward(dhs, w_hh, h0, lengths, hs, gates, dxw, dw_hh, db_hh, dh0):
    """Numba twin of :func:`maaskit._kernels.reference.rnn.gru_backward`."""
    _gru_backward(dhs, w_hh, h0, lengths, hs, gates, dxw, dw_hh, db_hh, dh0)


def lstm_forward(xw, w_hh, h0, c0, lengths, hs, cs, gates):
    """Numba twin of :func:`maaskit._kernels.reference.rnn.lstm_forward`."""
    _lstm_forward(xw, w_hh, h0, c0, lengths, hs, cs, gates)


def lstm_backward(dhs, w_hh, h0, c0, lengths, hs, cs, gates, dxw, dw_hh, dh0, dc0):
    """Numba twin of :func:`maaskit._kernels.reference.rnn.lstm_backward`."""
    _lstm_backward(dhs, w_hh, h0, c0, lengths, hs, cs, gates, dxw, dw_hh, dh0, dc0)
