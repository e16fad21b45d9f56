"""Generative adversarial network (Goodfellow et al. 2014) on maaskit's layers and kernels.

Kernels: ``dense`` (affine maps, activations), ``conv2d`` (DCGAN-style convolutional nets),
``optim`` (one fused Adam update per network and step). The generator ``G`` and the
discriminator ``D`` are two :class:`~maaskit.neural_network._layers.Network` objects, each with
its own flat parameter buffer, trained in alternation:

- ``D`` step: minimise ``L_D = -mean log D(x) - mean log(1 - D(G(z)))`` on a real batch and a
  generated one, pushed through ``D`` as one concatenated batch;
- ``G`` step: minimise the non-saturating ``L_G = -mean log D(G(z))``; its gradient flows
  back through ``D`` (whose parameters are not updated) into ``G``.

``D`` outputs logits; the losses and their gradients use the numerically stable forms
``log(1 + exp(-|l|))``. Data are scaled to ``[-1, 1]`` for the generator's tanh output and
scaled back by :meth:`GAN.sample`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, validate_data

from .._backend import get_kernel
from ..exceptions import ModelFitError, NotFittedError
from .._schema import Arr, Attr, Net, Rule, StateSchema, history
from ..persistence import PersistableMixin, register
from ..utils._param_validation import Interval, Options, validate_parameters
from ._base import _resolve_backends
from ._layers import Conv2D, Dense, Flatten, Layer, Network, register_layer

__all__ = ["GAN"]


@register_layer
class Reshape(Layer):
    """Reshape each sample to ``shape`` (a view; no copy).

    Parameters
    ----------
    shape : list of int
        Per-sample output shape.
    """

    _config_keys = ("shape",)

    def __init__(self, shape) -> None:
        self.shape = [int(s) for s in shape]

    def _out_shape(self, in_shape):
        if int(np.prod(in_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"Reshape: cannot view per-sample shape {in_shape} as {tuple(self.shape)}.")
        return tuple(self.shape)

    def forward(self, x, train):
        return x.reshape((x.shape[0], *self.shape))

    def backward(self, dout):
        return dout.reshape((dout.shape[0], *self.in_shape)) if self.need_dx else None

    def torch_forward(self, x, params):
        return x.reshape((x.shape[0], *self.shape))


@register_layer
class Upsample2D(Layer):
    """Nearest-neighbour upsampling of NCHW maps by an integer ``factor``.

    Upsampling followed by a convolution is the generator's way up in resolution (it avoids
    the checkerboard artefacts of transposed convolutions). The backward pass sums each
    ``factor x factor`` block.

    Parameters
    ----------
    factor : int, default=2
    """

    _config_keys = ("factor",)

    def __init__(self, factor: int = 2) -> None:
        self.factor = int(factor)

    def _out_shape(self, in_shape):
        c, h, w = in_shape
        return (c, h * self.factor, w * self.factor)

    def forward(self, x, train):
        f = self.factor
        n, c, h, w = x.shape
        out = self._buf("out", (n, c, h, f, w, f), x.dtype)
        out[...] = x[:, :, :, None, :, None]
        return out.reshape(n, c, h * f, w * f)

    def backward(self, dout):
        if not self.need_dx:
            return None
        f = self.factor
        n, c, hf, wf = dout.shape
        return np.ascontiguousarray(dout.reshape(n, c, hf // f, f, wf // f, f).sum(axis=(3, 5)))

    def torch_forward(self, x, params):
        import torch.nn.functional as F

        return F.interpolate(x, scale_factor=self.factor, mode="nearest")


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    # log(sigmoid(z)) without overflow for large |z|
    return -(np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


@register
class GAN(PersistableMixin, BaseEstimator):
    """Generative adversarial network for vectors or images, optionally class-conditional.

    Parameters
    ----------
    latent_dim : int, default=32
        Size of the noise vector ``z ~ N(0, I)`` fed to the generator.
    architecture : {"mlp", "dcgan"}, default="mlp"
        ``"mlp"``: dense generator and discriminator. ``"dcgan"``: convolutional ones for
        images (upsampling + convolution in ``G``, strided convolutions in ``D``); image
        height and width must be multiples of 4.
    hidden_layer_sizes : tuple of int, default=(128, 256)
        Hidden widths of the MLP generator; the MLP discriminator uses them reversed.
    filters : tuple of int, default=(32, 64)
        Channels of the two convolution blocks of the DCGAN discriminator (the generator
        mirrors them).
    conditional : bool, default=False
        Learn ``p(x | y)``: ``fit`` then needs class labels ``y`` and :meth:`sample` accepts
        ``y``. The label enters both networks as a one-hot vector (or one-hot planes).
    batch_size : int, default=64
        Real samples per step (the discriminator also sees as many generated ones).
    max_iter : int, default=200
        Epochs over the data.
    learning_rate_init : float, default=1e-3
        Adam step size of both networks.
    beta_1 : float, default=0.5
        Adam's first-moment decay (0.5 is the usual GAN choice).
    beta_2 : float, default=0.999
        Adam's second-moment decay.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and noise.
    verbose : bool or int, default=False
        Show a progress bar (tqdm) with both losses.
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        Kernel implementation.

    Attributes
    ----------
    generator_ : Network
        The trained generator (its parameters are ``generator_.params``).
    discriminator_ : Network
        The trained discriminator.
    history_ : dict of str to list of float
        ``"loss_d"`` and ``"loss_g"``: mean discriminator and generator loss per epoch.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Features per sample (pixels for images).
    sample_shape_ : tuple of int
        Shape of one sample as given to ``fit`` (e.g. ``(8, 8)`` for 8x8 images).
    data_min_, data_max_ : ndarray
        Scaling of the data to ``[-1, 1]`` (per feature for vectors, global for images).
    classes_ : ndarray of shape (n_classes,)
        Class labels when ``conditional``.
    backend_ : dict of str to str
        Resolved backend per kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.neural_network import GAN
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> gan = GAN(latent_dim=4, hidden_layer_sizes=(16,), max_iter=2, random_state=0).fit(X)
    >>> gan.sample(5, random_state=0).shape
    (5, 2)
    """

    # generator: latent (+ one-hot class) -> a sample; discriminator: a sample -> one logit
    _state_schema = StateSchema(
        attrs={
            "n_iter_": Attr(int, min=0),
            "n_features_in_": Attr(int, dim="n_features", min=1),
            "sample_shape_": Attr(list, items=Attr(int, min=1)),
            "history_": Attr(dict),
            "g_arch": Attr(list), "g_in": Attr(list), "d_arch": Attr(list), "d_in": Attr(list),
        },
        arrays={
            "g_params": Arr("f4", (None,)), "d_params": Arr("f4", (None,)),
            "data_min_": Arr("f8", ("n_scale",)), "data_max_": Arr("f8", ("n_scale",)),
            "classes_": Arr("label", ("n_classes",), unique=True, optional=True),
        },
        rules=(
            Net("g_arch", "g_in", "g_params"),
            Net("d_arch", "d_in", "d_params"),
            history("loss_d", "loss_g"),
            Rule("attribute 'sample_shape_'", "must hold n_features elements, as the generator's output "
                 "does (and the discriminator's input, plus the class channels when conditional)",
                 lambda d, a, arr, p: (math.prod(a["sample_shape_"]) == d["n_features"] == d["g_params:out_size"]
                                       and (math.prod(a["d_in"]) > d["n_features"] if p["conditional"]
                                            else math.prod(a["d_in"]) == d["n_features"]))),
            Rule("attribute 'd_arch'", "the discriminator must output one logit",
                 lambda d, a, arr, p: d["d_params:out_size"] == 1),
            Rule("attribute 'g_in'", "the generator takes latent_dim inputs plus one per class",
                 lambda d, a, arr, p: a["g_in"] == [p["latent_dim"] + d.get("n_classes", 0)]),
            Rule("array 'classes_'", "is present exactly when conditional=True",
                 lambda d, a, arr, p: ("classes_" in arr) == bool(p["conditional"])),
            Rule("array 'data_min_'", "must hold one value (images) or one per feature",
                 lambda d, a, arr, p: d["n_scale"] in (1, d["n_features"])),
        ),
    )
    _parameter_constraints = {
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "architecture": [Options(frozenset({"mlp", "dcgan"}))],
        "hidden_layer_sizes": [tuple, list],
        "filters": [tuple, list],
        "conditional": ["boolean"],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["boolean", Interval(numbers.Integral, 0, None, closed="left")],
        "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
    }

    def __init__(self, latent_dim: int = 32, *, architecture: str = "mlp",
                 hidden_layer_sizes: tuple = (128, 256), filters: tuple = (32, 64),
                 conditional: bool = False, batch_size: int = 64, max_iter: int = 200,
                 learning_rate_init: float = 1e-3, beta_1: float = 0.5, beta_2: float = 0.999,
                 random_state=None, verbose: bool | int = False, backend: str = "auto") -> None:
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.hidden_layer_sizes = hidden_layer_sizes
        self.filters = filters
        self.conditional = conditional
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend

    # ------------------------------------------------------------------ input
    def _check_X(self, X, where: str) -> np.ndarray:
        if self.architecture == "dcgan":
            X = check_array(X, allow_nd=True, dtype=(np.float64, np.float32), input_name="X")
            if X.ndim == 3:
                X = X[:, None]
            if X.ndim != 4:
                raise ValueError(f"{where}: images must be (n, h, w) or (n, c, h, w) for "
                                 f"architecture='dcgan'; got an array of shape {X.shape}.")
            if X.shape[2] % 4 or X.shape[3] % 4:
                raise ValueError(f"{where}: image height and width must be multiples of 4 for "
                                 f"architecture='dcgan'; got {X.shape[2]}x{X.shape[3]}.")
            return X
        return X

    def _one_hot(self, y_idx: np.ndarray, dtype) -> np.ndarray:
        out = np.zeros((len(y_idx), len(self.classes_)), dtype=dtype)
        out[np.arange(len(y_idx)), y_idx] = 1
        return out

    # ------------------------------------------------------------------ networks
    def _build(self, image_shape: tuple | None, n_features: int, n_cond: int, rng) -> None:
        dt = np.float32
        z_dim = self.latent_dim + n_cond
        hidden = [int(h) for h in self.hidden_layer_sizes]
        if image_shape is None:
            g_layers = [Dense(h, "relu") for h in hidden] + [Dense(n_features, "tanh")]
            d_layers = [Dense(h, "relu") for h in reversed(hidden)] + [Dense(1)]
            g_in, d_in = (z_dim,), (n_features + n_cond,)
        else:
            c, h, w = image_shape
            f1, f2 = (int(f) for f in self.filters)
            g_layers = [Dense(f2 * (h // 4) * (w // 4), "relu"), Reshape([f2, h // 4, w // 4]),
                        Upsample2D(2), Conv2D(f1, 3, padding=1, activation="relu"),
                        Upsample2D(2), Conv2D(c, 3, padding=1, activation="tanh")]
            d_layers = [Conv2D(f1, 3, stride=2, padding=1, activation="relu"),
                        Conv2D(f2, 3, stride=2, padding=1, activation="relu"),
                        Flatten(), Dense(1)]
            g_in, d_in = (z_dim,), (c + n_cond, h, w)
        self.generator_ = Network(g_layers, g_in, dt)
        self.discriminator_ = Network(d_layers, d_in, dt)
        # D's input gradient is what trains G, so D's first layer must return it.
        self.discriminator_.layers[0].need_dx = True
        for net in (self.generator_, self.discriminator_):
            net.init_params(rng)

    def _bind(self, where: str) -> None:
        backends = _resolve_backends(self.generator_, self.backend, where)
        backends.update(_resolve_backends(self.discriminator_, self.backend, where))
        self.backend_ = backends
        self.generator_.bind(backends)
        self.discriminator_.bind(backends)
        self.discriminator_.layers[0].need_dx = True

    def _d_input(self, x: np.ndarray, cond: np.ndarray | None) -> np.ndarray:
        if cond is None:
            return np.ascontiguousarray(x)
        if x.ndim == 2:
            return np.ascontiguousarray(np.hstack([x, cond]))
        planes = np.broadcast_to(cond[:, :, None, None], (len(x), cond.shape[1], *x.shape[2:]))
        return np.ascontiguousarray(np.concatenate([x, planes], axis=1))

    def _generate(self, z: np.ndarray, cond: np.ndarray | None, train: bool) -> np.ndarray:
        zin = z if cond is None else np.hstack([z, cond])
        return self.generator_.forward(np.ascontiguousarray(zin, dtype=np.float32), train)

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None):
        """Train generator and discriminator in alternation for ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, h, w) or (n_samples, c, h, w)
            Vectors (``architecture="mlp"``; images are flattened) or images.
        y : array-like of shape (n_samples,), default=None
            Class labels; required when ``conditional=True``, ignored otherwise.

        Returns
        -------
        self : object
            The fitted GAN.
        """
        validate_parameters(self)
        where = "GAN.fit"
        Xa = check_array(X, allow_nd=True, dtype=(np.float64, np.float32), input_name="X")
        sample_shape = Xa.shape[1:]
        Xa = self._check_X(Xa, where)
        flat = validate_data(self, Xa.reshape(len(Xa), -1), reset=True, dtype=np.float64)
        if len(flat) < 2:
            raise ValueError(f"{where}: need at least 2 samples to train a GAN; got n_samples={len(flat)}.")
        y_idx = None
        if self.conditional:
            if y is None:
                raise ValueError(f"{where}: conditional=True needs class labels y; got None.")
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(flat):
                raise ValueError(f"{where}: y must be 1-D with one label per sample "
                                 f"({len(flat)}); got shape {y.shape}.")
            self.classes_, y_idx = np.unique(y, return_inverse=True)
        rng = check_random_state(self.random_state)
        image = self.architecture == "dcgan"
        if image:
            self.data_min_, self.data_max_ = np.array([flat.min()]), np.array([flat.max()])
        else:
            self.data_min_, self.data_max_ = flat.min(axis=0), flat.max(axis=0)
        scaled = self._scale(flat).astype(np.float32)
        data = scaled.reshape(Xa.shape) if image else scaled
        self.sample_shape_ = tuple(int(s) for s in sample_shape)
        n_cond = len(self.classes_) if self.conditional else 0
        self._build(tuple(Xa.shape[1:]) if image else None, flat.shape[1], n_cond, rng)
        self._bind(where)
        self.history_ = {"loss_d": [], "loss_g": []}
        self.n_iter_ = 0
        self._train(data, y_idx, rng, where)
        return self

    def _scale(self, flat: np.ndarray) -> np.ndarray:
        span = self.data_max_ - self.data_min_
        span = np.where(span > 0, span, 1.0)
        return 2.0 * (flat - self.data_min_) / span - 1.0

    def _train(self, data: np.ndarray, y_idx, rng, where: str) -> None:
        G, D = self.generator_, self.discriminator_
        optim = get_kernel("optim", self.backend_["optim"])
        state = {id(net): (np.zeros_like(net.params), np.zeros_like(net.params)) for net in (G, D)}
        step = {id(G): 0, id(D): 0}
        lr, b1, b2 = float(self.learning_rate_init), float(self.beta_1), float(self.beta_2)

        def adam(net: Network) -> None:
            step[id(net)] += 1
            m, v = state[id(net)]
            optim.adam_update(net.params, net.grads, m, v, lr, b1, b2, 1e-8, 0.0, False, step[id(net)])

        n = len(data)
        bs = min(int(self.batch_size), n)
        epochs = range(self.max_iter)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = epochs = tqdm(epochs, desc="GAN", unit="epoch")
        for _ in epochs:
            order = rng.permutation(n)
            sum_d = sum_g = 0.0
            batches = 0
            for s in range(0, n - bs + 1, bs):
                idx = order[s:s + bs]
                m = len(idx)
                cond = self._one_hot(y_idx[idx], np.float32) if y_idx is not None else None
                # --- discriminator: real and generated samples in one batch
                z = rng.standard_normal((m, self.latent_dim)).astype(np.float32)
                fake = self._generate(z, cond, train=False).copy()
                both = np.concatenate([data[idx], fake])
                cond2 = None if cond is None else np.concatenate([cond, cond])
                logits = D.forward(self._d_input(both, cond2), True)[:, 0].astype(np.float64)
                target = np.r_[np.ones(m), np.zeros(m)]
                # BCE with logits: -t log s(l) - (1-t) log s(-l); mean over each half.
                loss_d = -(_log_sigmoid(logits[:m]).mean() + _log_sigmoid(-logits[m:]).mean())
                grad = ((_sigmoid(logits) - target) / m)[:, None].astype(np.float32)
                D.backward(grad)
                adam(D)
                # --- generator: non-saturating loss through the frozen discriminator
                z = rng.standard_normal((m, self.latent_dim)).astype(np.float32)
                fake = self._generate(z, cond, train=True)
                logits = D.forward(self._d_input(fake, cond), True)[:, 0].astype(np.float64)
                loss_g = -_log_sigmoid(logits).mean()
                dout = ((_sigmoid(logits) - 1.0) / m)[:, None].astype(np.float32)
                for layer in reversed(D.layers):
                    dout = layer.backward(dout)
                if cond is not None:
                    dout = dout[:, : fake.shape[1]]  # drop the label channels/columns
                G.backward(np.ascontiguousarray(dout))
                adam(G)
                sum_d += loss_d
                sum_g += loss_g
                batches += 1
            self.n_iter_ += 1
            self.history_["loss_d"].append(sum_d / batches)
            self.history_["loss_g"].append(sum_g / batches)
            if not (np.isfinite(sum_d) and np.isfinite(G.params.sum()) and np.isfinite(D.params.sum())):
                raise ModelFitError(f"{where}: training diverged (non-finite loss or parameters) "
                                    f"at epoch {self.n_iter_}; try a smaller learning_rate_init.")
            if bar is not None:
                bar.set_postfix(loss_d=f"{sum_d / batches:.3f}", loss_g=f"{sum_g / batches:.3f}")

    # ------------------------------------------------------------------ sampling
    def sample(self, n_samples: int = 1, y=None, random_state=None) -> np.ndarray:
        """Draw samples from the generator, in the scale and shape of the training data.

        Parameters
        ----------
        n_samples : int, default=1
            How many samples.
        y : label or array-like of shape (n_samples,), default=None
            Class of each sample (a single label applies to all); only for a ``conditional``
            GAN, where ``None`` draws classes uniformly.
        random_state : int, RandomState instance or None, default=None
            Seed of the noise.

        Returns
        -------
        X : ndarray of shape (n_samples, *sample_shape_)
        """
        where = "GAN.sample"
        if not hasattr(self, "generator_"):
            raise NotFittedError(f"{where}: this GAN instance is not fitted yet. Call 'fit' "
                                 f"with appropriate arguments before using this estimator.")
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"{where}: n_samples must be a positive integer; got {n_samples!r}.")
        rng = check_random_state(random_state)
        cond = None
        if self.conditional:
            if y is None:
                idx = rng.randint(len(self.classes_), size=n_samples)
            else:
                labels = np.broadcast_to(np.asarray(y), (n_samples,)).tolist()
                index = {c: i for i, c in enumerate(self.classes_.tolist())}
                unknown = [lab for lab in labels if lab not in index]
                if unknown:
                    raise ValueError(f"{where}: unknown class {unknown[0]!r}; the classes "
                                     f"are {self.classes_.tolist()!r}.")
                idx = np.array([index[lab] for lab in labels], dtype=np.int64)
            cond = self._one_hot(idx, np.float32)
        elif y is not None:
            raise ValueError(f"{where}: y is only accepted by a GAN fitted with conditional=True.")
        z = rng.standard_normal((n_samples, self.latent_dim)).astype(np.float32)
        out = []
        for s in range(0, n_samples, 1024):
            c = None if cond is None else cond[s:s + 1024]
            out.append(self._generate(z[s:s + 1024], c, train=False).reshape(len(z[s:s + 1024]), -1).copy())
        flat = np.concatenate(out).astype(np.float64)
        span = np.where(self.data_max_ > self.data_min_, self.data_max_ - self.data_min_, 1.0)
        X = (flat + 1.0) / 2.0 * span + self.data_min_
        return X.reshape((n_samples, *self.sample_shape_))

    # ------------------------------------------------------------------ persistence
    def _get_state(self):
        attrs = {"n_iter_": self.n_iter_, "n_features_in_": self.n_features_in_,
                 "sample_shape_": list(self.sample_shape_), "history_": self.history_,
                 "g_arch": self.generator_.architecture(), "g_in": list(self.generator_.input_shape),
                 "d_arch": self.discriminator_.architecture(),
                 "d_in": list(self.discriminator_.input_shape)}
        arrays = {"g_params": self.generator_.params, "d_params": self.discriminator_.params,
                  "data_min_": self.data_min_, "data_max_": self.data_max_}
        if self.conditional:
            arrays["classes_"] = self.classes_
        return attrs, arrays

    def _set_state(self, attrs, arrays):
        self.n_iter_ = attrs["n_iter_"]
        self.n_features_in_ = attrs["n_features_in_"]
        self.sample_shape_ = tuple(attrs["sample_shape_"])
        self.history_ = attrs["history_"]
        self.data_min_, self.data_max_ = arrays["data_min_"], arrays["data_max_"]
        if "classes_" in arrays:
            self.classes_ = arrays["classes_"]
        self.generator_ = Network.from_architecture(attrs["g_arch"], tuple(attrs["g_in"]), np.float32)
        self.discriminator_ = Network.from_architecture(attrs["d_arch"], tuple(attrs["d_in"]), np.float32)
        self.generator_.params[...] = arrays["g_params"]
        self.discriminator_.params[...] = arrays["d_params"]
        self._bind("GAN.load")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
