"""Layers and the network that owns one flat parameter buffer.

A :class:`Layer` does the math of one block on *views* into the network's flat parameter and
gradient buffers, so that the optimizer updates every parameter of a model with one fused
kernel call per step. Layers are described by a JSON config (``get_config``) so a model can
be saved as "flat buffer + architecture" and rebuilt without pickle.

Kernels: ``dense``, ``conv2d``, ``pool``, ``dropout``, ``batchnorm``.

Writing a new layer (see ``/work/notes/neural_base_api.md``): subclass :class:`Layer`,
decorate it with :func:`register_layer`, and implement ``build``, ``param_shapes``,
``init_params``, ``forward`` and ``backward`` (and ``torch_forward`` for the torch path).

Layers that behave differently in training and prediction (:class:`Dropout`,
:class:`BatchNorm`) set ``mode_dependent = True`` and take ``train`` in ``torch_forward``;
layers that draw random numbers say so with ``needs_rng`` and get a generator seeded from
the estimator's ``random_state`` (``_rng`` for the kernels, ``_torch_gen`` for torch).
State that is not trained (batch-norm running statistics) lives in a second flat buffer,
``Network.buffers``, declared by ``buffer_shapes`` and saved with the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import get_kernel
from .._kernels.reference.conv2d import output_size
from .._kernels.reference.dense import ACTIVATIONS

__all__ = [
    "Layer",
    "Dense",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "Flatten",
    "Dropout",
    "BatchNorm",
    "Network",
    "register_layer",
    "layer_from_config",
]

_LAYER_TYPES: dict[str, type] = {}


def register_layer(cls: type) -> type:
    """Class decorator: make a layer type rebuildable from its JSON config.

    Parameters
    ----------
    cls : type
        A :class:`Layer` subclass.

    Returns
    -------
    cls : type
    """
    _LAYER_TYPES[cls.__name__] = cls
    return cls


def layer_from_config(config: dict) -> "Layer":
    """Rebuild a layer from the dict made by :meth:`Layer.get_config`.

    Parameters
    ----------
    config : dict
        ``{"type": <class name>, **constructor arguments}``.

    Returns
    -------
    layer : Layer
    """
    config = dict(config)
    cls = _LAYER_TYPES.get(config.pop("type", None))
    if cls is None:
        raise ValueError(f"layer_from_config: unknown layer type in {config!r}.")
    return cls(**config)


class Layer:
    """One block of a network: forward/backward on views into the flat buffers.

    Subclasses keep constructor arguments as public attributes (they are the JSON config),
    and everything derived at run time (kernel modules, parameter views, cached activations,
    workspaces) in attributes starting with ``_``, which are dropped when pickling.

    Attributes
    ----------
    in_shape, out_shape : tuple of int
        Per-sample input and output shapes, set by :meth:`build`.
    need_dx : bool
        Whether :meth:`backward` must return the input gradient (False for the first layer).
    """

    #: Kernel names this layer calls (resolved to backends by the estimator).
    kernels: tuple[str, ...] = ()
    _config_keys: tuple[str, ...] = ()
    #: True when ``torch_forward`` takes a ``train`` flag (dropout, batch norm).
    mode_dependent: bool = False

    @property
    def needs_rng(self) -> bool:
        """Whether the layer draws random numbers in training (then it gets ``_rng``)."""
        return False

    def get_config(self) -> dict:
        """Return the JSON-able constructor arguments plus ``"type"``.

        Returns
        -------
        config : dict
        """
        return {"type": type(self).__name__, **{k: getattr(self, k) for k in self._config_keys}}

    # --- shape and parameters -------------------------------------------------------
    def build(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Record the per-sample input shape and return the per-sample output shape.

        Parameters
        ----------
        in_shape : tuple of int

        Returns
        -------
        out_shape : tuple of int
        """
        self.in_shape = tuple(in_shape)
        self.out_shape = self._out_shape(self.in_shape)
        return self.out_shape

    def _out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return in_shape

    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Return ``[(name, shape), ...]`` of this layer's parameters (after build).

        Returns
        -------
        shapes : list of (str, tuple of int)
        """
        return []

    def buffer_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Return ``[(name, shape), ...]`` of state that is not trained (after build).

        Returns
        -------
        shapes : list of (str, tuple of int)
        """
        return []

    def init_buffers(self, buffers: dict[str, np.ndarray]) -> None:
        """Fill freshly allocated buffer views (e.g. running variances to 1).

        Parameters
        ----------
        buffers : dict of str to ndarray
            Views into the flat buffer, written in place.
        """

    def init_params(self, params: dict[str, np.ndarray], rng: np.random.RandomState) -> None:
        """Fill freshly allocated parameter views with initial values.

        Parameters
        ----------
        params : dict of str to ndarray
            Views into the flat parameter buffer, written in place.
        rng : RandomState
        """

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             backends: dict[str, str]) -> None:
        """Attach parameter/gradient views and kernel modules.

        Parameters
        ----------
        params, grads : dict of str to ndarray
            Views into the flat parameter and gradient buffers.
        backends : dict of str to str
            Backend per kernel name.
        """
        self._p = params
        self._g = grads
        self._k = {name: get_kernel(name, backends[name]) for name in self.kernels}

    # --- math -----------------------------------------------------------------------
    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """Compute the layer output for a batch (and keep what backward needs if ``train``).

        Parameters
        ----------
        x : ndarray of shape (n, *in_shape), C-contiguous
        train : bool

        Returns
        -------
        out : ndarray of shape (n, *out_shape)
            May be a buffer owned by the layer (valid until the next forward call).
        """
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """Write this layer's parameter gradients and return the input gradient.

        Parameters
        ----------
        dout : ndarray of shape (n, *out_shape)
            Gradient of the loss with respect to the last forward output.

        Returns
        -------
        dx : ndarray of shape (n, *in_shape) or None
            ``None`` when ``need_dx`` is False.
        """
        raise NotImplementedError

    def torch_forward(self, x: Any, params: dict[str, Any]) -> Any:
        """The same math in torch (autograd does the backward pass).

        Parameters
        ----------
        x : torch.Tensor
        params : dict of str to torch.Tensor
            Views into the flat torch parameter tensor.

        Returns
        -------
        out : torch.Tensor
        """
        raise NotImplementedError

    # --- buffers --------------------------------------------------------------------
    def _buf(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A workspace reused across batches of the same shape (no allocation per step)."""
        # keyed by shape too: training batches, the last short batch and prediction chunks
        # each keep their own buffers instead of reallocating every epoch
        cache = self.__dict__.setdefault("_bufs", {})
        key = (name, shape, np.dtype(dtype).str)
        b = cache.get(key)
        if b is None:
            b = np.empty(shape, dtype=dtype)
            cache[key] = b
        return b

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def _act_code(name: str) -> int:
    return ACTIVATIONS[name]


@register_layer
class Dense(Layer):
    """Fully connected layer ``f(x @ W + b)``.

    Parameters
    ----------
    units : int
        Output width.
    activation : {"identity", "relu", "tanh", "logistic", "gelu"}, default="identity"
        Applied element-wise after the affine map.
    """

    kernels = ("dense",)
    _config_keys = ("units", "activation")

    def __init__(self, units: int, activation: str = "identity") -> None:
        self.units = int(units)
        self.activation = activation

    def _out_shape(self, in_shape):
        if len(in_shape) != 1:
            raise ValueError(f"Dense: input must be flat (n, d); got per-sample shape {in_shape}.")
        return (self.units,)

    def param_shapes(self):
        return [("W", (self.in_shape[0], self.units)), ("b", (self.units,))]

    def init_params(self, params, rng):
        fan_in, fan_out = self.in_shape[0], self.units
        # Glorot uniform (sklearn's MLP uses it too); logistic gets the sqrt(2) wider bound.
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        params["W"][...] = rng.uniform(-bound, bound, params["W"].shape)
        params["b"][...] = rng.uniform(-bound, bound, params["b"].shape)

    def forward(self, x, train):
        k = self._k["dense"]
        n = x.shape[0]
        z = self._buf("z", (n, self.units), x.dtype)
        k.dense_forward(x, self._p["W"], self._p["b"], z)
        act = _act_code(self.activation)
        if act == 0:
            a = z
        elif act == 4:  # gelu's derivative needs z, so the output gets its own buffer
            a = self._buf("a", z.shape, x.dtype)
            k.activation_forward(z, act, a)
        else:  # relu/tanh/sigmoid derivatives only need the output: compute in place
            k.activation_forward(z, act, z)
            a = z
        if train:
            self._x, self._z, self._a = x, z, a
        return a

    def backward(self, dout):
        k = self._k["dense"]
        act = _act_code(self.activation)
        if act != 0:
            dz = self._buf("dz", dout.shape, dout.dtype)
            k.activation_backward(self._z, self._a, dout, act, dz)
        else:
            dz = dout
        x = self._x
        dx = self._buf("dx", x.shape, x.dtype) if self.need_dx else dz
        k.dense_backward(x, self._p["W"], dz, dx, self._g["W"], self._g["b"], self.need_dx)
        return dx if self.need_dx else None

    def torch_forward(self, x, params):
        import torch.nn.functional as F

        return _torch_act(F.linear(x, params["W"].T, params["b"]), self.activation)


def _torch_act(z, activation):
    import torch
    import torch.nn.functional as F

    if activation == "relu":
        return torch.relu(z)
    if activation == "tanh":
        return torch.tanh(z)
    if activation in ("logistic", "sigmoid"):
        return torch.sigmoid(z)
    if activation == "gelu":
        return F.gelu(z)
    return z


@register_layer
class Conv2D(Layer):
    """2-D convolution (cross-correlation, NCHW) followed by an activation.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int
        Square window side.
    stride : int, default=1
    padding : int, default=0
        Zero padding on every side.
    activation : {"identity", "relu", "tanh", "logistic", "gelu"}, default="relu"
    """

    kernels = ("conv2d", "dense")
    _config_keys = ("filters", "kernel_size", "stride", "padding", "activation")

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 activation: str = "relu") -> None:
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.padding = int(padding)
        self.activation = activation

    def _out_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"Conv2D: input must be (n, c, h, w); got per-sample shape {in_shape}.")
        c, h, w = in_shape
        oh = output_size(h, self.kernel_size, self.stride, self.padding)
        ow = output_size(w, self.kernel_size, self.stride, self.padding)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"Conv2D: a {self.kernel_size}x{self.kernel_size} window does not fit a {h}x{w} "
                f"input with padding {self.padding}; use a smaller kernel_size or fewer pooling blocks.")
        return (self.filters, oh, ow)

    def param_shapes(self):
        c = self.in_shape[0]
        k = self.kernel_size
        return [("W", (self.filters, c, k, k)), ("b", (self.filters,))]

    def init_params(self, params, rng):
        c, k = self.in_shape[0], self.kernel_size
        fan_in = c * k * k
        # He uniform for relu, Glorot-style otherwise.
        bound = np.sqrt(6.0 / fan_in) if self.activation == "relu" else np.sqrt(6.0 / (fan_in + self.filters * k * k))
        params["W"][...] = rng.uniform(-bound, bound, params["W"].shape)
        params["b"][...] = 0.0

    def forward(self, x, train):
        n = x.shape[0]
        c, _, _ = self.in_shape
        f, oh, ow = self.out_shape
        k = self.kernel_size
        cols = self._buf("cols", (c * k * k, n * oh * ow), x.dtype)
        z = self._buf("z", (n, f, oh, ow), x.dtype)
        self._k["conv2d"].conv2d_forward(x, self._p["W"], self._p["b"], self.stride, self.padding, cols, z)
        act = _act_code(self.activation)
        a = z
        if act == 4:
            a = self._buf("a", z.shape, x.dtype)
            self._k["dense"].activation_forward(z, act, a)
        elif act != 0:
            self._k["dense"].activation_forward(z, act, z)
        if train:
            self._z, self._a, self._cols, self._n = z, a, cols, n
        return a

    def backward(self, dout):
        act = _act_code(self.activation)
        dz = dout
        if act != 0:
            dz = self._buf("dz", dout.shape, dout.dtype)
            self._k["dense"].activation_backward(self._z, self._a, dout, act, dz)
        dx = self._buf("dx", (self._n, *self.in_shape), dout.dtype)
        self._k["conv2d"].conv2d_backward(self._cols, self._p["W"], dz, self.stride, self.padding,
                                          dx, self._g["W"], self._g["b"], self.need_dx)
        return dx if self.need_dx else None

    def torch_forward(self, x, params):
        import torch.nn.functional as F

        z = F.conv2d(x, params["W"], params["b"], stride=self.stride, padding=self.padding)
        return _torch_act(z, self.activation)


class _Pool2D(Layer):
    kernels = ("pool",)
    _config_keys = ("pool_size", "stride")

    def __init__(self, pool_size: int = 2, stride: int | None = None) -> None:
        self.pool_size = int(pool_size)
        self.stride = None if stride is None else int(stride)

    @property
    def _step(self) -> int:
        return self.pool_size if self.stride is None else self.stride

    def _out_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"{type(self).__name__}: input must be (n, c, h, w); got per-sample shape {in_shape}.")
        c, h, w = in_shape
        oh = (h - self.pool_size) // self._step + 1
        ow = (w - self.pool_size) // self._step + 1
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{type(self).__name__}: a {self.pool_size}x{self.pool_size} window does not fit a "
                f"{h}x{w} input; use fewer pooling blocks or larger images.")
        return (c, oh, ow)

    # Buffers, the saved batch size and the torch path are the same for every pooling
    # kind; subclasses supply the kernel calls and the torch.nn.functional name.
    _torch_pool: str = ""

    def _pool_forward(self, x: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError

    def _pool_backward(self, dout: np.ndarray, dx: np.ndarray) -> None:
        raise NotImplementedError

    def forward(self, x, train):
        n = x.shape[0]
        out = self._buf("out", (n, *self.out_shape), x.dtype)
        self._pool_forward(x, out)
        self._n = n
        return out

    def backward(self, dout):
        dx = self._buf("dx", (self._n, *self.in_shape), dout.dtype)
        self._pool_backward(dout, dx)
        return dx

    def torch_forward(self, x, params):
        import torch.nn.functional as F

        return getattr(F, self._torch_pool)(x, self.pool_size, self._step)


@register_layer
class MaxPool2D(_Pool2D):
    """Max pooling over square windows (no padding, floor mode).

    Parameters
    ----------
    pool_size : int, default=2
    stride : int, default=None
        ``None`` means ``pool_size``.
    """

    _torch_pool = "max_pool2d"

    def _pool_forward(self, x, out):
        am = self._buf("argmax", out.shape, np.dtype(np.int64))
        self._k["pool"].maxpool2d_forward(x, self.pool_size, self._step, out, am)
        self._argmax = am

    def _pool_backward(self, dout, dx):
        self._k["pool"].maxpool2d_backward(dout, self._argmax, dx)


@register_layer
class AvgPool2D(_Pool2D):
    """Average pooling over square windows (no padding, floor mode).

    Parameters
    ----------
    pool_size : int, default=2
    stride : int, default=None
        ``None`` means ``pool_size``.
    """

    _torch_pool = "avg_pool2d"

    def _pool_forward(self, x, out):
        self._k["pool"].avgpool2d_forward(x, self.pool_size, self._step, out)

    def _pool_backward(self, dout, dx):
        self._k["pool"].avgpool2d_backward(dout, self.pool_size, self._step, dx)


@register_layer
class Flatten(Layer):
    """Reshape (n, c, h, w) to (n, c*h*w) (a view; no copy)."""

    def _out_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def forward(self, x, train):
        self._n = x.shape[0]
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._n, *self.in_shape)

    def torch_forward(self, x, params):
        return x.flatten(1)  # also for an empty batch (a data-parallel rank with no rows)


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate`` and scale
    the others by ``1 / (1 - rate)``; the identity at prediction time.

    The keep-mask is drawn from the layer's generator, seeded from the estimator's
    ``random_state``, so training is reproducible.

    Parameters
    ----------
    rate : float, default=0.5
        Probability of dropping a value, in ``[0, 1)``.
    """

    kernels = ("dropout",)
    _config_keys = ("rate",)
    mode_dependent = True

    def __init__(self, rate: float = 0.5) -> None:
        self.rate = float(rate)

    @property
    def needs_rng(self) -> bool:
        return self.rate > 0.0

    def forward(self, x, train):
        self._active = bool(train and self.rate > 0.0)
        if not self._active:
            return x
        mask = self._buf("mask", x.shape, np.dtype(np.uint8))
        draw_mask(self._rng, self.rate, mask)
        out = self._buf("out", x.shape, x.dtype)
        self._k["dropout"].dropout_forward(x.reshape(-1), mask.reshape(-1), 1.0 / (1.0 - self.rate),
                                           out.reshape(-1))
        self._mask = mask
        return out

    def backward(self, dout):
        if not self.need_dx:
            return None
        if not self._active:
            return dout
        dx = self._buf("dx", dout.shape, dout.dtype)
        self._k["dropout"].dropout_backward(dout.reshape(-1), self._mask.reshape(-1),
                                            1.0 / (1.0 - self.rate), dx.reshape(-1))
        return dx

    def torch_forward(self, x, params, train=False):
        return torch_dropout(x, self.rate, train, getattr(self, "_torch_gen", None))


def draw_mask(rng: np.random.RandomState, rate: float, mask: np.ndarray) -> None:
    """Fill a ``uint8`` keep-mask in place: 1 with probability ``1 - rate``.

    Parameters
    ----------
    rng : RandomState
    rate : float
        Drop probability.
    mask : ndarray of dtype uint8
    """
    np.greater_equal(rng.random_sample(mask.shape), rate, out=mask, casting="unsafe")


def torch_dropout(x: Any, rate: float, train: bool, gen: Any) -> Any:
    """Inverted dropout in torch with an explicit generator (identity unless training).

    The mask comes from ``gen`` (seeded from ``random_state``) rather than torch's global
    generator, so a fit does not depend on, or disturb, torch's global random state.
    """
    if not train or rate <= 0.0:
        return x
    import torch

    keep = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) >= rate
    return x * keep / (1.0 - rate)


@register_layer
class BatchNorm(Layer):
    """Batch normalisation per channel (per feature for flat input), then an activation.

    In training the batch statistics normalise and the running statistics are updated
    (``torch.nn.BatchNorm`` semantics: biased variance to normalise, unbiased in the running
    estimate); at prediction time the running statistics are used. They are kept in the
    network's buffer, so they are saved and loaded with the model.

    Parameters
    ----------
    momentum : float, default=0.1
        Weight of each batch in the running statistics.
    eps : float, default=1e-5
        Added to the variance.
    activation : {"identity", "relu", "tanh", "logistic", "gelu"}, default="identity"
        Applied after the affine map (``conv -> batch norm -> relu`` needs the convolution
        to have no activation of its own).
    """

    kernels = ("batchnorm", "dense")
    _config_keys = ("momentum", "eps", "activation")
    mode_dependent = True

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, activation: str = "identity") -> None:
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.activation = activation

    def _out_shape(self, in_shape):
        if len(in_shape) not in (1, 3):
            raise ValueError(f"BatchNorm: input must be (n, d) or (n, c, h, w); got per-sample shape "
                             f"{in_shape}.")
        return in_shape

    def param_shapes(self):
        C = self.in_shape[0]
        return [("gamma", (C,)), ("beta", (C,))]

    def buffer_shapes(self):
        C = self.in_shape[0]
        return [("running_mean", (C,)), ("running_var", (C,))]

    def init_params(self, params, rng):
        params["gamma"][...] = 1.0
        params["beta"][...] = 0.0

    def init_buffers(self, buffers):
        buffers["running_mean"][...] = 0.0
        buffers["running_var"][...] = 1.0

    def _3d(self, a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], self.in_shape[0], -1)

    # --- data-parallel training: statistics of the whole batch across ranks -------------
    # A data-parallel engine sets ``_sync`` to an in-place SUM all-reduce of a float64 NumPy
    # array over its ranks (``_torch_sync``: a differentiable one of tensors; SyncBatchNorm):
    # the moments are then those of the global batch, not of this rank's share, so the loss
    # curve and the running statistics are a single process's, and identical on every rank. Two collectives forward (sum and count, then
    # the centred squares: the kernel's two-pass accuracy), one backward; a rank with no
    # rows in a batch calls :meth:`sync_idle` to take part in them.
    def _sync_forward(self, x3: np.ndarray, z3: np.ndarray | None, mean, rstd) -> None:
        C = self.in_shape[0]
        xd = x3.astype(np.float64)
        head = np.empty(C + 1)
        head[:C] = xd.sum(axis=(0, 2))
        head[C] = x3.shape[0] * x3.shape[2]
        self._sync(head)
        M = head[C]
        mu = head[:C] / M
        xc = xd - mu[None, :, None]
        sq = np.einsum("ncs,ncs->c", xc, xc)
        self._sync(sq)
        var = sq / M
        r = 1.0 / np.sqrt(var + self.eps)
        mean[...] = mu
        rstd[...] = r
        if z3 is not None:
            z3[...] = xc * (r * self._p["gamma"])[None, :, None] + self._p["beta"][None, :, None]
        b, m = self._b, self.momentum
        b["running_mean"][...] = (1.0 - m) * b["running_mean"] + m * mu
        b["running_var"][...] = (1.0 - m) * b["running_var"] + m * (var * M / (M - 1) if M > 1 else var)
        self._M = M

    def _sync_backward(self, dz3: np.ndarray, x3: np.ndarray, dx3: np.ndarray | None) -> None:
        C = self.in_shape[0]
        dd = dz3.astype(np.float64)
        xhat = (x3 - self._mean[None, :, None].astype(np.float64)) * self._rstd[None, :, None]
        sums = np.empty(2 * C)
        sums[:C] = dd.sum(axis=(0, 2))
        sums[C:] = np.einsum("ncs,ncs->c", dd, xhat)
        # this rank's share of dbeta/dgamma: the engine all-reduces every gradient
        self._g["beta"][...] = sums[:C]
        self._g["gamma"][...] = sums[C:]
        self._sync(sums)
        if dx3 is not None:
            M = self._M
            k = (self._p["gamma"] * self._rstd.astype(np.float64)) / M
            dx3[...] = k[None, :, None] * (M * dd - sums[None, :C, None] - xhat * sums[None, C:, None])

    def sync_idle(self, phase: str) -> None:
        """Take part in the all-reduces of a batch this rank holds no rows of.

        Parameters
        ----------
        phase : {"forward", "backward"}
            Which pass's collectives to join (the running statistics are updated as on
            the other ranks).
        """
        C, dt = self.in_shape[0], self._p["gamma"].dtype
        empty = np.zeros((0, C, 1), dtype=dt)
        if phase == "forward":
            self._mean, self._rstd = np.empty(C, dt), np.empty(C, dt)
            self._sync_forward(empty, None, self._mean, self._rstd)
        else:
            self._sync_backward(empty, empty, None)

    def forward(self, x, train):
        n = x.shape[0]
        C = self.in_shape[0]
        z = self._buf("z", x.shape, x.dtype)
        k = self._k["batchnorm"]
        b = self._b
        if train and self.__dict__.get("_sync") is not None:
            mean, rstd = self._buf("mean", (C,), x.dtype), self._buf("rstd", (C,), x.dtype)
            self._sync_forward(self._3d(x), self._3d(z), mean, rstd)
            self._x, self._mean, self._rstd, self._n = x, mean, rstd, n
        elif train:
            mean, rstd = self._buf("mean", (C,), x.dtype), self._buf("rstd", (C,), x.dtype)
            k.batchnorm_forward(self._3d(x), self._p["gamma"], self._p["beta"], self.eps,
                                self.momentum, self._3d(z), mean, rstd, b["running_mean"],
                                b["running_var"])
            self._x, self._mean, self._rstd, self._n = x, mean, rstd, n
        else:
            k.batchnorm_inference(self._3d(x), self._p["gamma"], self._p["beta"],
                                  b["running_mean"], b["running_var"], self.eps, self._3d(z))
        act = _act_code(self.activation)
        a = z
        if act == 4:
            a = self._buf("a", z.shape, x.dtype)
            self._k["dense"].activation_forward(z, act, a)
        elif act != 0:
            self._k["dense"].activation_forward(z, act, z)
        if train:
            self._z, self._a = z, a
        return a

    def backward(self, dout):
        act = _act_code(self.activation)
        dz = dout
        if act != 0:
            dz = self._buf("dz", dout.shape, dout.dtype)
            self._k["dense"].activation_backward(self._z, self._a, dout, act, dz)
        dx = self._buf("dx", dout.shape, dout.dtype)
        if self.__dict__.get("_sync") is not None:
            self._sync_backward(self._3d(dz), self._3d(self._x), self._3d(dx))
            return dx if self.need_dx else None
        self._k["batchnorm"].batchnorm_backward(self._3d(dz), self._3d(self._x), self._p["gamma"],
                                                self._mean, self._rstd, self._3d(dx),
                                                self._g["gamma"], self._g["beta"])
        return dx if self.need_dx else None

    def torch_forward(self, x, params, train=False):
        import torch.nn.functional as F

        if train and self.__dict__.get("_torch_sync") is not None:
            return _torch_act(_torch_sync_batch_norm(self, x, params), self.activation)

        # F.batch_norm updates the running statistics in place: they are views into the
        # engine's buffer tensor, copied back into Network.buffers when the fit ends
        z = F.batch_norm(x, params["running_mean"], params["running_var"], params["gamma"],
                         params["beta"], training=train, momentum=self.momentum, eps=self.eps)
        return _torch_act(z, self.activation)


def _torch_sync_batch_norm(layer: BatchNorm, x: Any, params: dict) -> Any:
    """Batch norm over the global batch of a data-parallel group (torch, autograd-aware).

    ``layer._torch_sync`` is a differentiable SUM all-reduce (its backward all-reduces the
    gradient), so autograd gives SyncBatchNorm's backward; the moments are taken as in
    :meth:`BatchNorm._sync_forward` (sum and count, then centred squares).
    """
    import torch

    all_reduce = layer._torch_sync
    C = x.shape[1]
    dims = [0, *range(2, x.dim())]
    shape = [1, C] + [1] * (x.dim() - 2)
    head = all_reduce(torch.cat([x.sum(dims), x.new_full((1,), x.numel() / C)]))
    M = head[C]
    mu = head[:C] / M
    xc = x - mu.view(shape)
    var = all_reduce((xc * xc).sum(dims)) / M
    z = xc * (torch.rsqrt(var + layer.eps) * params["gamma"]).view(shape) + params["beta"].view(shape)
    with torch.no_grad():
        m, Mv = layer.momentum, float(M)
        unbiased = var * Mv / (Mv - 1) if Mv > 1 else var
        params["running_mean"].mul_(1.0 - m).add_(m * mu)
        params["running_var"].mul_(1.0 - m).add_(m * unbiased)
    return z


class Network:
    """A sequence of layers sharing one flat parameter buffer and one flat gradient buffer.

    Parameters
    ----------
    layers : list of Layer
    input_shape : tuple of int
        Per-sample input shape.
    dtype : numpy dtype
        float32 or float64.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        Every parameter, each layer's tensors being views into it.
    grads : ndarray of shape (n_params,)
        Gradients, laid out like ``params``.
    layout : list of (int, str, int, int, tuple)
        ``(layer index, name, offset, size, shape)`` per parameter tensor.
    buffers : ndarray of shape (n_buffers,)
        State that is not trained (batch-norm running statistics), each layer's tensors
        being views into it; empty for most networks.
    buffer_layout : list of (int, str, int, int, tuple)
        Like ``layout``, for ``buffers``.
    output_shape : tuple of int
    """

    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...], dtype: Any) -> None:
        self.layers = layers
        self.input_shape = tuple(int(s) for s in input_shape)
        self.dtype = np.dtype(dtype)
        shape = self.input_shape
        self.layout = []
        self.buffer_layout = []
        offset = 0
        boffset = 0
        trained_before = False
        for i, layer in enumerate(layers):
            shape = layer.build(shape)
            # an input gradient is only needed when a layer before holds parameters (not
            # for the first layer, nor after parameter-free reshapes such as FramesToBatch)
            layer.need_dx = trained_before
            trained_before = trained_before or bool(layer.param_shapes())
            for name, pshape in layer.param_shapes():
                size = int(np.prod(pshape))
                self.layout.append((i, name, offset, size, tuple(pshape)))
                offset += size
            for name, bshape in layer.buffer_shapes():
                size = int(np.prod(bshape))
                self.buffer_layout.append((i, name, boffset, size, tuple(bshape)))
                boffset += size
        self.output_shape = shape
        self.n_params = offset
        self.params = np.zeros(offset, dtype=self.dtype)
        self.grads = np.zeros(offset, dtype=self.dtype)
        self.buffers = np.zeros(boffset, dtype=self.dtype)
        for layer, v in zip(self.layers, self.views(self.buffers, self.buffer_layout)):
            layer.init_buffers(v)
        self.backends: dict[str, str] = {}
        self._share_context()

    def _share_context(self) -> None:
        # One dict per forward pass that layers far apart use to talk: FramesToBatch puts
        # each clip's frame count there, BatchToFrames and Recurrent read it (variable-length
        # clips). Run-time state only: never saved, rebuilt after unpickling.
        self.context: dict[str, Any] = {}
        for layer in self.layers:
            layer._ctx = self.context

    def kernel_names(self) -> list[str]:
        """Return the kernel names used by the layers (each once, in order).

        Returns
        -------
        names : list of str
        """
        names: list[str] = []
        for layer in self.layers:
            for k in layer.kernels:
                if k not in names:
                    names.append(k)
        return names

    def views(self, flat: np.ndarray, layout: list | None = None) -> list[dict[str, np.ndarray]]:
        """Per-layer dicts of views into ``flat`` (a params-shaped buffer).

        Parameters
        ----------
        flat : ndarray of shape (n_params,)
        layout : list, default=None
            ``None`` for :attr:`layout`; :attr:`buffer_layout` for a buffers-shaped ``flat``.

        Returns
        -------
        views : list of dict
        """
        out: list[dict[str, np.ndarray]] = [{} for _ in self.layers]
        for i, name, off, size, shape in self.layout if layout is None else layout:
            out[i][name] = flat[off:off + size].reshape(shape)
        return out

    def init_params(self, rng: np.random.RandomState) -> None:
        """Initialise every parameter in place.

        Parameters
        ----------
        rng : RandomState
        """
        for layer, v in zip(self.layers, self.views(self.params)):
            # initialise in float64 then cast, so float32 and float64 models start alike
            tmp = {k: np.empty(a.shape) for k, a in v.items()}
            layer.init_params(tmp, rng)
            for k, a in v.items():
                a[...] = tmp[k]

    def bind(self, backends: dict[str, str]) -> None:
        """Attach views and kernels to every layer.

        Parameters
        ----------
        backends : dict of str to str
            Backend per kernel name.
        """
        self.backends = dict(backends)
        bufs = self.views(self.buffers, self.buffer_layout)
        for layer, p, g, b in zip(self.layers, self.views(self.params), self.views(self.grads), bufs):
            layer.bind(p, g, self.backends)
            layer._b = b

    def seed(self, rng: np.random.RandomState) -> None:
        """Give every layer that draws random numbers its own generator, seeded from ``rng``.

        Draws from ``rng`` only when such a layer exists, so networks without dropout train
        exactly as before.

        Parameters
        ----------
        rng : RandomState
        """
        for layer in self.layers:
            if layer.needs_rng:
                layer._rng = np.random.RandomState(rng.randint(0, 2**31 - 1))

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """Run every layer forward.

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape), C-contiguous, of ``dtype``
        train : bool
            Keep what the backward pass needs.

        Returns
        -------
        out : ndarray of shape (n, *output_shape)
        """
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dout: np.ndarray) -> None:
        """Backpropagate ``dout`` through every layer, filling :attr:`grads`.

        Parameters
        ----------
        dout : ndarray of shape (n, *output_shape)
        """
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:
                break

    def architecture(self) -> list[dict]:
        """JSON description of the layers.

        Returns
        -------
        configs : list of dict
        """
        return [layer.get_config() for layer in self.layers]

    @classmethod
    def from_architecture(cls, configs: list[dict], input_shape, dtype) -> "Network":
        """Rebuild a network (parameters zeroed) from :meth:`architecture`.

        Parameters
        ----------
        configs : list of dict
        input_shape : tuple of int
        dtype : numpy dtype

        Returns
        -------
        network : Network
        """
        return cls([layer_from_config(c) for c in configs], input_shape, dtype)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "context"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._share_context()
        # pickling copied the views; point the layers back into the flat buffers
        if self.backends:
            self.bind(self.backends)

