"""Data-parallel neural training with torch.distributed (gloo, 2 local processes)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from maaskit.distributed import fit_ddp, fit_ddp_rank  # noqa: E402
from maaskit.distributed._ddp import _shard, _spawn_fit  # noqa: E402
from maaskit.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from maaskit.recommender import ALS  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:500] / 16.0, y[:500]


def test_shards_cover_each_batch_once():
    for batch in (1, 2, 7, 64):
        for world in (1, 2, 3):
            rows = [r for rank in range(world) for r in range(*_shard(10, batch, rank, world))]
            assert rows == list(range(10, 10 + batch))


def test_two_processes_follow_the_single_process_loss_curve(digits):
    X, y = digits
    # batch 75 leaves a last batch of 50 of 500 rows: uneven shares are weighted right.
    # The NumPy kernels keep the two process start-ups cheap (no JIT loading).
    params = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=75, solver="sgd",
                  momentum=0.9, learning_rate_init=0.1, random_state=0, backend="numpy")
    single = MLPClassifier(**params).fit(X, y)
    ranks = _spawn_fit(MLPClassifier(**params), X, y, 2, "gloo")
    for model in ranks:
        np.testing.assert_allclose(model.history_["loss"], single.history_["loss"], rtol=1e-9)
        np.testing.assert_allclose(model.params_, single.params_, rtol=1e-9, atol=1e-12)
        assert model.t_ == single.t_ == 4 * 7
    np.testing.assert_array_equal(ranks[0].params_, ranks[1].params_)  # replicas never drift
    assert single.history_["loss"][-1] < single.history_["loss"][0]


def test_fit_ddp_torch_engine_regressor_in_place():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(300)
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=50, random_state=1)
    single = MLPRegressor(**params)
    single._torch_device = "cpu"  # the torch engine (the one NCCL/CUDA training uses)
    single.fit(X, y)
    est = MLPRegressor(**params)
    est._torch_device = "cpu"
    assert fit_ddp(est, X, y, n_procs=2) is est
    np.testing.assert_allclose(est.history_["loss"], single.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(est.predict(X), single.predict(X), rtol=1e-4, atol=1e-6)
    assert est.get_params()["random_state"] == 1


def test_fit_ddp_errors():
    with pytest.raises(TypeError, match="fit_ddp: estimator must be a maaskit neural estimator"):
        fit_ddp(ALS(), np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="fit_ddp: n_procs must be a positive int; got 0"):
        fit_ddp(MLPClassifier(), np.zeros((2, 2)), np.zeros(2), n_procs=0)
    with pytest.raises(ValueError, match="fit_ddp: backend must be 'gloo' or 'nccl'; got 'mpi'"):
        fit_ddp(MLPClassifier(), np.zeros((2, 2)), np.zeros(2), backend="mpi")
    with pytest.raises(ValueError, match="fit_ddp: random_state must be an int or None"):
        fit_ddp(MLPClassifier(random_state=np.random.RandomState(0)), np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(RuntimeError, match="fit_ddp: torch.distributed is not initialised"):
        fit_ddp_rank(MLPClassifier(), np.zeros((2, 2)), np.zeros(2))


def test_local_device_index_reads_local_rank():
    from maaskit.distributed._ddp import local_device_index

    assert local_device_index({"LOCAL_RANK": "3"}, n_devices=4) == 3
    assert local_device_index({}, fallback_rank=1, n_devices=2) == 1
    with pytest.raises(RuntimeError, match="LOCAL_RANK is not set"):
        local_device_index({}, n_devices=2)
    with pytest.raises(RuntimeError, match="sees 2 device"):
        local_device_index({"LOCAL_RANK": "2"}, n_devices=2)
    with pytest.raises(RuntimeError, match="must be an int"):
        local_device_index({"LOCAL_RANK": "x"}, n_devices=2)


def test_nccl_worker_binds_each_rank_to_its_own_gpu(monkeypatch):
    # Without a GPU: record which device each rank would bind (every rank on cuda:0 is what
    # NCCL rejects).
    import torch

    from maaskit.distributed import _ddp

    bound = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", bound.append)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    est = MLPClassifier(device="cuda")
    for rank in (0, 1):
        _ddp._bind_cuda_device(est, fallback_rank=rank)
    monkeypatch.setenv("LOCAL_RANK", "1")
    _ddp._bind_cuda_device(est)  # torchrun's form
    _ddp._bind_cuda_device(MLPClassifier(device="cpu"))  # CPU ranks bind nothing
    assert bound == [0, 1, 1]


def test_batch_norm_statistics_are_the_global_batchs_on_every_rank():
    # SyncBatchNorm: each rank normalises with the moments of the whole global batch, so the
    # loss curve and the running statistics are one process's, the same on every rank.
    # 41 rows in batches of 20: the last batch has one row, and rank 0 none of it (it must
    # still join the batch-norm all-reduces). Both engines in one set of processes.
    from maaskit.distributed._ddp import _spawn_fit_many
    from maaskit.neural_network import CNNClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(41, 6, 6) * np.linspace(0.5, 2.0, 41)[:, None, None]
    y = (X.mean(axis=(1, 2)) > 0.6).astype(int)
    params = dict(filters=(3,), hidden_layer_sizes=(4,), batch_norm=True, max_iter=2, batch_size=20,
                  solver="sgd", learning_rate_init=0.05, random_state=0, backend="numpy", shuffle=False)
    engines = ("kernels", "torch")
    singles, ests = [], []
    for engine in engines:
        single, est = CNNClassifier(**params), CNNClassifier(**params)
        if engine == "torch":
            single._torch_device = est._torch_device = "cpu"  # the engine NCCL/CUDA training uses
        singles.append(single.fit(X, y))
        ests.append(est)
    ranks = _spawn_fit_many(ests, X, y, 2, "gloo")
    for j, (engine, single) in enumerate(zip(engines, singles)):
        assert single.network_.buffers.size == 6  # running mean and var of 3 channels
        tol = dict(rtol=1e-9, atol=1e-12) if engine == "kernels" else dict(rtol=1e-6, atol=1e-9)
        for models in ranks:
            model = models[j]
            np.testing.assert_allclose(model.history_["loss"], single.history_["loss"], **tol, err_msg=engine)
            np.testing.assert_allclose(model.params_, single.params_, **tol, err_msg=engine)
            np.testing.assert_allclose(model.network_.buffers, single.network_.buffers, **tol, err_msg=engine)
        np.testing.assert_array_equal(ranks[0][j].network_.buffers, ranks[1][j].network_.buffers)
        np.testing.assert_array_equal(ranks[0][j].params_, ranks[1][j].params_)
        assert not np.allclose(single.network_.buffers[3:], 1.0)  # the running variance moved
