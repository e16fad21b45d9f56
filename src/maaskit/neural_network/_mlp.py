"""Multi-layer perceptrons: :class:`MLPClassifier` and :class:`MLPRegressor`.

Kernels: ``mlp`` (a whole training epoch in one Numba call: the fast path on CPU, without
dropout),
``dense`` (GEMM + bias, activations, fused softmax-cross-entropy / MSE; prediction and the
per-layer path used by the other backends), ``optim``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from .._backend import get_kernel, optional_backend
from .._config import effective_n_threads, get_config
from .._kernels.reference.dense import ACTIVATIONS
from ._base import NEURAL_CLASSIFIER_SCHEMA
from ..persistence import register
from ..utils._param_validation import Interval, Options
from ._base import _TRAINING_STATE_ATTRS, NEURAL_CONSTRAINTS, NeuralEstimatorBase, _KernelEngine
from ._layers import Dense, Dropout

__all__ = ["MLPClassifier", "MLPRegressor"]

_MLP_CONSTRAINTS = {
    **NEURAL_CONSTRAINTS,
    "hidden_layer_sizes": [tuple, list, numbers.Integral],
    "activation": [Options(frozenset({"identity", "relu", "tanh", "logistic", "gelu"}))],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
}

_TRAINING_DOC = """    solver : {"sgd", "adam", "adamw"}, default="adam"
        Optimizer; all parameters live in one flat buffer updated by one fused kernel call
        per mini-batch.
    alpha : float, default=0.0001
        L2 strength, applied as weight decay ``g += alpha * w`` to every parameter
        (decoupled, ``w *= 1 - lr * alpha``, for ``"adamw"``).
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "cosine"}, default="constant"
        Per-epoch schedule: ``lr0``, ``lr0 / (epoch + 1) ** power_t`` or cosine annealing
        from ``lr0`` to 0 over ``max_iter`` epochs.
    learning_rate_init : float, default=0.001
        Initial learning rate ``lr0``.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffling and the validation split.
    tol : float, default=1e-4
        Minimum improvement of the training loss (or validation score with early stopping)
        that resets the ``n_iter_no_change`` counter.
    verbose : bool or int, default=False
        Show a tqdm progress bar with the loss.
    warm_start : bool, default=False
        Continue from the previous fit instead of reinitialising.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for SGD.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score stops
        improving; the best parameters are restored.
    validation_fraction : float, default=0.1
        Held-out share for early stopping.
    beta_1 : float, default=0.9
        Adam first-moment decay.
    beta_2 : float, default=0.999
        Adam second-moment decay.
    epsilon : float, default=1e-8
        Adam stability term.
    n_iter_no_change : int, default=10
        Epochs without improvement of more than ``tol`` before stopping.
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"cuda"`` trains through torch on the GPU (parameters are copied back afterwards,
        so prediction and saving work anywhere).
    backend : {"auto", "cython", "numba", "numpy"}, default="auto"
        CPU kernel implementation (``"numpy"`` is the slow, readable reference).
"""

_SHARED_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer.
    activation : {"identity", "relu", "tanh", "logistic", "gelu"}, default="relu"
        Activation of the hidden layers.
""" + _TRAINING_DOC + """    dropout : float, default=0.0
        Inverted-dropout rate after every hidden layer, active only in training (masks drawn
        from ``random_state``). ``0.0`` adds no layer and keeps the fused training kernel.
"""

_SHARED_ATTRS = """
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X had string column names.
    n_outputs_ : int
        Number of network outputs.
    network_ : Network
        The layers and the flat parameter buffer.
    params_ : ndarray of shape (n_params_,)
        Every parameter in one flat buffer (layer tensors are views into it).
    n_params_ : int
        Number of parameters.
    architecture_ : list of dict
        JSON description of the layers.
    input_shape_ : list of int
        Per-sample input shape.
    history_ : dict of list
        Per-epoch ``"loss"`` (mean training loss) and ``"val_score"`` (with early stopping).
""" + _TRAINING_STATE_ATTRS


def _hidden(sizes) -> tuple[int, ...]:
    return (int(sizes),) if isinstance(sizes, numbers.Integral) else tuple(int(s) for s in sizes)


class _MLPBase(NeuralEstimatorBase):
    _parameter_constraints = _MLP_CONSTRAINTS

    def __init__(self, hidden_layer_sizes=(100,), activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size="auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 200,
                 shuffle: bool = True, random_state=None, tol: float = 1e-4, verbose=False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 device: str = "auto", backend: str = "auto", dropout: float = 0.0) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.backend = backend

    def _build_layers(self, input_shape, n_outputs):
        sizes = _hidden(self.hidden_layer_sizes)
        if any(s < 1 for s in sizes):
            raise ValueError(
                f"{type(self).__name__}.fit: hidden_layer_sizes must be positive integers; "
                f"got {self.hidden_layer_sizes!r}.")
        layers = []
        for s in sizes:
            layers.append(Dense(s, self.activation))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout))
        return layers + [Dense(n_outputs, "identity")]

    def _make_engine(self, where):
        # The fused whole-epoch kernel is optional (the backend table says who provides it);
        # other backends run the per-layer path on their dense kernels (same maths, same results).
        # (the fused kernel has no dropout: a network with Dropout layers runs per layer)
        dense_only = all(isinstance(layer, Dense) for layer in self.network_.layers)
        fused = optional_backend("mlp", self.backend) if dense_only else None
        if self.device_ == "cpu" and not getattr(self, "_torch_device", None) and fused is not None:
            self.backend_["mlp"] = fused
            return _FusedMLPEngine(self, get_kernel("mlp", fused))
        self.backend_.pop("mlp", None)
        return super()._make_engine(where)


class _FusedMLPEngine(_KernelEngine):
    """Runs each epoch as one call of the ``mlp`` kernel (batch loop compiled)."""

    def __init__(self, est, kernel) -> None:
        super().__init__(est)
        self.kernel = kernel
        self.widths = np.array([est.input_shape_[0]] + [layer.units for layer in self.net.layers], dtype=np.int64)
        self.act = ACTIVATIONS[est.activation]
        self.solver = {"sgd": 0, "adam": 1, "adamw": 2}[est.solver]
        # Small GEMMs (digits: 200x64x128, under ~50 MFLOP a step): one BLAS thread during
        # fit. Splitting each batch over the kernel's own threads gained 1.0-1.4x on an idle
        # 2-core machine but made epochs ~20x slower when another process held one core
        # (each of the epoch's parallel regions waits for a descheduled thread), so it is
        # opt-in: only an explicit maaskit.set_config(n_threads=k > 1) turns it on.
        flops = 6 * 200 * int(sum(a * b for a, b in zip(self.widths[:-1], self.widths[1:])))
        self.n_threads = 1
        if flops < 50e6:
            import numba

            self.hold_one_blas_thread()
            if get_config()["n_threads"]:
                self.n_threads = min(effective_n_threads(None), numba.get_num_threads())

    def run_epoch(self, X, y, order, bs, lr):
        est = self.est
        dt = self.net.dtype
        if not X.flags.writeable:
            # a read-only input (memmap) would make Numba compile a second specialisation of
            # the whole epoch (~20 s); one copy per epoch is far cheaper
            X = X.copy()
        if order is None:
            order = np.arange(X.shape[0], dtype=np.int64)
        if self.classifier:
            y_idx, Y = y, np.zeros((1, 1), dt)
        else:
            y_idx, Y = np.zeros(1, np.int64), np.ascontiguousarray(y, dtype=dt)
        loss, est.t_ = self.kernel.mlp_epoch(
            X, y_idx, Y, self.classifier, order.astype(np.int64), bs, self.widths, self.act,
            self.net.params, self.net.grads, self.state["m"], self.state["v"], self.solver, float(lr),
            float(est.beta_1), float(est.beta_2), float(est.epsilon), float(est.alpha), float(est.momentum),
            bool(est.nesterovs_momentum), int(est.t_), self.n_threads)
        return float(loss)


@register
class MLPClassifier(ClassifierMixin, _MLPBase):
    __doc__ = """Multi-layer perceptron classifier trained on maaskit's compiled kernels.

    Hidden layers ``Dense(h, activation)`` then a linear output with a fused softmax
    cross-entropy loss; mini-batch training with SGD/Adam/AdamW. Class labels may be of any
    sortable type. Mirrors :class:`sklearn.neural_network.MLPClassifier`'s parameters.
""" + _SHARED_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.""" + _SHARED_ATTRS + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from maaskit.neural_network import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=100, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _state_schema = NEURAL_CLASSIFIER_SCHEMA

    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, initialising the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All classes, needed on the first call when ``y`` does not show every class.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._partial_fit(X, y, classes)

    def predict_proba(self, X):
        """Class probabilities (softmax of the network output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._softmax_proba(X)

    def predict(self, X):
        """Most probable class per sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self._predict_label(X)


@register
class MLPRegressor(RegressorMixin, _MLPBase):
    __doc__ = """Multi-layer perceptron regressor trained on maaskit's compiled kernels.

    Hidden layers ``Dense(h, activation)`` then a linear output, trained on half the mean
    squared error with mini-batch SGD/Adam/AdamW; supports several targets. Mirrors
    :class:`sklearn.neural_network.MLPRegressor`'s parameters.
""" + _SHARED_DOC + """
    Attributes
    ----------""" + _SHARED_ATTRS + """
    Examples
    --------
    >>> import numpy as np
    >>> from maaskit.neural_network import MLPRegressor
    >>> X = np.linspace(-1, 1, 200)[:, None]
    >>> reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, max_iter=300,
    ...                    random_state=0).fit(X, X[:, 0] ** 2)
    >>> bool(reg.score(X, X[:, 0] ** 2) > 0.9)
    True
    """

    def partial_fit(self, X, y):
        """Run one epoch over ``(X, y)``, initialising the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._partial_fit(X, y)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (1-D when trained on a 1-D target).
        """
        return self._predict_target(X)
