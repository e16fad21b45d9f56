"""The torch training engine behind ``device="cuda"`` (and, for tests, CPU torch).

The network's flat parameter buffer becomes one torch tensor on the device; each layer's
``torch_forward`` runs on views into it, autograd does the backward pass, and
``torch.optim`` (whose SGD/Adam/AdamW semantics the ``optim`` kernel reproduces) updates the
flat tensor. The training data is moved to the device once per fit and shuffled there. At
the end the parameters (and optimizer moments) are copied back into the NumPy buffers, so
prediction and saving work anywhere. The steps run eagerly: this engine serves the CPU
tests and the data-parallel path; ``device="cuda"`` trains through its subclass in
``_captured``, which captures whole steps in CUDA graphs.

Imported lazily: ``import maaskit`` never imports torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import is_classifier

__all__ = ["TorchEngine"]


class TorchEngine:
    """Run epochs of a :class:`NeuralEstimatorBase` through torch on ``device``.

    Parameters
    ----------
    est : NeuralEstimatorBase
        A fitted-or-initialised estimator (its ``network_`` holds the parameters).
    device : str
        ``"cuda"`` or ``"cpu"``.
    """

    def __init__(self, est: Any, device: str) -> None:
        self._setup(est, device)
        torch = self.torch
        if est.solver == "sgd":
            self.opt = torch.optim.SGD([self.p], lr=1.0, momentum=est.momentum, weight_decay=est.alpha,
                                       nesterov=bool(est.nesterovs_momentum) and est.momentum > 0)
        else:
            cls = torch.optim.AdamW if est.solver == "adamw" else torch.optim.Adam
            self.opt = cls([self.p], lr=1.0, betas=(est.beta_1, est.beta_2), eps=est.epsilon,
                           weight_decay=est.alpha)
        self._load_opt_state()

    def _setup(self, est: Any, device: str) -> None:
        """State every torch engine shares: the flat parameters on ``device``, no data yet."""
        import torch

        self.torch = torch
        self.est = est
        self.net = est.network_
        self.device = torch.device(device)
        tdtype = torch.float32 if self.net.dtype == np.float32 else torch.float64
        self.tdtype = tdtype
        self.p = torch.tensor(self.net.params, dtype=tdtype, device=self.device, requires_grad=True)
        # untrained state (batch-norm running statistics), updated in place by the layers
        self.b = torch.tensor(self.net.buffers, dtype=tdtype, device=self.device)
        self.classifier = is_classifier(est)
        self._data_key = None
        self.gen = None
        if any(layer.needs_rng for layer in self.net.layers):
            # dropout masks from a generator seeded by random_state (not torch's global one)
            gen = torch.Generator(device=self.device)
            gen.manual_seed(int(est._rng.randint(0, 2**31 - 1)))
            self.gen = gen
            for layer in self.net.layers:
                layer._torch_gen = gen

    # -- optimizer state shared with the CPU engine (so warm starts can switch engines) ----------
    def _load_opt_state(self) -> None:
        st = self.est._opt_state
        if st is None or self.est.t_ == 0:
            return
        torch = self.torch
        m = torch.tensor(st["m"], dtype=self.tdtype, device=self.device)
        if self.est.solver == "sgd":
            self.opt.state[self.p] = {"momentum_buffer": m}
        else:
            v = torch.tensor(st["v"], dtype=self.tdtype, device=self.device)
            self.opt.state[self.p] = {"step": torch.tensor(float(self.est.t_)), "exp_avg": m, "exp_avg_sq": v}

    def _save_opt_state(self) -> None:
        s = self.opt.state.get(self.p, {})
        n = self.net.n_params
        st = {"m": np.zeros(n, self.net.dtype), "v": np.zeros(n, self.net.dtype)}
        if "momentum_buffer" in s and s["momentum_buffer"] is not None:
            st["m"] = s["momentum_buffer"].detach().cpu().numpy().astype(self.net.dtype)
        if "exp_avg" in s:
            st["m"] = s["exp_avg"].detach().cpu().numpy().astype(self.net.dtype)
            st["v"] = s["exp_avg_sq"].detach().cpu().numpy().astype(self.net.dtype)
        self.est._opt_state = st

    # -- math ------------------------------------------------------------------------------------
    def _views(self):
        out: list[dict] = [{} for _ in self.net.layers]
        for i, name, off, size, shape in self.net.layout:
            out[i][name] = self.p[off:off + size].view(shape)
        for i, name, off, size, shape in self.net.buffer_layout:
            out[i][name] = self.b[off:off + size].view(shape)
        return out

    def _forward(self, x, train: bool = True):
        for layer, v in zip(self.net.layers, self._views()):
            if layer.mode_dependent:
                x = layer.torch_forward(x, v, train)
            else:
                x = layer.torch_forward(x, v)
        return x

    def _loss(self, out, yb):
        F = self.torch.nn.functional
        if self.classifier:
            return F.cross_entropy(out, yb)
        return F.mse_loss(out, yb, reduction="sum") / (2 * out.shape[0])

    def _to_device(self, X, y):
        torch = self.torch
        key = (id(X), X.shape)
        if self._data_key != key:
            self._X = torch.as_tensor(X, device=self.device)
            if X.dtype.kind == "f":
                self._X = self._X.to(self.tdtype)
            ydt = torch.int64 if self.classifier else self.tdtype
            self._y = torch.as_tensor(np.ascontiguousarray(y), device=self.device).to(ydt)
            self._data_key = key
        return self._X, self._y

    def _epoch_data(self, X, y, order, lr: float):
        """Device tensors of the epoch's samples in ``order``, after setting the learning rate.

        Shared by every engine's ``run_epoch`` (also the data-parallel one) so the data
        layout and the learning-rate update stay the same across them.
        """
        Xd, yd = self._to_device(X, y)
        if order is not None:
            idx = self.torch.as_tensor(order, device=self.device)
            Xd, yd = Xd[idx], yd[idx]
        self._set_lr(lr)
        return Xd, yd

    def _set_lr(self, lr: float) -> None:
        for g in self.opt.param_groups:
            g["lr"] = lr

    def run_epoch(self, X, y, order, bs: int, lr: float) -> float:
        """One epoch of mini-batch training; returns the mean training loss.

        Parameters
        ----------
        X : ndarray of shape (n, ...)
        y : ndarray of shape (n,) or (n, k)
        order : ndarray of shape (n,) or None
            Sample order (the same permutation the CPU engine would use).
        bs : int
            Batch size.
        lr : float
            Learning rate of this epoch.

        Returns
        -------
        loss : float
        """
        torch = self.torch
        Xd, yd = self._epoch_data(X, y, order, lr)
        n = Xd.shape[0]
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for s in range(0, n, bs):
            xb, yb = Xd[s:s + bs], yd[s:s + bs]
            self.opt.zero_grad(set_to_none=False)
            loss = self._loss(self._forward(xb), yb)
            loss.backward()
            self.opt.step()
            self.est.t_ += 1
            total += loss.detach().double() * xb.shape[0]
        return float(total) / n

    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Network output for ``X`` (no gradient).

        Parameters
        ----------
        X : ndarray

        Returns
        -------
        out : ndarray
        """
        torch = self.torch
        with torch.no_grad():
            xt = torch.as_tensor(X, device=self.device)
            if X.dtype.kind == "f":
                xt = xt.to(self.tdtype)
            return self._forward(xt, train=False).cpu().numpy()

    def param_sum(self) -> float:
        """Sum of all parameters (divergence check).

        Returns
        -------
        total : float
        """
        return float(self.p.detach().sum())

    def get_params(self) -> np.ndarray:
        """Current parameters as a NumPy array (a copy off the device).

        Returns
        -------
        params : ndarray of shape (n_params,)
        """
        return self.p.detach().cpu().numpy()

    def get_buffers(self) -> np.ndarray:
        """Current untrained state (running statistics) as a NumPy array.

        Returns
        -------
        buffers : ndarray of shape (n_buffers,)
        """
        return self.b.cpu().numpy()

    def finish(self) -> None:
        """Copy parameters, buffers and optimizer state back into the estimator's NumPy buffers."""
        self.net.params[...] = self.get_params()
        self.net.buffers[...] = self.get_buffers()
        self._save_opt_state()
