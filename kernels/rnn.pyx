# cython: language_level=3
"""Cython ``rnn`` kernel: Elman, GRU and LSTM cells through time with BPTT.

Same contract as ``maaskit._kernels.reference.rnn`` (time-major, C-contiguous, the input
projection done by the caller, every gradient output overwritten). The whole time loop runs
without the GIL. The per-step ``h_{t-1} W_hh^T`` and ``da_t W_hh`` products go to BLAS
(scipy's cython_blas) and write straight into the output arrays (``hs[t]``, ``gates[t]``,
``dh0``), so the forward pass needs no scratch memory. The weight gradient does not depend on
the recurrence, so it is not summed step by step: the step gradients are all kept in ``dxw``
(or one scratch array for the GRU, whose ``n`` gate scales them by ``r``), and ``dW_hh`` is
two large GEMMs after the loop (``da_0^T h0 + da_{1:}^T hs_{:-1}``), which BLAS runs far
faster than ``T`` thin ones. The gate maths is written as one short loop per gate so that GCC
vectorises it; in float32 tanh (and the sigmoid built on it) is a clamped rational polynomial
within a few ulp, in float64 it is libm's. The per-step GEMMs are small: OpenBLAS threading
costs more than it gives there, so callers may want to hold BLAS to one thread around a fit.

Index safety: Token ids (when the layer embeds tokens) are gathered through the ``embedding``
kernel's contract: not checked here, reachable only through validated input and state (see that
kernel).
"""

from cython cimport floating
from libc.math cimport tanh
from libc.string cimport memcpy, memset
from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport malloc, free
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef inline void gemm_rm(char ta, char tb, int m, int n, int k, const floating* A, int lda,
                         const floating* B, int ldb, floating beta, floating* C,
                         int ldc) noexcept nogil:
    """Row-major C = op(A) @ op(B) + beta C through column-major BLAS: C^T = op(B)^T op(A)^T."""
    cdef floating one = 1
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, <float*>B, &ldb, <float*>A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, <double*>B, &ldb, <double*>A, &lda, &beta, C, &ldc)


cdef inline float _tanhf(float x) noexcept nogil:
    """tanh for float32 as a clamped 13/6 rational polynomial (Eigen's fast tanh).

    Pure arithmetic, so GCC vectorises the gate loops around it (a libm call would not be):
    within ~6 ulp of the exact tanh, far inside float32 training noise. The clamp to
    [-lim, lim] works on the bit pattern: a float compare-and-select is not if-converted
    (so not vectorised) under GCC's default -ftrapping-math, an integer one is. NaN
    (magnitude bits above those of inf) is left alone, so it propagates.
    """
    cdef float lim = 7.90531110763549805, x2, p, q  # tanh(lim) rounds to 1.0f
    cdef uint32_t u, a, lb
    memcpy(&u, &x, 4)
    memcpy(&lb, &lim, 4)
    a = u & 0x7fffffffu
    a = lb if (a > lb) & (a <= 0x7f800000u) else a
    u = (u & 0x80000000u) | a
    memcpy(&x, &u, 4)
    x2 = x * x
    p = x2 * <float>-2.76076847742355e-16 + <float>2.00018790482477e-13
    p = x2 * p + <float>-8.60467152213735e-11
    p = x2 * p + <float>5.12229709037114e-08
    p = x2 * p + <float>1.48572235717979e-05
    p = x2 * p + <float>6.37261928875436e-04
    p = x2 * p + <float>4.89352455891786e-03
    q = x2 * <float>1.19825839466702e-06 + <float>1.18534705686654e-04
    q = x2 * q + <float>2.26843463243900e-03
    q = x2 * q + <float>4.89352518554385e-03
    return x * p / q


cdef inline floating _tanh(floating x) noexcept nogil:
    # float64 keeps libm's tanh: the polynomial is only float32-accurate
    if floating is float:
        return _tanhf(x)
    else:
        return tanh(x)


cdef inline floating _sig(floating x) noexcept nogil:
    # tanh form, as in the reference: no overflow for large negative inputs
    cdef floating half = 0.5
    return half * _tanh(half * x) + half


cdef void _weight_grad(const floating* da, int G, const floating* h0, const floating* hs,
                       int T, int B, int H, floating* dw) noexcept nogil:
    """dw (G, H) = da[0]^T h0 + da[1:]^T hs[:-1], with ``da`` of shape (T, B, G)."""
    gemm_rm(c'T', c'N', G, H, B, da, G, h0, H, 0, dw, H)
    if T > 1:
        gemm_rm(c'T', c'N', G, H, (T - 1) * B, da + <Py_ssize_t>B * G, G, hs, H, 1, dw, H)


def rnn_forward(const floating[:, :, ::1] xw, const floating[:, ::1] w_hh,
                const floating[:, ::1] h0, const int64_t[::1] lengths,
                floating[:, :, ::1] hs):
    """Cython twin of ``maaskit._kernels.reference.rnn.rnn_forward``."""
    cdef int T = xw.shape[0], B = xw.shape[1], H = xw.shape[2], t, b, j
    cdef const floating* hp
    cdef const floating* x
    cdef floating* h
    if T == 0 or B == 0 or H == 0:
        return
    with nogil:
        for t in range(T):
            hp = <const floating*>&h0[0, 0]
            if t > 0:
                hp = &hs[t - 1, 0, 0]
            h = &hs[t, 0, 0]
            gemm_rm(c'N', c'T', B, H, H, hp, H, &w_hh[0, 0], H, 0, h, H)
            for b in range(B):
                x = &xw[t, b, 0]
                if t < lengths[b]:
                    for j in range(H):
                        h[b * H + j] = _tanh(h[b * H + j] + x[j])
                else:
                    memcpy(h + <Py_ssize_t>b * H, hp + <Py_ssize_t>b * H, H * sizeof(floating))


def rnn_backward(const floating[:, :, ::1] dhs, const floating[:, ::1] w_hh,
                 const floating[:, ::1] h0, const int64_t[::1] lengths,
                 const floating[:, :, ::1] hs, floating[:, :, ::1] dxw,
                 floating[:, ::1] dw_hh, floating[:, ::1] dh0):
    """Cython twin of ``maaskit._kernels.reference.rnn.rnn_backward``."""
    cdef int T = dhs.shape[0], B = dhs.shape[1], H = dhs.shape[2], t, b, j
    cdef Py_ssize_t o
    cdef floating g, y, one = 1  # typed: a bare 1 becomes a double 1.0 in C
    cdef floating* da
    cdef floating* dh
    dw_hh[:, :] = 0
    dh0[:, :] = 0
    if T == 0 or B == 0 or H == 0:
        return
    with nogil:
        dh = &dh0[0, 0]  # dh0 is the running dL/dh_t and ends as dL/dh0
        for t in range(T - 1, -1, -1):
            da = &dxw[t, 0, 0]
            for b in range(B):
                o = <Py_ssize_t>b * H
                if t < lengths[b]:
                    for j in range(H):
                        g = dh[o + j] + dhs[t, b, j]
                        y = hs[t, b, j]
                        da[o + j] = g * (one - y * y)
                        dh[o + j] = 0
                else:
                    for j in range(H):
                        da[o + j] = 0
                        dh[o + j] = dh[o + j] + dhs[t, b, j]
            gemm_rm(c'N', c'N', B, H, H, da, H, &w_hh[0, 0], H, 1, dh, H)
        _weight_grad(&dxw[0, 0, 0], H, &h0[0, 0], &hs[0, 0, 0], T, B, H, &dw_hh[0, 0])


def gru_forward(const floating[:, :, ::1] xw, const floating[:, ::1] w_hh,
                const floating[::1] b_hh, const floating[:, ::1] h0,
                const int64_t[::1] lengths, floating[:, :, ::1] hs,
                floating[:, :, ::1] gates):
    """Cython twin of ``maaskit._kernels.reference.rnn.gru_forward``."""
    cdef int T = xw.shape[0], B = xw.shape[1], H = h0.shape[1], t, b, j
    cdef Py_ssize_t o
    cdef floating z, hn, one = 1  # typed: a bare 1 becomes a double 1.0 in C
    cdef const floating* hp
    cdef const floating* x
    cdef const floating* bh
    cdef floating* gp
    cdef floating* h
    if T == 0 or B == 0 or H == 0:
        return
    with nogil:
        bh = &b_hh[0]
        for t in range(T):
            hp = <const floating*>&h0[0, 0]
            if t > 0:
                hp = &hs[t - 1, 0, 0]
            # h W_hh^T (B, 3H) lands in the first 3H columns of gates[t] and is activated in
            # place: column j of each gate is read and written by iteration j only
            gemm_rm(c'N', c'T', B, 3 * H, H, hp, H, &w_hh[0, 0], H, 0, &gates[t, 0, 0], 4 * H)
            for b in range(B):
                o = <Py_ssize_t>b * H
                x = &xw[t, b, 0]
                gp = &gates[t, b, 0]
                h = &hs[t, b, 0]
                # one simple loop per gate, so that the compiler vectorises each of them
                for j in range(2 * H):  # r, z
                    gp[j] = _sig(gp[j] + x[j] + bh[j])
                for j in range(H):  # n, and h W_hn^T + b_hn kept for the backward pass
                    hn = gp[2 * H + j] + bh[2 * H + j]
                    gp[3 * H + j] = hn
                    gp[2 * H + j] = _tanh(x[2 * H + j] + gp[j] * hn)
                if t < lengths[b]:
                    for j in range(H):
                        z = gp[H + j]
                        h[j] = (one - z) * gp[2 * H + j] + z * hp[o + j]
                else:
                    memcpy(h, hp + o, H * sizeof(floating))


def gru_backward(const floating[:, :, ::1] dhs, const floating[:, ::1] w_hh,
                 const floating[:, ::1] h0, const int64_t[::1] lengths,
                 const floating[:, :, ::1] hs, const floating[:, :, ::1] gates,
                 floating[:, :, ::1] dxw, floating[:, ::1] dw_hh, floating[::1] db_hh,
                 floating[:, ::1] dh0):
    """Cython twin of ``maaskit._kernels.reference.rnn.gru_backward``."""
    cdef int T = dhs.shape[0], B = dhs.shape[1], H = dhs.shape[2], t, b, j
    cdef Py_ssize_t o, rows
    cdef floating r, z, n, one = 1  # typed: a bare 1 is a C double
    cdef const floating* hp
    cdef const floating* gp
    cdef const floating* dy
    cdef floating* dx
    cdef floating* dw
    cdef floating* dh
    cdef floating* dhb
    cdef floating* dhw
    dw_hh[:, :] = 0
    db_hh[:] = 0
    dh0[:, :] = 0
    if T == 0 or B == 0 or H == 0:
        return
    rows = <Py_ssize_t>T * B
    # dL/d(h W_hh^T + b_hh) for every step: differs from dxw in the n gate (scaled by r)
    dhw = <floating*>malloc(rows * 3 * H * sizeof(floating))
    if dhw == NULL:
        raise MemoryError()
    with nogil:
        dh = &dh0[0, 0]
        for t in range(T - 1, -1, -1):
            hp = <const floating*>&h0[0, 0]
            if t > 0:
                hp = &hs[t - 1, 0, 0]
            for b in range(B):
                o = <Py_ssize_t>b * H
                gp = &gates[t, b, 0]
                dy = &dhs[t, b, 0]
                dx = &dxw[t, b, 0]
                dw = dhw + (<Py_ssize_t>t * B + b) * 3 * H
                dhb = dh + o
                for j in range(H):  # dL/dh_t, kept in dh
                    dhb[j] = dhb[j] + dy[j]
                if t < lengths[b]:
                    # one short loop per output: a single loop over all these arrays needs
                    # more runtime alias checks than GCC will version for, and stays scalar
                    for j in range(H):  # n gate
                        z = gp[H + j]
                        n = gp[2 * H + j]
                        dx[2 * H + j] = dhb[j] * (one - z) * (one - n * n)
                    for j in range(H):  # r gate
                        r = gp[j]
                        dx[j] = dx[2 * H + j] * gp[3 * H + j] * r * (one - r)
                    for j in range(H):  # z gate
                        z = gp[H + j]
                        dx[H + j] = dhb[j] * (hp[o + j] - gp[2 * H + j]) * z * (one - z)
                    for j in range(H):  # the direct path h_{t-1} -> h_t
                        dhb[j] = dhb[j] * gp[H + j]
                    memcpy(dw, dx, 2 * H * sizeof(floating))
                    for j in range(H):
                        dw[2 * H + j] = dx[2 * H + j] * gp[j]
                else:
                    memset(dx, 0, 3 * H * sizeof(floating))
                    memset(dw, 0, 3 * H * sizeof(floating))
            gemm_rm(c'N', c'N', B, H, 3 * H, dhw + <Py_ssize_t>t * B * 3 * H, 3 * H,
                    &w_hh[0, 0], H, 1, dh, H)
        _weight_grad(dhw, 3 * H, &h0[0, 0], &hs[0, 0, 0], T, B, H, &dw_hh[0, 0])
        for o in range(rows):
            dw = dhw + o * 3 * H
            for j in range(3 * H):
                db_hh[j] += dw[j]
    free(dhw)


def lstm_forward(const floating[:, :, ::1] xw, const floating[:, ::1] w_hh,
                 const floating[:, ::1] h0, const floating[:, ::1] c0,
                 const int64_t[::1] lengths, floating[:, :, ::1] hs, floating[:, :, ::1] cs,
                 floating[:, :, ::1] gates):
    """Cython twin of ``maaskit._kernels.reference.rnn.lstm_forward``."""
    cdef int T = xw.shape[0], B = xw.shape[1], H = h0.shape[1], t, b, j
    cdef Py_ssize_t o
    cdef const floating* hp
    cdef const floating* cp
    cdef const floating* x
    cdef floating* gp
    cdef floating* c
    cdef floating* h
    if T == 0 or B == 0 or H == 0:
        return
    with nogil:
        for t in range(T):
            hp = <const floating*>&h0[0, 0]
            if t > 0:
                hp = &hs[t - 1, 0, 0]
            cp = <const floating*>&c0[0, 0]
            if t > 0:
                cp = &cs[t - 1, 0, 0]
            # the pre-activations land in gates[t] and are activated in place
            gemm_rm(c'N', c'T', B, 4 * H, H, hp, H, &w_hh[0, 0], H, 0, &gates[t, 0, 0], 4 * H)
            for b in range(B):
                o = <Py_ssize_t>b * H
                x = &xw[t, b, 0]
                gp = &gates[t, b, 0]
                # one simple loop per gate, so that the compiler vectorises each of them
                for j in range(2 * H):  # i, f
                    gp[j] = _sig(gp[j] + x[j])
                for j in range(2 * H, 3 * H):  # g
                    gp[j] = _tanh(gp[j] + x[j])
                for j in range(3 * H, 4 * H):  # o
                    gp[j] = _sig(gp[j] + x[j])
                c = &cs[t, b, 0]
                h = &hs[t, b, 0]
                if t < lengths[b]:
                    # two loops: one would need too many runtime alias checks to vectorise
                    for j in range(H):
                        c[j] = gp[H + j] * cp[o + j] + gp[j] * gp[2 * H + j]
                    for j in range(H):
                        h[j] = gp[3 * H + j] * _tanh(c[j])
                else:
                    memcpy(c, cp + o, H * sizeof(floating))
                    memcpy(h, hp + o, H * sizeof(floating))


def lstm_backward(const floating[:, :, ::1] dhs, const floating[:, ::1] w_hh,
                  const floating[:, ::1] h0, const floating[:, ::1] c0,
                  const int64_t[::1] lengths, const floating[:, :, ::1] hs,
                  const floating[:, :, ::1] cs, const floating[:, :, ::1] gates,
                  floating[:, :, ::1] dxw, floating[:, ::1] dw_hh, floating[:, ::1] dh0,
                  floating[:, ::1] dc0):
    """Cython twin of ``maaskit._kernels.reference.rnn.lstm_backward``."""
    cdef int T = dhs.shape[0], B = dhs.shape[1], H = dhs.shape[2], t, b, j
    cdef Py_ssize_t o
    cdef floating i, f, g, og, tc, one = 1  # typed: a bare 1 is a C double
    cdef const floating* cp
    cdef const floating* gp
    cdef const floating* dy
    cdef const floating* ct
    cdef floating* da
    cdef floating* dh
    cdef floating* dc
    cdef floating* dhb
    cdef floating* dcb
    dw_hh[:, :] = 0
    dh0[:, :] = 0
    dc0[:, :] = 0
    if T == 0 or B == 0 or H == 0:
        return
    with nogil:
        dh = &dh0[0, 0]  # running dL/dh_t and dL/dc_t; they end as dL/dh0 and dL/dc0
        dc = &dc0[0, 0]
        for t in range(T - 1, -1, -1):
            cp = <const floating*>&c0[0, 0]
            if t > 0:
                cp = &cs[t - 1, 0, 0]
            for b in range(B):
                o = <Py_ssize_t>b * H
                gp = &gates[t, b, 0]
                dy = &dhs[t, b, 0]
                ct = &cs[t, b, 0]
                da = &dxw[t, b, 0]
                dhb = dh + o
                dcb = dc + o
                for j in range(H):  # dL/dh_t, kept in dh
                    dhb[j] = dhb[j] + dy[j]
                if t < lengths[b]:
                    # one short loop per output: a single loop over all these arrays needs
                    # more runtime alias checks than GCC will version for, and stays scalar
                    for j in range(H):  # o gate; tanh(c_t) parked in the i-gate slot
                        tc = _tanh(ct[j])
                        og = gp[3 * H + j]
                        da[3 * H + j] = dhb[j] * tc * og * (one - og)
                        da[j] = tc
                    for j in range(H):  # dL/dc_t, kept in dc
                        tc = da[j]
                        dcb[j] = dcb[j] + dhb[j] * gp[3 * H + j] * (one - tc * tc)
                    for j in range(H):  # i gate
                        i = gp[j]
                        da[j] = dcb[j] * gp[2 * H + j] * i * (one - i)
                    for j in range(H):  # f gate
                        f = gp[H + j]
                        da[H + j] = dcb[j] * cp[o + j] * f * (one - f)
                    for j in range(H):  # g gate
                        g = gp[2 * H + j]
                        da[2 * H + j] = dcb[j] * gp[j] * (one - g * g)
                    for j in range(H):  # on to c_{t-1}; h_{t-1} gets only the W_hh path
                        dcb[j] = dcb[j] * gp[H + j]
                    memset(dhb, 0, H * sizeof(floating))
                else:
                    memset(da, 0, 4 * H * sizeof(floating))
            gemm_rm(c'N', c'N', B, H, 4 * H, &dxw[t, 0, 0], 4 * H, &w_hh[0, 0], H, 1, dh, H)
        _weight_grad(&dxw[0, 0, 0], 4 * H, &h0[0, 0], &hs[0, 0, 0], T, B, H, &dw_hh[0, 0])
