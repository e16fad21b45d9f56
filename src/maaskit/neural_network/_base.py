"""The training loop shared by every neural estimator: :class:`NeuralEstimatorBase`.

A subclass supplies the layers (``_build_layers``) and, when its input is not a 2-D float
matrix, the input validation (``_validate_input``); the base class does the rest: label
encoding, parameter initialisation into one flat buffer, mini-batches, the fused optimizer
update (kernel ``optim``: one call per step over all parameters), learning-rate schedules,
early stopping, ``history_``, ``partial_fit``/``warm_start``, the divergence check, the
torch/CUDA path and save/load (flat parameter buffer + JSON architecture).

Kernels: ``optim`` (plus whatever the layers use: ``dense``, ``conv2d``, ``pool`` ...).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .._backend import available_backends, get_kernel, resolve_backend, resolve_device
from .._config import one_blas_thread
from ..exceptions import ArtifactError, DeviceWarning, ModelFitError, NotFittedError
from .._schema import BACKENDS, Arr, Attr, Net, Rule, StateSchema, history
from ..persistence import PersistableMixin
from ..utils._param_validation import Interval, Options, validate_parameters
from ..utils._warnings import user_stacklevel
from ._layers import Layer, Network

__all__ = ["NeuralEstimatorBase", "NEURAL_CONSTRAINTS"]

#: Constraints of the hyper-parameters every neural estimator shares.
NEURAL_CONSTRAINTS: dict[str, list] = {
    "solver": [Options(frozenset({"sgd", "adam", "adamw"}))],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), Options(frozenset({"auto"}))],
    "learning_rate": [Options(frozenset({"constant", "invscaling", "cosine"}))],
    "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
    "power_t": [Interval(numbers.Real, 0, None, closed="left")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "verbose": ["boolean", Interval(numbers.Integral, 0, None, closed="left")],
    "warm_start": ["boolean"],
    "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
    "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
    "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "device": [Options(frozenset({"auto", "cpu", "cuda"}))],
    "backend": [Options(frozenset({"auto", "cython", "numba", "numpy"}))],
}


#: numpydoc lines for the training state every neural estimator shares (joined into the
#: class docstrings after their own attributes).
_TRAINING_STATE_ATTRS = """    loss_ : float
        Training loss of the last epoch.
    best_loss_ : float
        Lowest training loss seen.
    best_validation_score_ : float
        Best validation score seen (``-inf`` without early stopping).
    n_iter_ : int
        Epochs run.
    t_ : int
        Optimizer steps taken.
    device_ : str
        Device the last fit ran on.
    backend_ : dict of str to str
        CPU backend used per kernel.
"""
#: The same, preceded by the network-state lines the sequence models document alike.
_NETWORK_ATTRS = """    network_ : Network
        The layers and the flat parameter buffer.
    params_ : ndarray of shape (n_params_,)
        Every parameter in one flat buffer.
    n_params_ : int
        Number of parameters.
    architecture_ : list of dict
        JSON description of the layers.
    input_shape_ : list of int
        Per-sample input shape.
    history_ : dict of list
        Per-epoch ``"loss"`` and ``"val_score"`` (with early stopping).
""" + _TRAINING_STATE_ATTRS



def _first_layer(attrs: dict) -> dict:
    return attrs["architecture_"][0]


def _tokens_consistent(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
    """Token models: ids >= vocab_size_ are mapped to the row vocab_size_, so the embedding
    must have vocab_size_ + 1 rows, and inputs are max_len_ wide."""
    first = _first_layer(attrs)
    vocab, max_len = attrs.get("vocab_size_"), attrs.get("max_len_")
    n_tokens = first.get("n_tokens")
    if vocab is None:
        if n_tokens is not None:
            return False
        # Continuous sequences: a Transformer over (n, T, d) keeps T in max_len_ (its
        # positions table must cover it); other models keep no max_len_.
        return max_len is None or (attrs["input_shape_"][0] == max_len
                                   and first.get("max_len", max_len) >= max_len)
    if n_tokens != vocab + 1 or max_len is None or attrs["input_shape_"][0] != max_len:
        return False
    return first.get("max_len", max_len) >= max_len


#: Saved state of the layer-stack estimators (MLP, CNN, RNN, Transformer): the architecture
#: and input shape (JSON), the flat parameters and optimiser moments (arrays).
NEURAL_SCHEMA = StateSchema(
    attrs={
        "n_features_in_": Attr(int, min=1),
        "n_outputs_": Attr(int, dim="n_outputs", min=1),
        "backend_": Attr(dict),
        "architecture_": Attr(list),
        "input_shape_": Attr(list),
        "n_params_": Attr(int, dim="n_params"),
        "history_": Attr(dict),
        "n_iter_": Attr(int, min=0),
        "t_": Attr(int, min=0),
        "loss_": Attr(float, finite=False),
        "best_loss_": Attr(float, finite=False),
        "best_validation_score_": Attr(float, finite=False),
        "device_": Attr(str, options=("cpu", "cuda")),
        "dtype_": Attr(str, options=("<f4", "<f8")),
        "max_len_": Attr((int, type(None)), min=1, optional=True),
        "vocab_size_": Attr((int, type(None)), min=1, optional=True),
    },
    arrays={
        "params_": Arr("f", ("n_params",)),
        "buffers_": Arr("f", (None,), optional=True),
        "classes_": Arr("label", ("n_classes",), unique=True, optional=True),
    },
    patterns={"_opt_*": Arr("f", ("n_params",))},
    rules=(
        Rule("attribute 'backend_'", f"must map kernel names to one of {list(BACKENDS)}",
             lambda d, a, arr, p: all(isinstance(k, str) and v in BACKENDS for k, v in a["backend_"].items())),
        Net("architecture_", "input_shape_", "params_", outputs="n_outputs", buffers="buffers_"),
        history("loss", "val_score"),
        Rule("array 'params_'", "dtype must match dtype_",
             lambda d, a, arr, p: arr["params_"].dtype.str == a["dtype_"] and all(
                 v.dtype == arr["params_"].dtype for k, v in arr.items() if k.startswith("_opt_"))),
        Rule("attribute 'vocab_size_'", "token models need an embedding of vocab_size_ + 1 rows "
             "and inputs of max_len_ tokens", _tokens_consistent),
        Rule("attribute 'n_features_in_'", "must match input_shape_ (its first entry for "
             "(n_steps, n_features) sequences, else the product)",
             # Sequences ((n_steps, n_features) input, continuous or embedded tokens) count
             # steps; everything else counts all values.
             lambda d, a, arr, p: a["n_features_in_"] in (
                 (a["input_shape_"][0], math.prod(a["input_shape_"])) if len(a["input_shape_"]) == 2
                 else (math.prod(a["input_shape_"]),))),
    ),
)

#: Classifiers have one output per class.
NEURAL_CLASSIFIER_SCHEMA = NEURAL_SCHEMA.extend(rules=(
    Rule("array 'classes_'", "a classifier needs classes_, one per output (n_classes >= 2)",
         lambda d, a, arr, p: "classes_" in arr and d["n_classes"] == d["n_outputs"] >= 2),))
NEURAL_REGRESSOR_SCHEMA = NEURAL_SCHEMA.extend(drop=("classes_",))

class NeuralEstimatorBase(PersistableMixin, BaseEstimator):
    """Mini-batch training loop over a :class:`~maaskit.neural_network._layers.Network`.

    Not used directly: :class:`MLPClassifier`, :class:`MLPRegressor`, :class:`CNNClassifier`
    and the sequence models derive from it. Subclasses must define ``__init__`` listing
    their hyper-parameters (including the shared ones of ``NEURAL_CONSTRAINTS`` they use)
    and ``_build_layers``.
    """

    _parameter_constraints: dict = NEURAL_CONSTRAINTS
    _state_schema = NEURAL_REGRESSOR_SCHEMA
    #: Rows per forward call in predict (bounded so conv workspaces stay small).
    _predict_chunk = 2048

    # ------------------------------------------------------------------ subclass hooks
    def _build_layers(self, input_shape: tuple[int, ...], n_outputs: int) -> list[Layer]:
        """Return the layers for a per-sample ``input_shape`` and ``n_outputs`` outputs."""
        raise NotImplementedError

    def _validate_input(self, X, y="no_validation", *, reset: bool):
        """Validate ``X`` (and ``y``) and return ``X`` or ``(X, y)`` (default: 2-D numeric matrix).

        ``y="no_validation"`` (prediction) returns ``X`` only; ``y=None`` in ``fit`` must raise
        sklearn's "requires y to be passed" error (``validate_data`` does). Must set
        ``n_features_in_`` when ``reset`` (``validate_data`` does).
        """
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
        return validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32),
                             multi_output=not is_classifier(self), y_numeric=not is_classifier(self))

    def _compute_dtype(self, X: np.ndarray) -> np.dtype:
        """float32 stays float32 (fast path), anything else trains in float64 (as sklearn)."""
        return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)

    def _to_network_input(self, X: np.ndarray) -> np.ndarray:
        """Turn validated input into what the first layer takes (C-contiguous, net dtype)."""
        return np.ascontiguousarray(X, dtype=self.network_.dtype)

    def _input_shape(self, X: np.ndarray) -> tuple[int, ...]:
        """Per-sample input shape the network is built for."""
        return tuple(int(s) for s in X.shape[1:])

    # ------------------------------------------------------------------ public API
    def fit(self, X, y):
        """Train the network on ``(X, y)`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (images or sequences for the subclasses that take them).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifiers) or targets (regressors).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, method="fit")

    def _partial_fit(self, X, y, classes=None):
        return self._fit(X, y, incremental=True, method="partial_fit", classes=classes)

    # ------------------------------------------------------------------ training
    def _where(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"

    def _fit(self, X, y, *, incremental: bool, method: str, classes=None):
        where = self._where(method)
        validate_parameters(self)
        first = not hasattr(self, "network_") or (not incremental and not self.warm_start)
        X, y = self._validate_input(X, y, reset=first)
        y_enc = self._encode_y(y, first, classes, where)
        if first:
            self._initialise(X, y_enc, where)
        else:
            self._check_input_shape(X, where)
        self.device_ = resolve_device(self.device, where)
        Xn = self._to_network_input(X)
        n = Xn.shape[0]
        rng = self._rng
        val = None
        if self.early_stopping and not incremental:
            Xn, y_enc, val = self._split_validation(Xn, y_enc, rng, where)
            n = Xn.shape[0]
        bs = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        engine = self._make_engine(where)
        n_epochs = 1 if incremental else self.max_iter
        bar = range(n_epochs)
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(bar, desc=type(self).__name__, leave=False)
        no_improve = 0
        best_params = best_buffers = None
        try:
            for _ in bar:
                epoch = self.n_iter_
                lr = self._learning_rate(epoch)
                order = rng.permutation(n) if self.shuffle else None
                loss = engine.run_epoch(Xn, y_enc, order, bs, lr)
                self.n_iter_ += 1
                if not (math.isfinite(loss) and math.isfinite(engine.param_sum())):
                    raise ModelFitError(
                        f"{where}: training diverged at epoch {self.n_iter_} (the loss is not finite). "
                        f"Try a smaller learning_rate_init (now {self.learning_rate_init!r}), "
                        f"standardise the inputs, or use solver='adam'.")
                self.history_["loss"].append(float(loss))
                self.loss_ = float(loss)
                if val is not None:
                    score = self._score_network(engine, *val)
                    self.history_["val_score"].append(score)
                    if score > self.best_validation_score_ + self.tol:
                        no_improve = 0
                    else:
                        no_improve += 1
                    if score > self.best_validation_score_:
                        self.best_validation_score_ = score
                        best_params = engine.get_params().copy()
                        best_buffers = engine.get_buffers().copy()
                else:
                    if loss > self.best_loss_ - self.tol:
                        no_improve += 1
                    else:
                        no_improve = 0
                    self.best_loss_ = min(self.best_loss_, float(loss))
                if self.verbose:
                    bar.set_postfix(loss=f"{loss:.4f}")
                if not incremental and no_improve > self.n_iter_no_change:
                    break
        finally:
            engine.finish()
        if best_params is not None:
            self.network_.params[...] = best_params
            self.network_.buffers[...] = best_buffers
        return self

    def _encode_y(self, y, first: bool, classes, where: str) -> np.ndarray:
        if is_classifier(self):
            check_classification_targets(y)
            y = np.asarray(y)
            if first:
                self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            known = self.classes_
            idx = np.searchsorted(known, y)
            idx = np.clip(idx, 0, len(known) - 1)
            bad = known[idx] != y
            if np.any(bad):
                raise ValueError(
                    f"{where}: y must only hold the classes seen in the first fit {known.tolist()!r}; "
                    f"got {np.unique(y[bad]).tolist()!r}.")
            return idx.astype(np.int64)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if first:
            self.n_outputs_ = y.shape[1]
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"{where}: y must have {self.n_outputs_} columns; got {y.shape[1]!r}.")
        return y

    def _initialise(self, X: np.ndarray, y_enc: np.ndarray, where: str) -> None:
        self._rng = check_random_state(self.random_state)
        if is_classifier(self):
            self.n_outputs_ = len(self.classes_)
        dtype = self._compute_dtype(X)
        input_shape = self._input_shape(X)
        layers = self._build_layers(input_shape, self.n_outputs_)
        net = Network(layers, input_shape, dtype)
        net.init_params(self._rng)
        self.backend_ = _resolve_backends(net, self.backend, where)
        net.bind(self.backend_)
        self.network_ = net
        self.params_ = net.params
        self.architecture_ = net.architecture()
        self.input_shape_ = list(input_shape)
        self.n_params_ = int(net.n_params)
        self.history_ = {"loss": [], "val_score": []}
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_ = float("nan")
        self.best_loss_ = float("inf")
        self.best_validation_score_ = -float("inf")
        self._opt_state = None

    def _split_validation(self, X, y, rng, where):
        n = X.shape[0]
        n_val = int(round(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            raise ValueError(
                f"{where}: early_stopping needs at least one training and one validation sample; "
                f"got {n!r} samples with validation_fraction={self.validation_fraction!r}.")
        perm = rng.permutation(n)
        vi, ti = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        return (np.ascontiguousarray(X[ti]), y[ti], (np.ascontiguousarray(X[vi]), y[vi]))

    def _learning_rate(self, epoch: int) -> float:
        lr0 = float(self.learning_rate_init)
        if self.learning_rate == "invscaling":
            return lr0 / (epoch + 1) ** self.power_t
        if self.learning_rate == "cosine":
            return lr0 * 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.max_iter) / self.max_iter))
        return lr0

    def _make_engine(self, where: str):
        if self.device_ == "cuda":
            from ._captured import CapturedTorchEngine

            return CapturedTorchEngine(self, "cuda")
        # test hooks: train through CPU torch, eagerly (``_torch_device``) or with the
        # captured engine's step function (``_torch_engine = "captured"``)
        if getattr(self, "_torch_device", None):
            if getattr(self, "_torch_engine", None) == "captured":
                from ._captured import CapturedTorchEngine

                return CapturedTorchEngine(self, self._torch_device)
            from ._torch_path import TorchEngine

            return TorchEngine(self, self._torch_device)
        engine = _KernelEngine(self)
        if self._serial_blas():
            engine.hold_one_blas_thread()
        return engine

    def _serial_blas(self) -> bool:
        """Whether the CPU kernels run (fit and predict) with BLAS on one thread (see subclasses)."""
        return False

    def _score_network(self, engine, X, y) -> float:
        out = engine.predict_raw(X)
        if is_classifier(self):
            return float(np.mean(out.argmax(axis=1) == y))
        resid = ((y - out) ** 2).sum(axis=0)
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        ok = total > 0
        r2 = np.where(ok, 1 - resid / np.where(ok, total, 1), 0.0)
        return float(r2.mean())

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(
                f"{self._where(method)}: this {type(self).__name__} instance is not fitted yet. "
                f"Call 'fit' with appropriate arguments before using this estimator.")

    def _forward(self, X, method: str) -> np.ndarray:
        """Validated forward pass on the CPU kernels, in chunks; returns raw outputs."""
        self._check_fitted(method)
        X = self._validate_input(X, reset=False)
        self._check_input_shape(X, self._where(method))
        Xn = self._to_network_input(X)
        chunk = self._chunk_rows(Xn)
        if self._serial_blas():
            with one_blas_thread():
                return _forward_chunks(self.network_, Xn, chunk)
        return _forward_chunks(self.network_, Xn, chunk)

    def _check_input_shape(self, X: np.ndarray, where: str) -> None:
        """Refuse input whose per-sample shape is not the fitted one (subclasses may relax it)."""
        if X.shape[1:] != tuple(self.input_shape_):
            raise ValueError(
                f"{where}: X must have per-sample shape {tuple(self.input_shape_)}; got {X.shape[1:]!r}.")

    def _chunk_rows(self, X: np.ndarray) -> int:
        """Samples per forward call in predict (bounds the workspaces)."""
        return self._predict_chunk

    # The public predict / predict_proba methods stay on each estimator (their docstrings
    # describe that estimator's input); their bodies are these three helpers.
    def _softmax_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax of the raw outputs, in float64."""
        z = self._forward(X, "predict_proba").astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def _predict_label(self, X) -> np.ndarray:
        """Most probable class label per sample."""
        idx = self._forward(X, "predict").argmax(axis=1)  # checks fitted before classes_
        return self.classes_[idx]

    def _predict_target(self, X) -> np.ndarray:
        """Regression outputs in float64 (1-D when trained on a 1-D target)."""
        out = self._forward(X, "predict").astype(np.float64)
        return out[:, 0] if self.n_outputs_ == 1 else out

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        attrs: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {"params_": self.network_.params}
        if self.network_.buffers.size:  # batch-norm running statistics
            arrays["buffers_"] = self.network_.buffers
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_") or name in ("network_", "params_"):
                continue
            if name == "classes_":
                arr = np.asarray(value.tolist()) if value.dtype == object else value
                if arr.dtype.hasobject:
                    raise ArtifactError(f"save: classes_ of {type(self).__name__} must be numbers or strings.")
                arrays[name] = arr
            elif isinstance(value, np.ndarray):
                arrays[name] = value
            else:
                attrs[name] = value
        attrs["dtype_"] = self.network_.dtype.str
        if self._opt_state is not None:
            for k, v in self._opt_state.items():
                arrays[f"_opt_{k}"] = v
        return attrs, arrays

    def _set_state(self, attrs: dict, arrays: dict[str, np.ndarray]) -> None:
        dtype = np.dtype(attrs.pop("dtype_"))
        for name, value in attrs.items():
            setattr(self, name, value)
        for name, value in arrays.items():
            if not name.startswith("_opt_") and name not in ("params_", "buffers_"):
                setattr(self, name, value)
        net = Network.from_architecture(self.architecture_, tuple(self.input_shape_), dtype)
        net.params[...] = arrays["params_"]
        if net.buffers.size:
            if "buffers_" not in arrays or arrays["buffers_"].shape != net.buffers.shape:
                raise ArtifactError(f"load: the artifact of {type(self).__name__} lacks the "
                                    f"{net.buffers.size} running statistics its layers need.")
            net.buffers[...] = arrays["buffers_"]
        where = self._where("load")
        self.backend_ = _resolve_backends(net, self.backend, where)
        net.bind(self.backend_)
        self.network_ = net
        self.params_ = net.params
        opt = {k[5:]: v.copy() for k, v in arrays.items() if k.startswith("_opt_")}
        self._opt_state = opt or None
        self._rng = check_random_state(self.random_state)
        if self.device_ == "cuda":
            from .._backend import has_cuda

            if not has_cuda():
                warnings.warn(f"{where}: the model was trained on CUDA, which is not available here; "
                              "it runs on the CPU.", DeviceWarning, stacklevel=user_stacklevel())
                self.device_ = "cpu"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if isinstance(self, RegressorMixin):
            tags.target_tags.multi_output = True
        return tags


def _resolve_backends(net: Network, backend: str, where: str) -> dict[str, str]:
    # "dense" always: the fused losses live there; "optim": the parameter update
    names = dict.fromkeys(net.kernel_names() + ["dense", "optim"])
    out = {}
    for k in names:
        try:
            out[k] = resolve_backend(k, backend, where)
        except ImportError:
            # An explicit backend that one kernel does not provide (e.g. a Numba-only kernel
            # under backend="cython") falls back to that kernel's best backend; backend_
            # records what ran. With no backend at all, the original error stands.
            avail = available_backends(k)
            if backend == "auto" or not avail:
                raise
            out[k] = avail[0]
    return out


def _forward_chunks(net: Network, X: np.ndarray, chunk: int) -> np.ndarray:
    n = X.shape[0]
    out = np.empty((n, *net.output_shape), dtype=net.dtype)
    for s in range(0, n, chunk):
        out[s:s + chunk] = net.forward(X[s:s + chunk], False)
    return out


class _KernelEngine:
    """Runs epochs on the CPU kernels: forward, fused loss, backward, one optimizer call."""

    def __init__(self, est: NeuralEstimatorBase) -> None:
        self.est = est
        self.net = est.network_
        self.optim = get_kernel("optim", est.backend_["optim"])
        self.loss_kernel = get_kernel("dense", est.backend_["dense"])
        self.classifier = is_classifier(est)
        n = self.net.n_params
        st = est._opt_state
        if st is None or any(v.shape != (n,) or v.dtype != self.net.dtype for v in st.values()):
            st = est._opt_state = {k: np.zeros(n, dtype=self.net.dtype) for k in ("m", "v")}
        self.state = st
        self._limiter = None
        self.net.seed(est._rng)  # dropout masks: reproducible from random_state

    def hold_one_blas_thread(self) -> None:
        """Run BLAS on one thread until :meth:`finish` (small GEMMs in a tight loop).

        A GEMM of a few MFLOP finishes before a second BLAS thread is useful, and on a busy
        machine a descheduled BLAS thread stalls every step.
        """
        if self._limiter is None:
            self._limiter = one_blas_thread()

    def param_sum(self) -> float:
        return float(self.net.params.sum())

    def get_params(self) -> np.ndarray:
        return self.net.params

    def get_buffers(self) -> np.ndarray:
        return self.net.buffers

    def finish(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        return _forward_chunks(self.net, X, self.est._predict_chunk)

    def step(self, lr: float) -> None:
        est = self.est
        est.t_ += 1
        p, g = self.net.params, self.net.grads
        if est.solver == "sgd":
            self.optim.sgd_update(p, g, self.state["m"], lr, est.momentum, est.alpha, bool(est.nesterovs_momentum))
        else:
            self.optim.adam_update(p, g, self.state["m"], self.state["v"], lr, est.beta_1, est.beta_2,
                                   est.epsilon, est.alpha, est.solver == "adamw", est.t_)

    def run_epoch(self, X, y, order, bs: int, lr: float) -> float:
        if order is not None:
            X = np.ascontiguousarray(X[order])  # one gather per epoch; batches are then views
            y = y[order]
        net = self.net
        n = X.shape[0]
        k = net.output_shape[0]
        total = 0.0
        lossk = self.loss_kernel
        if not self.classifier:
            y = np.ascontiguousarray(y, dtype=net.dtype)
        for s in range(0, n, bs):
            xb = X[s:s + bs]
            yb = y[s:s + bs]
            m = xb.shape[0]
            out = net.forward(xb, True)
            grad = _scratch(self, "grad", (m, k), net.dtype)
            if self.classifier:
                probs = _scratch(self, "probs", (m, k), net.dtype)
                loss = lossk.softmax_cross_entropy(out, yb, probs, grad)
            else:
                loss = lossk.mse_loss(out, yb, grad)
            net.backward(grad)
            self.step(lr)
            total += loss * m
        return total / n


def _scratch(owner: Any, name: str, shape: tuple, dtype) -> np.ndarray:
    cache = owner.__dict__.setdefault("_scratch", {})
    key = (name, shape)
    b = cache.get(key)
    if b is None:
        b = cache[key] = np.empty(shape, dtype=dtype)
    return b
