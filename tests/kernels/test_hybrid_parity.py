"""The hybrid kernel: Numba and Cython against the NumPy reference, and its gradient."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from maaskit._backend import get_kernel, has_backend
from maaskit._kernels.reference import hybrid as ref

TOL = {np.float32: dict(rtol=2e-3, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-12)}
LOSSES = (ref.LOSS_WARP, ref.LOSS_BPR, ref.LOSS_SQUARED)


def _feature_csr(rng, n_rows, n_ids, n_extra, dtype):
    # identity for the first n_ids rows, plus one or two of n_extra shared features
    rows, cols, vals = [], [], []
    for r in range(n_rows):
        if r < n_ids:
            rows.append(r), cols.append(r), vals.append(1.0)
        for c in rng.choice(n_extra, rng.randint(1, 3), replace=False):
            rows.append(r), cols.append(n_ids + c), vals.append(rng.uniform(0.5, 1.5))
    m = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, n_ids + n_extra), dtype=dtype)
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(dtype), m.shape[1]


def _problem(dtype, n_users=12, n_items=10, k=4, seed=0):
    rng = np.random.RandomState(seed)
    uf = _feature_csr(rng, n_users, n_users - 2, 3, dtype)
    itf = _feature_csr(rng, n_items, n_items - 3, 4, dtype)
    R = sp.random(n_users - 2, n_items - 3, density=0.3, format="csr", random_state=rng)
    R.resize((n_users, n_items))
    R.sort_indices()
    coo = R.tocoo()
    row_of, col_of = coo.row.astype(np.int32), coo.col.astype(np.int32)
    values = rng.randn(len(row_of)).astype(dtype)
    pool = np.arange(n_items - 3, dtype=np.int32)
    params = [((rng.rand(uf[3], k) - 0.5) / k).astype(dtype), np.zeros(uf[3], dtype),
              ((rng.rand(itf[3], k) - 0.5) / k).astype(dtype), (rng.randn(itf[3]) * 0.1).astype(dtype)]
    accs = [np.ones_like(p) for p in params]
    data = (uf[:3], itf[:3], row_of, col_of, values, R.indptr.astype(np.int64),
            R.indices.astype(np.int32), pool)
    return data, params, accs


def _run(backend, loss, dtype, n_threads=1, epochs=3):
    data, params, accs = _problem(dtype)
    (uf, itf, row_of, col_of, values, sip, sid, pool) = data
    kern = get_kernel("hybrid", backend)
    stats = np.zeros(2, np.int64)
    all_stats = []
    for e in range(epochs):
        kern.hybrid_epoch(loss, *uf, *itf, row_of, col_of, values, sip, sid, pool, *params, *accs,
                          0.1, 0.01, 0.02, 5, 2**63 + 99 + e, len(row_of), n_threads, stats)
        all_stats.append(stats.copy())
    return params, accs, np.array(all_stats)


@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES)
def test_epoch_matches_reference(backend, dtype, loss):
    if not has_backend("hybrid", backend):
        pytest.fail(f"backend {backend} does not provide the hybrid kernel")
    pr, ar, sr = _run("numpy", loss, dtype)
    pk, ak, sk = _run(backend, loss, dtype)
    for a, b in zip(pk + ak, pr + ar):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    np.testing.assert_array_equal(sk, sr)
    # the epochs did something
    p0 = _problem(dtype)[1]
    assert not np.allclose(pk[2], p0[2])


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_two_threads_stay_finite_and_count_every_sample(backend):
    pk, _, sk = _run(backend, ref.LOSS_WARP, np.float32, n_threads=2)
    _, _, sr = _run("numpy", ref.LOSS_WARP, np.float32, n_threads=2)
    assert all(np.isfinite(p).all() for p in pk)
    # skips depend only on the draws, which Hogwild races cannot change
    np.testing.assert_array_equal(sk[:, 1], sr[:, 1])


def _rows():
    user_row = (np.array([0, 3]), np.array([1.0, 0.7]))
    item_row = (np.array([1, 4]), np.array([1.0, 0.5]))
    neg_row = (np.array([2, 5]), np.array([1.0, 1.2]))
    return user_row, item_row, neg_row


@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_matches_finite_differences(loss):
    rng = np.random.RandomState(1)
    Eu, Bu, Ei, Bi = rng.randn(5, 3), rng.randn(5), rng.randn(7, 3), rng.randn(7)
    args = (loss, *_rows())
    kw = dict(value=0.3, weight=1.7, user_alpha=0.05, item_alpha=0.02)
    grads = ref.example_gradient(*args, Eu, Bu, Ei, Bi, **kw)
    eps = 1e-6
    for p_idx, (P, G) in enumerate(zip((Eu, Bu, Ei, Bi), grads)):
        num = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            saved = P[idx]
            P[idx] = saved + eps
            hi = ref.example_loss(*args, Eu, Bu, Ei, Bi, **kw)
            P[idx] = saved - eps
            lo = ref.example_loss(*args, Eu, Bu, Ei, Bi, **kw)
            P[idx] = saved
            num[idx] = (hi - lo) / (2 * eps)
        np.testing.assert_allclose(G, num, rtol=1e-6, atol=1e-8, err_msg=f"parameter {p_idx}")


@pytest.mark.parametrize("loss", (ref.LOSS_BPR, ref.LOSS_SQUARED))
def test_one_kernel_step_is_an_adagrad_step_on_the_gradient(loss):
    # One interaction (user 0, item 0), one possible negative (item 1): the kernel's step must
    # be theta - lr * g / sqrt(1 + g^2) with g the example's gradient.
    user_row, item_row, neg_row = _rows()
    rng = np.random.RandomState(2)
    Eu, Bu, Ei, Bi = rng.randn(5, 3), rng.randn(5), rng.randn(7, 3), rng.randn(7)
    if loss != ref.LOSS_SQUARED:
        Bu[:] = 0
    u = sp.csr_matrix((user_row[1], user_row[0], [0, 2]), shape=(1, 5))
    it = sp.csr_matrix((np.r_[item_row[1], neg_row[1]], np.r_[item_row[0], neg_row[0]], [0, 2, 4]),
                       shape=(2, 7))
    lr, ua, ia = 0.01, 0.05, 0.02
    g = ref.example_gradient(loss, user_row, item_row, neg_row, Eu, Bu, Ei, Bi, value=0.3,
                             user_alpha=ua, item_alpha=ia)
    for backend in ("numpy", "numba", "cython"):
        P = [a.copy() for a in (Eu, Bu, Ei, Bi)]
        A = [np.ones_like(a) for a in P]
        get_kernel("hybrid", backend).hybrid_epoch(
            loss, u.indptr.astype(np.int64), u.indices.astype(np.int32), u.data,
            it.indptr.astype(np.int64), it.indices.astype(np.int32), it.data,
            np.zeros(1, np.int32), np.zeros(1, np.int32), np.array([0.3]),
            np.array([0, 1], np.int64), np.zeros(1, np.int32), np.array([1], np.int32),
            *P, *A, lr, ua, ia, 1, 5, 1, 1, np.zeros(2, np.int64))
        for p0, p1, gk in zip((Eu, Bu, Ei, Bi), P, g):
            np.testing.assert_allclose(p1, p0 - lr * gk / np.sqrt(1 + gk ** 2), rtol=1e-10, atol=1e-12,
                                       err_msg=backend)
