"""NumPy reference for the ``rnn`` kernel: Elman, GRU and LSTM cells through time (BPTT).

The oracle for the Numba kernel. Arrays are time-major and C-contiguous: ``xw`` is the input
projection ``x_t W_ih^T + b`` for every step, computed by the caller with one GEMM, so the
kernel holds only the recurrence. Gate layouts and equations follow ``torch.nn.RNN``,
``torch.nn.GRU`` (gates ``r, z, n``) and ``torch.nn.LSTM`` (gates ``i, f, g, o``):

* Elman: ``h_t = tanh(xw_t + h_{t-1} W_hh^T)`` (the hidden bias is folded into ``xw``).
* GRU: ``r, z = sigmoid(xw_{r,z} + (h W_hh^T + b_hh)_{r,z})``,
  ``n = tanh(xw_n + r * (h W_hn^T + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``.
* LSTM: ``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of ``xw_t + h_{t-1} W_hh^T``,
  ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

Variable-length batches: ``lengths[b]`` is the number of real steps of row ``b``; at steps
``t >= lengths[b]`` the state is carried unchanged, so ``hs[T - 1]`` holds every row's last
real hidden state and padded steps receive no gradient. Backward accumulates nothing: every
gradient output is overwritten.

Index safety: Token ids (when the layer embeds tokens) are gathered through the ``embedding``
kernel's contract: not checked here, reachable only through validated input and state (see that
kernel).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(x):
    # tanh form: no overflow (and so no RuntimeWarning) for large negative inputs.
    return 0.5 * np.tanh(0.5 * x) + 0.5


def rnn_forward(xw, w_hh, h0, lengths, hs):
    """Run an Elman (tanh) RNN through time.

    Parameters
    ----------
    xw : ndarray of shape (T, B, H)
        Input projections ``x_t W_ih^T + b_ih + b_hh``.
    w_hh : ndarray of shape (H, H)
        Recurrent weights.
    h0 : ndarray of shape (B, H)
        Initial hidden state.
    lengths : ndarray of shape (B,), dtype int64
        Real steps per row.
    hs : ndarray of shape (T, B, H)
        Written with the hidden states.
    """
    h = h0
    for t in range(xw.shape[0]):
        hn = np.tanh(xw[t] + h @ w_hh.T)
        active = (t < lengths)[:, None]
        h = np.where(active, hn, h)
        hs[t] = h


def rnn_backward(dhs, w_hh, h0, lengths, hs, dxw, dw_hh, dh0):
    """Backpropagate through :func:`rnn_forward`.

    Parameters
    ----------
    dhs : ndarray of shape (T, B, H)
        Gradient of the loss with respect to every hidden state ``hs``.
    w_hh, h0, lengths, hs : ndarray
        As in (and from) the forward pass.
    dxw : ndarray of shape (T, B, H)
        Overwritten with the gradient with respect to ``xw``.
    dw_hh : ndarray of shape (H, H)
        Overwritten with the gradient with respect to ``w_hh``.
    dh0 : ndarray of shape (B, H)
        Overwritten with the gradient with respect to ``h0``.
    """
    dh = np.zeros_like(h0)
    dw_hh[...] = 0
    for t in range(dhs.shape[0] - 1, -1, -1):
        dh = dh + dhs[t]
        active = (t < lengths)[:, None]
        da = np.where(active, dh * (1 - hs[t] * hs[t]), 0)
        dxw[t] = da
        hprev = hs[t - 1] if t > 0 else h0
        dw_hh += da.T @ hprev
        dh = da @ w_hh + np.where(active, 0, dh)
    dh0[...] = dh


def gru_forward(xw, w_hh, b_hh, h0, lengths, hs, gates):
    """Run a GRU through time.

    Parameters
    ----------
    xw : ndarray of shape (T, B, 3 * H)
        Input projections ``x_t W_ih^T + b_ih`` (gate order r, z, n).
    w_hh : ndarray of shape (3 * H, H)
        Recurrent weights.
    b_hh : ndarray of shape (3 * H,)
        Recurrent bias (kept apart: the ``n`` gate scales it by ``r``).
    h0 : ndarray of shape (B, H)
        Initial hidden state.
    lengths : ndarray of shape (B,), dtype int64
        Real steps per row.
    hs : ndarray of shape (T, B, H)
        Written with the hidden states.
    gates : ndarray of shape (T, B, 4 * H)
        Written with ``r, z, n`` and ``h W_hn^T + b_hn`` for the backward pass.
    """
    H = h0.shape[1]
    h = h0
    for t in range(xw.shape[0]):
        hw = h @ w_hh.T + b_hh
        r = _sigmoid(xw[t, :, :H] + hw[:, :H])
        z = _sigmoid(xw[t, :, H:2 * H] + hw[:, H:2 * H])
        n = np.tanh(xw[t, :, 2 * H:] + r * hw[:, 2 * H:])
        hn = (1 - z) * n + z * h
        gates[t] = np.concatenate([r, z, n, hw[:, 2 * H:]], axis=1)
        h = np.where((t < lengths)[:, None], hn, h)
        hs[t] = h


def gru_backward(dhs, w_hh, h0, lengths, hs, gates, dxw, dw_hh, db_hh, dh0):
    """Backpropagate through :func:`gru_forward`.

    Parameters
    ----------
    dhs : ndarray of shape (T, B, H)
        Gradient of the loss with respect to every hidden state.
    w_hh, h0, lengths, hs, gates : ndarray
        As in (and from) the forward pass.
    dxw : ndarray of shape (T, B, 3 * H)
        Overwritten with the gradient with respect to ``xw``.
    dw_hh : ndarray of shape (3 * H, H)
        Overwritten with the gradient with respect to ``w_hh``.
    db_hh : ndarray of shape (3 * H,)
        Overwritten with the gradient with respect to ``b_hh``.
    dh0 : ndarray of shape (B, H)
        Overwritten with the gradient with respect to ``h0``.
    """
    H = h0.shape[1]
    dh = np.zeros_like(h0)
    dw_hh[...] = 0
    db_hh[...] = 0
    for t in range(dhs.shape[0] - 1, -1, -1):
        dh = dh + dhs[t]
        active = (t < lengths)[:, None]
        r, z, n, hwn = (gates[t, :, i * H:(i + 1) * H] for i in range(4))
        hprev = hs[t - 1] if t > 0 else h0
        dn = dh * (1 - z)
        dz = dh * (hprev - n)
        dan = dn * (1 - n * n)
        dar = dan * hwn * r * (1 - r)
        daz = dz * z * (1 - z)
        dhw = np.concatenate([dar, daz, dan * r], axis=1)
        dhw = np.where(active, dhw, 0)
        dxw[t] = np.concatenate([dar, daz, dan], axis=1) * active
        dw_hh += dhw.T @ hprev
        db_hh += dhw.sum(axis=0)
        dh = np.where(active, dh * z, dh) + dhw @ w_hh
    dh0[...] = dh


def lstm_forward(xw, w_hh, h0, c0, lengths, hs, cs, gates):
    """Run an LSTM through time.

    Parameters
    ----------
    xw : ndarray of shape (T, B, 4 * H)
        Input projections ``x_t W_ih^T + b_ih + b_hh`` (gate order i, f, g, o).
    w_hh : ndarray of shape (4 * H, H)
        Recurrent weights.
    h0, c0 : ndarray of shape (B, H)
        Initial hidden and cell state.
    lengths : ndarray of shape (B,), dtype int64
        Real steps per row.
    hs, cs : ndarray of shape (T, B, H)
        Written with the hidden and cell states.
    gates : ndarray of shape (T, B, 4 * H)
        Written with the activated gates ``i, f, g, o`` for the backward pass.
    """
    H = h0.shape[1]
    h, c = h0, c0
    for t in range(xw.shape[0]):
        a = xw[t] + h @ w_hh.T
        i = _sigmoid(a[:, :H])
        f = _sigmoid(a[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        o = _sigmoid(a[:, 3 * H:])
        cn = f * c + i * g
        hn = o * np.tanh(cn)
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        active = (t < lengths)[:, None]
        h = np.where(active, hn, h)
        c = np.where(active, cn, c)
        hs[t] = h
        cs[t] = c


def lstm_backward(dhs, w_hh, h0, c0, lengths, hs, cs, gates, dxw, dw_hh, dh0, dc0):
    """Backpropagate through :func:`lstm_forward`.

    Parameters
    ----------
    dhs : ndarray of shape (T, B, H)
        Gradient of the loss with respect to every hidden state.
    w_hh, h0, c0, lengths, hs, cs, gates : ndarray
        As in (and from) the forward pass.
    dxw : ndarray of shape (T, B, 4 * H)
        Overwritten with the gradient with respect to ``xw``.
    dw_hh : ndarray of shape (4 * H, H)
        Overwritten with the gradient with respect to ``w_hh``.
    dh0, dc0 : ndarray of shape (B, H)
        Overwritten with the gradients with respect to ``h0`` and ``c0``.
    """
    H = h0.shape[1]
    dh = np.zeros_like(h0)
    dc = np.zeros_like(c0)
    dw_hh[...] = 0
    for t in range(dhs.shape[0] - 1, -1, -1):
        dh = dh + dhs[t]
        active = (t < lengths)[:, None]
        i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        hprev = hs[t - 1] if t > 0 else h0
        cprev = cs[t - 1] if t > 0 else c0
        tc = np.tanh(cs[t])
        dcn = dc + dh * o * (1 - tc * tc)
        da = np.concatenate(
            [dcn * g * i * (1 - i), dcn * cprev * f * (1 - f), dcn * i * (1 - g * g),
             dh * tc * o * (1 - o)], axis=1)
        da = np.where(active, da, 0)
        dxw[t] = da
        dw_hh += da.T @ hprev
        dc = np.where(active, dcn * f, dc)
        dh = np.where(active, 0, dh) + da @ w_hh
    dh0[...] = dh
    dc0[...] = dc
