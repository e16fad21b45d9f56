"""The torch twins of the als and topk kernels against the NumPy reference.

They run on CPU torch here; the same code runs on CUDA, and the CUDA cases are collected only
where a GPU is present.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from maaskit._backend import has_cuda
from maaskit._kernels.reference import als as ref_als
from maaskit._kernels.reference import topk as ref_topk

torch = pytest.importorskip("torch")
from maaskit._kernels.torch import als as t_als  # noqa: E402
from maaskit._kernels.torch import topk as t_topk  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if has_cuda() else [])
TOL = {np.float32: dict(rtol=2e-3, atol=2e-4), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _problem(dtype, n_rows=40, n_cols=30, k=6, seed=0):
    rng = np.random.RandomState(seed)
    R = sp.random(n_rows, n_cols, density=0.2, format="lil", random_state=rng, dtype=np.float32)
    R.rows[3], R.data[3] = [], []  # an empty row must give zeros
    R = R.tocsr()
    R.data = np.ceil(R.data * 5).astype(np.float32)
    R.sort_indices()
    X = rng.rand(n_rows, k).astype(dtype)
    Y = rng.rand(n_cols, k).astype(dtype)
    G = (Y.T @ Y + 0.1 * np.eye(k)).astype(dtype)
    return R.indptr.astype(np.int64), R.indices.astype(np.int32), R.data, X, Y, G


def _t(a, device):
    a = np.asarray(a)
    if a.dtype == np.int32:
        a = a.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cg_steps", [1, 3, 8])
def test_cg_matches_reference(device, dtype, cg_steps):
    indptr, indices, data, X, Y, G = _problem(dtype)
    Xr = X.copy()
    ref_als.least_squares_cg(indptr, indices, data, Xr, Y, G, 2.0, cg_steps)
    Xt = _t(X, device)
    t_als.least_squares_cg(_t(indptr, device), _t(indices, device), _t(data, device), Xt,
                           _t(Y, device), _t(G, device), 2.0, cg_steps)
    np.testing.assert_allclose(Xt.cpu().numpy(), Xr, **TOL[dtype])
    assert np.all(Xt.cpu().numpy()[3] == 0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_matches_reference_and_solves_normal_equations(device, dtype, monkeypatch):
    # A tiny block budget forces several row blocks, so the block bookkeeping is exercised.
    monkeypatch.setattr(t_als, "_CHOLESKY_BLOCK", 6 * 6 * 7)
    indptr, indices, data, X, Y, G = _problem(dtype)
    Xr = X.copy()
    ref_als.least_squares(indptr, indices, data, Xr, Y, G, 2.0)
    Xt = _t(X, device)
    t_als.least_squares(_t(indptr, device), _t(indices, device), _t(data, device), Xt,
                        _t(Y, device), _t(G, device), 2.0)
    got = Xt.cpu().numpy()
    np.testing.assert_allclose(got, Xr, **TOL[dtype])
    for u in (0, 5, 17):
        A, b = ref_als._row_system(indptr, indices, data, Y, G, 2.0, u)
        np.testing.assert_allclose(A @ got[u].astype(np.float64), b,
                                   rtol=1e-3 if dtype == np.float32 else 1e-8, atol=1e-3)


def test_cg_reaches_the_exact_solution():
    indptr, indices, data, X, Y, G = _problem(np.float64, k=5)
    Xc, Xe = _t(X, "cpu"), _t(X, "cpu")
    args = (_t(indptr, "cpu"), _t(indices, "cpu"), _t(data, "cpu"))
    t_als.least_squares_cg(*args, Xc, _t(Y, "cpu"), _t(G, "cpu"), 2.0, 25)
    t_als.least_squares(*args, Xe, _t(Y, "cpu"), _t(G, "cpu"), 2.0)
    np.testing.assert_allclose(Xc.numpy(), Xe.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("k", [1, 5, 40])
def test_topk_matches_reference(device, k):
    rng = np.random.RandomState(0)
    scores = rng.randn(25, 30).astype(np.float32)  # continuous: no exact ties
    seen = sp.random(25, 30, density=0.3, format="csr", random_state=rng)
    seen.sort_indices()
    indptr, indices = seen.indptr.astype(np.int64), seen.indices.astype(np.int32)
    ri, rs = np.empty((25, k), np.int32), np.empty((25, k), np.float32)
    ref_topk.topk_rows(scores.copy(), indptr, indices, k, ri, rs)
    ti = torch.empty((25, k), dtype=torch.int64, device=device)
    ts = torch.empty((25, k), dtype=torch.float32, device=device)
    t_topk.topk_rows(_t(scores, device), _t(indptr, device), _t(indices, device), k, ti, ts)
    np.testing.assert_array_equal(ti.cpu().numpy(), ri)
    np.testing.assert_allclose(ts.cpu().numpy(), rs)
