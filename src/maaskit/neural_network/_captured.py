"""The captured torch training engine behind ``device="cuda"``.

At this field's model sizes eager torch on a GPU is bound by kernel launches and Python
overhead, not arithmetic: a digits-sized MLP step is a few dozen tiny kernels. This engine
removes both:

* the training data stays resident on the device; an epoch's shuffle is one gather;
* the parameter update is written in plain tensor ops on the flat parameter buffer, with
  the learning rate and the step count held in device tensors, so a whole step (forward,
  backward, optimizer) has no host synchronisation and no Python-side state;
* on CUDA, ``STEPS_PER_GRAPH`` consecutive full-batch steps are captured once into one CUDA
  graph (``torch.cuda.CUDAGraph``) and replayed, so an epoch costs a handful of launches
  instead of thousands. The last partial batch, and leftover full batches, run the same
  step function eagerly.

The arithmetic is the ``optim`` kernel's (``torch.optim`` semantics), so the loss curve
matches the CPU kernels and the eager torch engine to rounding. Where a capture fails (a
layer whose forward needs a host sync, an old driver), the engine warns once with
:class:`~maaskit.DeviceWarning` and keeps running the same steps eagerly.

Without CUDA the engine runs its step function eagerly (``capture=False``): that is how the
CPU test-suite checks its arithmetic against the other engines.

Imported lazily: ``import maaskit`` never imports torch.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..exceptions import DeviceWarning
from ..utils._warnings import user_stacklevel
from ._torch_path import TorchEngine

__all__ = ["CapturedTorchEngine"]


class CapturedTorchEngine(TorchEngine):
    """Train a :class:`NeuralEstimatorBase` through torch with whole steps captured.

    Parameters
    ----------
    est : NeuralEstimatorBase
        A fitted-or-initialised estimator (its ``network_`` holds the parameters).
    device : str
        ``"cuda"`` (capture on) or ``"cpu"`` (the same step function, run eagerly).
    capture : bool or None, default=None
        Capture steps in CUDA graphs; ``None`` means "when ``device`` is CUDA".
    """

    #: Full-batch steps per captured graph. One replay then covers this many steps, which
    #: makes launch overhead negligible, while capture time and the graph's memory pool
    #: stay bounded (activations of one step are freed before the next is recorded).
    STEPS_PER_GRAPH = 16
    #: Eager steps run on a side stream before the first capture, as torch's documentation
    #: asks (lazy cuBLAS/autograd initialisation must not happen inside a capture). They are
    #: real training steps, not throw-away ones, so training is not perturbed.
    WARMUP_STEPS = 3

    def __init__(self, est: Any, device: str, capture: bool | None = None) -> None:
        self._setup(est, device)
        torch = self.torch
        self.capture = (self.device.type == "cuda") if capture is None else bool(capture)
        if self.capture and self.device.type != "cuda":
            raise ValueError(f"CapturedTorchEngine: capture needs a CUDA device; got {device!r}.")
        n = self.net.n_params
        st = est._opt_state
        kw = {"dtype": self.tdtype, "device": self.device}
        if st is not None and est.t_ > 0:
            self.m = torch.tensor(st["m"], **kw)
            self.v = torch.tensor(st["v"], **kw)
        else:
            self.m = torch.zeros(n, **kw)
            self.v = torch.zeros(n, **kw)
        # scalars the captured graph reads: float64 like the CPU kernel's bias corrections
        self.lr_t = torch.zeros((), dtype=torch.float64, device=self.device)
        self.t_t = torch.full((), float(est.t_), dtype=torch.float64, device=self.device)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self._graph = None  # (CUDAGraph, static X chunk, static y chunk) once captured
        # One side stream for the warm-up steps and the capture: BLAS handles and their
        # workspaces are created per (device, stream), and must exist before a capture.
        self._stream = torch.cuda.Stream(device=self.device) if self.capture else None
        self._eager_steps = 0
        self._capture_failed = False

    # -- one step, in tensor ops only (capturable) -----------------------------------------------
    def _update(self, g) -> None:
        """Apply the optimizer to the flat parameters, reading ``lr_t`` and ``t_t``."""
        torch = self.torch
        est, p, dt = self.est, self.p.data, self.tdtype
        lr = self.lr_t.to(dt)
        wd = float(est.alpha)
        if est.solver == "sgd":
            if wd:
                g = g + wd * p
            mom = float(est.momentum)
            if mom:
                self.m.mul_(mom).add_(g)
                g = g + mom * self.m if est.nesterovs_momentum else self.m
            p.sub_(lr * g)
            return
        b1, b2 = float(est.beta_1), float(est.beta_2)
        self.t_t.add_(1.0)
        if est.solver == "adamw":
            if wd:
                p.mul_(1.0 - lr * wd)
        elif wd:
            g = g + wd * p
        self.m.mul_(b1).add_(g, alpha=1.0 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        bc1 = 1.0 - torch.pow(b1, self.t_t)
        bc2_sqrt = torch.sqrt(1.0 - torch.pow(b2, self.t_t))
        step_size = (self.lr_t / bc1).to(dt)
        denom = self.v.sqrt() / bc2_sqrt.to(dt) + float(est.epsilon)
        p.sub_(step_size * (self.m / denom))

    def _step(self, xb, yb) -> None:
        torch = self.torch
        loss = self._loss(self._forward(xb), yb)
        (g,) = torch.autograd.grad(loss, self.p)
        with torch.no_grad():
            self._update(g)
            self.loss_sum.add_(loss.detach().double() * xb.shape[0])

    def _steps(self, Xc, yc, bs: int) -> None:
        for s in range(0, Xc.shape[0], bs):
            self._step(Xc[s:s + bs], yc[s:s + bs])

    # -- capture -----------------------------------------------------------------------------------
    def _capture(self, Xd, yd, bs: int) -> None:
        """Record ``STEPS_PER_GRAPH`` steps reading static input buffers; replay later."""
        torch = self.torch
        k = self.STEPS_PER_GRAPH * bs
        sx = torch.empty((k,) + tuple(Xd.shape[1:]), dtype=Xd.dtype, device=self.device)
        sy = torch.empty((k,) + tuple(yd.shape[1:]), dtype=yd.dtype, device=self.device)
        sx.copy_(Xd[:k])
        sy.copy_(yd[:k])
        graph = torch.cuda.CUDAGraph()
        if self.gen is not None and hasattr(graph, "register_generator_state"):
            # dropout draws from the engine's own generator: a replay must advance it
            # (without this API the capture fails and the steps run eagerly, with a warning)
            graph.register_generator_state(self.gen)
        torch.cuda.synchronize(self.device)
        with torch.cuda.graph(graph, stream=self._stream):
            self._steps(sx, sy, bs)
        self._graph = (graph, sx, sy)

    def _run_chunk(self, Xc, yc, bs: int) -> None:
        """``STEPS_PER_GRAPH`` full batches: replayed when captured, eager otherwise."""
        torch = self.torch
        if self._graph is not None:
            graph, sx, sy = self._graph
            sx.copy_(Xc)
            sy.copy_(yc)
            graph.replay()
            return
        if not self.capture or self._capture_failed:
            self._steps(Xc, yc, bs)
            return
        if self._eager_steps < self.WARMUP_STEPS:
            side = self._stream
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self._steps(Xc, yc, bs)
            torch.cuda.current_stream(self.device).wait_stream(side)
            self._eager_steps += Xc.shape[0] // bs
            return
        try:
            self._capture(Xc, yc, bs)
        except Exception as exc:  # noqa: BLE001 - any capture failure falls back to eager steps
            self._graph = None
            self._capture_failed = True
            warnings.warn(
                f"CapturedTorchEngine: capturing the training step in a CUDA graph failed "
                f"({type(exc).__name__}: {exc}); training continues with eager steps.",
                DeviceWarning, stacklevel=user_stacklevel())
            self._steps(Xc, yc, bs)
            return
        self._graph[0].replay()  # capture records only; this runs the chunk

    # -- epochs ------------------------------------------------------------------------------------
    def run_epoch(self, X, y, order, bs: int, lr: float) -> float:
        """One epoch of mini-batch training (see :meth:`TorchEngine.run_epoch`)."""
        Xd, yd = self._epoch_data(X, y, order, lr)
        self.loss_sum.zero_()
        n = Xd.shape[0]
        chunk = self.STEPS_PER_GRAPH * bs
        s = 0
        while s + chunk <= n:
            self._run_chunk(Xd[s:s + chunk], yd[s:s + chunk], bs)
            s += chunk
        if s < n:
            self._steps(Xd[s:], yd[s:], bs)
        self.est.t_ += -(-n // bs)
        return float(self.loss_sum) / n

    def _set_lr(self, lr: float) -> None:
        self.lr_t.fill_(float(lr))

    def _save_opt_state(self) -> None:
        dt = self.net.dtype
        self.est._opt_state = {"m": self.m.detach().cpu().numpy().astype(dt),
                               "v": self.v.detach().cpu().numpy().astype(dt)}
