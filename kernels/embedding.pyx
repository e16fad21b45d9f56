# cython: language_level=3
"""Cython ``embedding`` kernel: row gather and scatter-add gradient.

Same contract as ``maaskit._kernels.reference.embedding``. Both loops release the GIL; the
gather runs rows in parallel when it is large, the scatter-add is serial (repeated ids would
race) and is one pass over ``dout``.

Index safety: ``ids`` come from data and are not checked here. They are reachable only through
validated input and state: token sequences are checked non-negative, ids past the vocabulary
are mapped to the out-of-vocabulary row, padding never reaches the gather, and a loaded table
is checked to have ``vocab_size_ + 1`` rows (``maaskit._schema.Net`` and the sequence-model
rules).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

cdef enum:
    PARALLEL_MIN_SIZE = 262144


def embedding_forward(const long long[::1] ids, const floating[:, ::1] weight,
                      floating[:, ::1] out):
    """Cython twin of ``maaskit._kernels.reference.embedding.embedding_forward``."""
    cdef Py_ssize_t N = out.shape[0], E = out.shape[1], n
    cdef bint par = N * E >= PARALLEL_MIN_SIZE
    if N == 0 or E == 0:
        return
    for n in prange(N, nogil=True, schedule="static", use_threads_if=par):
        memcpy(&out[n, 0], &weight[ids[n], 0], E * sizeof(floating))


def embedding_backward(const long long[::1] ids, const floating[:, ::1] dout,
                       floating[:, ::1] dweight):
    """Cython twin of ``maaskit._kernels.reference.embedding.embedding_backward``."""
    cdef Py_ssize_t N = dout.shape[0], E = dout.shape[1], V = dweight.shape[0], n, e, row
    if V == 0 or E == 0:
        return
    with nogil:
        memset(&dweight[0, 0], 0, V * E * sizeof(floating))
        for n in range(N):
            row = ids[n]
            for e in range(E):
                dweight[row, e] += dout[n, e]
