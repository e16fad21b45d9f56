"""ALS estimator: known-answer structure, solvers, fold-in, persistence, parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from maaskit import persistence
from maaskit._backend import has_cuda
from maaskit.recommender._als import ALS

BACKENDS = ("numpy", "numba", "cython")


def _recovers_blocks(model, df):
    seen = df.groupby("user")["item"].apply(set)
    for u in ("u0", "u5", "u25", "u39"):
        group = 0 if int(u[1:]) < 20 else 1
        ids, _ = model.recommend(u, n=3, output="numpy")
        expected = {f"i{i + 10 * group}" for i in range(10)} - seen[u]
        assert set(ids) == expected


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_recovers_block_structure(block_interactions, backend, solver):
    model = ALS(2, max_iter=10, regularization=0.1, solver=solver, backend=backend, random_state=0, n_jobs=2)
    model.fit(block_interactions)
    assert model.user_factors_.shape == (40, 2) and model.item_factors_.shape == (20, 2)
    assert model.user_factors_.dtype == np.float32
    assert model.n_iter_ == 10 and model.backend_ == backend
    _recovers_blocks(model, block_interactions)


def test_backends_agree(block_interactions):
    fits = [ALS(4, max_iter=5, solver="cholesky", backend=b, random_state=0, n_jobs=2).fit(block_interactions) for b in BACKENDS]
    for f in fits[1:]:
        np.testing.assert_allclose(f.user_factors_, fits[0].user_factors_, rtol=1e-2, atol=1e-3)


def test_cg_approaches_cholesky(block_interactions):
    exact = ALS(4, max_iter=8, solver="cholesky", random_state=0).fit(block_interactions)
    cg = ALS(4, max_iter=8, solver="cg", cg_steps=8, random_state=0).fit(block_interactions)
    np.testing.assert_allclose(cg.predict(block_interactions[["user", "item"]]),
                               exact.predict(block_interactions[["user", "item"]]), atol=1e-3)


def test_confidence_weight_uses_values():
    # Two items seen by everyone, item b with larger counts: higher confidence -> larger score.
    df = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a", "b", "c"],
                       "rating": [1.0, 20.0, 1.0, 20.0, 1.0, 20.0, 1.0]})
    m = ALS(2, max_iter=10, confidence_weight=5.0, random_state=0).fit(df)
    s = m.predict(np.array([[0, "a"], [0, "b"]], dtype=object))
    assert s[1] > s[0]


def test_partial_fit_folds_in_new_user_exactly(block_interactions):
    model = ALS(2, max_iter=10, regularization=0.1, random_state=0).fit(block_interactions)
    items_before = model.item_factors_.copy()
    new = pd.DataFrame({"user": ["new"] * 5, "item": [f"i{i}" for i in range(10, 15)]})
    model.partial_fit(new)
    assert model.n_users_ == 41
    np.testing.assert_array_equal(model.item_factors_, items_before)
    ids, _ = model.recommend("new", n=3, output="numpy")
    assert all(10 <= int(i[1:]) < 20 for i in ids)
    # Exact: equal to a Cholesky solve against the fixed item factors.
    Y = items_before.astype(np.float64)
    cols = model.item_index_.get_codes(np.array([f"i{i}" for i in range(10, 15)], dtype=object), "t")
    A = Y.T @ Y + 0.1 * np.eye(2) + 1.0 * Y[cols].T @ Y[cols]
    b = 2.0 * Y[cols].sum(0)
    u = model.user_index_.get_codes(np.array(["new"], dtype=object), "t")[0]
    np.testing.assert_allclose(model.user_factors_[u], np.linalg.solve(A, b), rtol=1e-3, atol=1e-4)


def test_partial_fit_new_item_gets_factors(block_interactions):
    model = ALS(2, max_iter=10, regularization=0.1, random_state=0).fit(block_interactions)
    new = pd.DataFrame({"user": [f"u{u}" for u in range(20, 30)], "item": ["fresh"] * 10})
    model.partial_fit(new)
    assert model.n_items_ == 21
    v = model.item_factors_[model.item_index_.get_codes(np.array(["fresh"], dtype=object), "t")[0]]
    group1 = model.item_factors_[model.item_index_.get_codes(np.array(["i12"], dtype=object), "t")[0]]
    group0 = model.item_factors_[model.item_index_.get_codes(np.array(["i2"], dtype=object), "t")[0]]
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    assert cos(v, group1) > cos(v, group0)


def test_save_load_round_trip(block_interactions):
    model = ALS(4, max_iter=3, random_state=0).fit(block_interactions)
    loaded = persistence.loads(persistence.dumps(model))
    assert isinstance(loaded, ALS) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.user_factors_, model.user_factors_)
    a = model.recommend(["u1", "u30"], n=3, output="numpy")
    b = loaded.recommend(["u1", "u30"], n=3, output="numpy")
    np.testing.assert_array_equal(a[0], b[0])


def test_params_and_clone():
    m = ALS(8, regularization=0.2, confidence_weight=3.0, cg_steps=2)
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert not any(k.endswith("_") for k in vars(c))


def test_reproducible_and_sparse_input():
    R = sp.random(30, 20, density=0.3, format="csr", random_state=0)
    a = ALS(3, max_iter=4, random_state=1).fit(R)
    b = ALS(3, max_iter=4, random_state=1).fit(R)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


@pytest.mark.parametrize("params, match", [
    ({"confidence_weight": -1.0}, "'confidence_weight' parameter of ALS"),
    ({"regularization": -0.1}, "'regularization' parameter of ALS"),
    ({"cg_steps": 0}, "'cg_steps' parameter of ALS"),
    ({"solver": "lu"}, "'solver' parameter of ALS"),
])
def test_invalid_params(block_interactions, params, match):
    with pytest.raises(ValueError, match=match):
        ALS(**params).fit(block_interactions)


def test_zero_iterations_and_empty_users():
    R = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float32))
    m = ALS(2, max_iter=3, random_state=0).fit(R)
    assert np.all(m.user_factors_[1] == 0)
    assert ALS(2, max_iter=0, random_state=0).fit(R).n_iter_ == 0


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_torch_backend_matches_cpu_kernels(block_interactions, solver):
    pytest.importorskip("torch")
    cpu = ALS(n_factors=8, max_iter=4, solver=solver, random_state=0, backend="numpy")
    tch = clone(cpu).set_params(backend="torch", device="cpu")
    cpu.fit(block_interactions)
    tch.fit(block_interactions)
    assert tch.backend_ == "torch" and tch.device_ == "cpu"
    np.testing.assert_allclose(tch.user_factors_, cpu.user_factors_, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(tch.item_factors_, cpu.item_factors_, rtol=2e-3, atol=2e-4)
    users = sorted(block_interactions.user.unique())
    np.testing.assert_array_equal(tch.recommend(users, n=3)[0], cpu.recommend(users, n=3)[0])
    # A model trained on the torch path is an ordinary model: fold-in and save/load work.
    new = pd.DataFrame({"user": ["new"] * 3, "item": ["i0", "i1", "i2"], "rating": 1.0})
    tch.partial_fit(new)
    again = persistence.loads(persistence.dumps(tch))
    np.testing.assert_array_equal(again.recommend("new", n=3)[0], tch.recommend("new", n=3)[0])


def test_device_auto_on_a_gpu_machine_picks_torch(block_interactions, monkeypatch):
    pytest.importorskip("torch")
    from maaskit import _backend
    from maaskit.recommender import MatrixFactorization

    monkeypatch.setattr(_backend, "has_cuda", lambda: True)
    with pytest.raises(ValueError, match="no torch kernels"):
        MatrixFactorization(backend="torch").fit(block_interactions)
    # Algorithms without a device path pick the CPU quietly under "auto".
    mf = MatrixFactorization(max_iter=1, device="auto").fit(block_interactions)
    assert mf.device_ == "cpu"


@pytest.mark.skipif(not has_cuda(), reason="needs a CUDA GPU")
def test_cuda_training_matches_cpu(block_interactions):
    cpu = ALS(n_factors=8, max_iter=4, random_state=0, backend="numpy").fit(block_interactions)
    gpu = ALS(n_factors=8, max_iter=4, random_state=0, device="cuda").fit(block_interactions)
    assert gpu.backend_ == "torch" and gpu.device_ == "cuda"
    np.testing.assert_allclose(gpu.user_factors_, cpu.user_factors_, rtol=2e-3, atol=2e-4)
