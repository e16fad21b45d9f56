"""Data-parallel training of maaskit neural estimators with ``torch.distributed``.

Every process ("rank") builds the same network from the same ``random_state`` and draws
the same shuffling order, so each global mini-batch is the same everywhere; each rank runs
forward and backward on its contiguous share of the batch, the gradients are summed
across ranks with ``all_reduce`` (weighted by share size, so the sum is the full batch's
mean-loss gradient), and every rank applies the same optimiser step. The parameters stay
identical on all ranks and the loss curve is that of one process on the whole batch, up to
floating-point summation order.

Two engines, as in :mod:`maaskit.neural_network._base`: the CPU kernel engine (gradients
are a flat NumPy buffer, all-reduced in place through ``torch.from_numpy`` with gloo), and
the torch engine (``device="cuda"``, all-reduced with NCCL, or torch on the CPU).

Batch normalisation is synchronised (SyncBatchNorm): in training, every batch-norm layer
takes its mean and variance over the whole global batch by all-reducing the per-rank sums
(two small all-reduces forward, one backward, per layer and step), not over the rank's
share as plain DDP would. So the loss curve with batch norm is still one process's, and the
running mean and variance (updated from the same global moments everywhere) are identical
on every rank, as the saved model of any rank is.
"""

from __future__ import annotations

import numbers
import os
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np

from ..utils._net import free_port

__all__ = ["fit_ddp", "fit_ddp_rank"]

WHERE = "fit_ddp"


def _shard(s: int, batch: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of the global batch starting at ``s`` that belong to ``rank``."""
    return s + (batch * rank) // world, s + (batch * (rank + 1)) // world


def local_device_index(environ: Any = None, *, fallback_rank: int | None = None, n_devices: int) -> int:
    """The CUDA device this process trains on: its local rank on this machine.

    ``torchrun`` (and most launchers) put the process's index on its machine in
    ``LOCAL_RANK``; :func:`fit_ddp`'s own workers pass their rank instead. Without this every
    rank would use ``cuda:0``, which NCCL rejects (two ranks on one device).

    Parameters
    ----------
    environ : mapping, default=None
        Environment to read (``os.environ`` when None).
    fallback_rank : int, default=None
        Local rank to use when ``LOCAL_RANK`` is not set.
    n_devices : int
        CUDA devices visible to this process.

    Returns
    -------
    index : int
        A valid device index.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("LOCAL_RANK")
    if raw is None:
        if fallback_rank is None:
            raise RuntimeError(
                f"{WHERE}: LOCAL_RANK is not set, so the CUDA device of this rank is unknown; "
                f"start the job with torchrun (which sets it) or set LOCAL_RANK."
            )
        local = int(fallback_rank)
    else:
        try:
            local = int(raw)
        except ValueError:
            raise RuntimeError(f"{WHERE}: LOCAL_RANK must be an int; got {raw!r}.") from None
    if not 0 <= local < n_devices:
        raise RuntimeError(
            f"{WHERE}: local rank {local} needs CUDA device {local}, but this process sees "
            f"{n_devices} device(s); start at most one rank per GPU on each machine."
        )
    return local


def _bind_cuda_device(estimator: Any, fallback_rank: int | None = None) -> None:
    """Make this rank's GPU the current device before NCCL or the engine touch CUDA."""
    if getattr(estimator, "device", "cpu") != "cuda":
        return
    import torch

    torch.cuda.set_device(local_device_index(fallback_rank=fallback_rank,
                                             n_devices=torch.cuda.device_count()))


def _kernel_engine(est: Any, group: Any) -> Any:
    import torch
    import torch.distributed as dist

    from ..neural_network._base import _KernelEngine, _scratch

    def allreduce_sum(a: np.ndarray) -> None:
        dist.all_reduce(torch.from_numpy(a), op=dist.ReduceOp.SUM, group=group)

    class DataParallelKernelEngine(_KernelEngine):
        """The CPU kernel engine with gradients all-reduced before every step.

        Batch-norm layers normalise with the moments of the whole global batch (their
        ``_sync`` all-reduces them), so their running statistics are the same on every rank.
        """

        def __init__(self, est: Any) -> None:
            super().__init__(est)
            self.bn = _batch_norm_layers(self.net)
            for layer in self.bn:
                layer._sync = allreduce_sum

        def finish(self) -> None:
            for layer in self.bn:
                layer._sync = None
            super().finish()

        def run_epoch(self, X, y, order, bs, lr):
            if order is not None:
                X = np.ascontiguousarray(X[order])
                y = y[order]
            net, lossk = self.net, self.loss_kernel
            rank, world = dist.get_rank(group), dist.get_world_size(group)
            grads = torch.from_numpy(net.grads)  # shares memory: all_reduce writes net.grads
            n, k = X.shape[0], net.output_shape[0]
            if not self.classifier:
                y = np.ascontiguousarray(y, dtype=net.dtype)
            total = 0.0
            for s in range(0, n, bs):
                batch = min(bs, n - s)
                lo, hi = _shard(s, batch, rank, world)
                m = hi - lo
                if m:
                    out = net.forward(X[lo:hi], True)
                    grad = _scratch(self, "grad", (m, k), net.dtype)
                    if self.classifier:
                        probs = _scratch(self, "probs", (m, k), net.dtype)
                        loss = lossk.softmax_cross_entropy(out, y[lo:hi], probs, grad)
                    else:
                        loss = lossk.mse_loss(out, y[lo:hi], grad)
                    # The kernels give the gradient of this share's mean loss; weighting by
                    # the share makes the sum over ranks the whole batch's mean gradient.
                    grad *= m / batch
                    net.backward(grad)
                    total += loss * m
                else:
                    # no rows here: still join the batch-norm all-reduces, in network order
                    for layer in self.bn:
                        layer.sync_idle("forward")
                    for layer in reversed(self.bn):
                        layer.sync_idle("backward")
                    net.grads[...] = 0
                dist.all_reduce(grads, op=dist.ReduceOp.SUM, group=group)
                self.step(lr)
            t = torch.tensor([total], dtype=torch.float64)
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
            return float(t.item()) / n

    return DataParallelKernelEngine(est)


def _torch_engine(est: Any, device: str, group: Any) -> Any:
    import torch
    import torch.distributed as dist

    from ..neural_network._torch_path import TorchEngine

    class AllReduceSum(torch.autograd.Function):
        """SUM all-reduce whose backward all-reduces the gradient (every rank's loss
        depends on every rank's input through the sum)."""

        @staticmethod
        def forward(ctx, t):
            t = t.clone()
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
            return t

        @staticmethod
        def backward(ctx, g):
            g = g.clone()
            dist.all_reduce(g, op=dist.ReduceOp.SUM, group=group)
            return g

    class DataParallelTorchEngine(TorchEngine):
        """The torch engine with ``p.grad`` all-reduced before every step (NCCL on CUDA).

        Batch-norm layers normalise with the global batch's moments through differentiable
        all-reduces (SyncBatchNorm), so their running statistics agree on every rank.
        """

        def __init__(self, est: Any, device: str) -> None:
            super().__init__(est, device)
            self.bn = _batch_norm_layers(self.net)
            for layer in self.bn:
                layer._torch_sync = AllReduceSum.apply

        def finish(self) -> None:
            for layer in self.bn:
                layer._torch_sync = None
            super().finish()

        def run_epoch(self, X, y, order, bs, lr):
            Xd, yd = self._to_device(X, y)
            n = Xd.shape[0]
            if order is not None:
                idx = torch.as_tensor(order, device=self.device)
                Xd, yd = Xd[idx], yd[idx]
            for g in self.opt.param_groups:
                g["lr"] = lr
            rank, world = dist.get_rank(group), dist.get_world_size(group)
            total = torch.zeros((), dtype=torch.float64, device=self.device)
            for s in range(0, n, bs):
                batch = min(bs, n - s)
                lo, hi = _shard(s, batch, rank, world)
                self.opt.zero_grad(set_to_none=False)
                if hi > lo:
                    loss = self._loss(self._forward(Xd[lo:hi]), yd[lo:hi]) * ((hi - lo) / batch)
                    loss.backward()
                    total += loss.detach().double() * batch
                elif self.bn:
                    # no rows here: an empty forward/backward joins the batch-norm all-reduces
                    (self._forward(Xd[lo:hi]).sum() * 0.0).backward()
                dist.all_reduce(self.p.grad, op=dist.ReduceOp.SUM, group=group)
                self.opt.step()
                self.est.t_ += 1
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
            return float(total) / n

    return DataParallelTorchEngine(est, device)


def _batch_norm_layers(net: Any) -> list:
    from ..neural_network._layers import BatchNorm

    return [layer for layer in net.layers if isinstance(layer, BatchNorm)]


def _check_estimator(estimator: Any) -> None:
    from ..neural_network._base import NeuralEstimatorBase

    if not isinstance(estimator, NeuralEstimatorBase):
        raise TypeError(
            f"{WHERE}: estimator must be a maaskit neural estimator (MLPClassifier, "
            f"MLPRegressor, ...); got {type(estimator).__name__}."
        )


def _check_seed(random_state: Any) -> None:
    if random_state is not None and (isinstance(random_state, bool)
                                     or not isinstance(random_state, numbers.Integral)):
        raise ValueError(
            f"{WHERE}: random_state must be an int or None for data-parallel training (a "
            f"RandomState cannot be shared across processes); got {random_state!r}."
        )


def fit_ddp_rank(estimator: Any, X: Any, y: Any, *, group: Any = None) -> Any:
    """Fit a neural estimator on this rank of an initialised ``torch.distributed`` group.

    Call it in every process of a job started by ``torchrun`` (or any launcher that runs
    ``torch.distributed.init_process_group``), with the same estimator parameters and the
    same ``X, y`` on every rank. Each rank trains on its share of every mini-batch and the
    gradients are all-reduced, so all ranks end with the same parameters, equal to one
    process's training on the full batches up to rounding.

    Parameters
    ----------
    estimator : NeuralEstimatorBase
        A maaskit neural estimator (``MLPClassifier``, ``MLPRegressor``, ...); fitted in
        place. With ``random_state=None`` rank 0 draws a seed and sends it to the others.
    X : array-like
        Training inputs, the same on every rank.
    y : array-like
        Targets, the same on every rank.
    group : torch.distributed.ProcessGroup, default=None
        The group to train in; ``None`` is the default group.

    Returns
    -------
    estimator : NeuralEstimatorBase
        The fitted estimator.
    """
    import torch
    import torch.distributed as dist

    _check_estimator(estimator)
    if dist.is_available() and dist.is_initialized() and dist.get_backend(group) == "nccl":
        _bind_cuda_device(estimator)
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            f"{WHERE}: torch.distributed is not initialised; call "
            f"torch.distributed.init_process_group first, or use fit_ddp to start processes."
        )
    user_seed = estimator.random_state
    _check_seed(user_seed)
    if user_seed is None:
        # Identical initialisation and batch order on every rank need one shared seed.
        seed = torch.tensor([np.random.default_rng().integers(2**31 - 1)], dtype=torch.int64)
        dist.broadcast(seed, src=0, group=group)
        estimator.random_state = int(seed.item())

    def make_engine(self: Any, where: str) -> Any:
        if self.device_ == "cuda" or getattr(self, "_torch_device", None):
            return _torch_engine(self, "cuda" if self.device_ == "cuda" else self._torch_device, group)
        return _kernel_engine(self, group)

    estimator._make_engine = types.MethodType(make_engine, estimator)
    try:
        estimator.fit(X, y)
    finally:
        del estimator._make_engine
        estimator.random_state = user_seed
    return estimator


def _worker(rank: int, world: int, backend: str, init_method: str, estimators: list, X: Any, y: Any,
            out_dir: str, threads: int) -> None:
    import torch
    import torch.distributed as dist

    from .._config import set_config

    # Share the cores between the ranks instead of letting each take all of them.
    torch.set_num_threads(threads)
    set_config(n_threads=threads)
    if backend == "nccl":
        # Our workers all run on this machine: the rank is the local rank.
        os.environ["LOCAL_RANK"] = str(rank)
        _bind_cuda_device(estimators[0], fallback_rank=rank)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world)
    try:
        for i, estimator in enumerate(estimators):
            fit_ddp_rank(estimator, X, y)
            estimator.save(Path(out_dir) / f"rank{rank}_{i}.npz")
    finally:
        dist.destroy_process_group()


def _spawn_fit(estimator: Any, X: Any, y: Any, n_procs: int, backend: str) -> list[Any]:
    """Run :func:`fit_ddp_rank` in ``n_procs`` local processes; return every rank's model."""
    return [models[0] for models in _spawn_fit_many([estimator], X, y, n_procs, backend)]


def _spawn_fit_many(estimators: list, X: Any, y: Any, n_procs: int, backend: str) -> list[list[Any]]:
    """Fit several estimators one after the other in one set of ``n_procs`` processes.

    Process start-up (interpreter, torch, the group) is most of a small job's time; the
    tests that compare engines pay it once. Returns ``[rank][estimator]`` models.
    """
    import torch.multiprocessing as mp

    from ..persistence import load

    threads = max(1, (os.cpu_count() or 1) // n_procs)
    with tempfile.TemporaryDirectory(prefix="maaskit_ddp_") as out:
        mp.start_processes(
            _worker, args=(n_procs, backend, f"tcp://127.0.0.1:{free_port()}", list(estimators),
                           np.asarray(X), np.asarray(y), out, threads),
            nprocs=n_procs, join=True, start_method="spawn",
        )
        return [[load(Path(out) / f"rank{r}_{i}.npz") for i in range(len(estimators))]
                for r in range(n_procs)]


def fit_ddp(estimator: Any, X: Any, y: Any, *, n_procs: int = 2, backend: str = "gloo") -> Any:
    """Fit a neural estimator data-parallel in ``n_procs`` local processes.

    Starts ``n_procs`` processes (spawn), joins them in a ``torch.distributed`` group and
    runs :func:`fit_ddp_rank` in each: every rank trains on its share of each mini-batch,
    gradients are all-reduced, and the loss curve is that of one process on the full
    batches. For several machines, run :func:`fit_ddp_rank` under ``torchrun`` instead.

    Parameters
    ----------
    estimator : NeuralEstimatorBase
        A maaskit neural estimator; it is fitted in the worker processes and its fitted
        state is copied back into it (so it is fitted in place, as ``fit``).
    X : array-like
        Training inputs.
    y : array-like
        Targets.
    n_procs : int, default=2
        Number of processes (ranks).
    backend : {"gloo", "nccl"}, default="gloo"
        ``torch.distributed`` backend: gloo on CPU, NCCL for ``device="cuda"`` (one GPU
        per rank).

    Returns
    -------
    estimator : NeuralEstimatorBase
        The fitted estimator (rank 0's state; all ranks hold the same parameters).
    """
    _check_estimator(estimator)
    _check_seed(estimator.random_state)
    if isinstance(n_procs, bool) or not isinstance(n_procs, numbers.Integral) or n_procs < 1:
        raise ValueError(f"{WHERE}: n_procs must be a positive int; got {n_procs!r}.")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"{WHERE}: backend must be 'gloo' or 'nccl'; got {backend!r}.")
    fitted = _spawn_fit(estimator, X, y, int(n_procs), backend)[0]
    state = {k: v for k, v in vars(fitted).items() if k.endswith("_") or k in ("_rng", "_opt_state")}
    for k, v in state.items():
        setattr(estimator, k, v)
    return estimator
