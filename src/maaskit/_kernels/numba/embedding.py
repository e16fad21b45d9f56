"""Numba ``embedding`` kernel: row gather and scatter-add gradient.

Same contract as :mod:`maaskit._kernels.reference.embedding`. The gather runs in parallel
over rows when it is large; the scatter-add is serial, because repeated ids would race, and it is a single
pass over ``dout`` (``np.add.at`` is several times slower).

Index safety: ``ids`` come from data and are not checked here. They are reachable only through
validated input and state: token sequences are checked non-negative, ids past the vocabulary
are mapped to the out-of-vocabulary row, padding never reaches the gather, and a loaded table
is checked to have ``vocab_size_ + 1`` rows (``maaskit._schema.Net`` and the sequence-model
rules).
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True, nogil=True, parallel=True)
def _forward_parallel(ids, weight, out):
    N, E = out.shape
    for n in nb.prange(N):
        row = ids[n]
        for e in range(E):
            out[n, e] = weight[row, e]


@nb.njit(cache=True, nogil=True)
def _forward_serial(ids, weight, out):
    N, E = out.shape
    for n in range(N):
        row = ids[n]
        for e in range(E):
            out[n, e] = weight[row, e]


#: Below this many values the gather runs on one thread (a parallel region costs more).
PARALLEL_MIN_SIZE = 1 << 18


@nb.njit(cache=True, nogil=True)
def _backward(ids, dout, dweight):
    dweight[:, :] = 0.0
    N, E = dout.shape
    for n in range(N):
        row = ids[n]
        for e in range(E):
            dweight[row, e] += dout[n, e]


def embedding_forward(ids, weight, out):
    """Numba twin of :func:`maaskit._kernels.reference.embedding.embedding_forward`."""
    fn = _forward_parallel if out.size >= PARALLEL_MIN_SIZE else _forward_serial
    fn(ids, weight, out)


def embedding_backward(ids, dout, dweight):
    """Numba twin of :func:`maaskit._kernels.reference.embedding.embedding_backward`."""
    _backward(ids, dout, dweight)
