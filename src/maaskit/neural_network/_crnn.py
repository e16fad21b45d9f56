"""Recurrent convolutional classifier for image sequences: :class:`CRNNClassifier`.

A CNN runs on every frame (the frames of a batch are folded into the batch axis, so each
convolution is one im2col + GEMM over ``n * T`` images), its per-frame features are
unfolded back into ``(n, T, d)`` sequences, a GRU/LSTM runs over them and a linear layer
with a fused softmax cross-entropy classifies the last hidden state.

Every clip of one fit has the same number of frames ``T`` (``input_shape_[0]``): variable
``T`` with a mask is not implemented yet, so a list of clips of different lengths is
refused with a message saying so (pad or crop the clips to one length first).

Kernels: ``conv2d``, ``pool``, ``dense`` (per-frame CNN and head), ``rnn``, ``optim``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from .._schema import MAX_ACTIVATION, Rule
from ..persistence import register
from ..utils._param_validation import Interval, Options
from ._base import NEURAL_CLASSIFIER_SCHEMA, NEURAL_CONSTRAINTS, NeuralEstimatorBase
from ._layers import AvgPool2D, Conv2D, Dense, Flatten, Layer, MaxPool2D, register_layer
from ._mlp import _SHARED_ATTRS, _TRAINING_DOC
from ._rnn import Recurrent

__all__ = ["CRNNClassifier", "FramesToBatch", "BatchToFrames"]


# ---------------------------------------------------------------------------- layers
@register_layer
class FramesToBatch(Layer):
    """Fold the time axis into the batch: ``(n, T, c, h, w) -> (n * T, c, h, w)`` (a view).

    The layers after it see single frames; :class:`BatchToFrames` undoes the fold.
    """

    def _out_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"FramesToBatch: input must be (n, T, c, h, w); got per-sample shape {in_shape}.")
        return tuple(in_shape[1:])

    def forward(self, x, train):
        return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])

    def backward(self, dout):
        # nothing before it holds parameters (it is the first layer)
        return None if not self.need_dx else dout.reshape(-1, *self.in_shape)

    def torch_forward(self, x, params):
        return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


@register_layer
class BatchToFrames(Layer):
    """Unfold per-frame features into sequences: ``(n * T, d) -> (n, T, d)`` (a view).

    Parameters
    ----------
    n_frames : int
        ``T``, the frames per sequence.
    """

    _config_keys = ("n_frames",)

    def __init__(self, n_frames: int) -> None:
        self.n_frames = int(n_frames)

    def _out_shape(self, in_shape):
        if len(in_shape) != 1 or self.n_frames < 1:
            raise ValueError(f"BatchToFrames: input must be flat (n * T, d) with T >= 1; got "
                             f"per-sample shape {in_shape} and T={self.n_frames}.")
        return (self.n_frames, in_shape[0])

    def forward(self, x, train):
        return x.reshape(x.shape[0] // self.n_frames, self.n_frames, x.shape[1])

    def backward(self, dout):
        return np.ascontiguousarray(dout).reshape(-1, self.in_shape[0])

    def torch_forward(self, x, params):
        return x.reshape(x.shape[0] // self.n_frames, self.n_frames, x.shape[1])


# ---------------------------------------------------------------------------- input
def as_clips(X, where: str) -> np.ndarray:
    """Stack a list of clips into one array; clips of different lengths are refused.

    Parameters
    ----------
    X : array-like or list of array-like
        Clips; a list (or tuple) of per-clip arrays ``(T, h, w)`` / ``(T, c, h, w)`` is stacked.
    where : str
        ``"<Estimator>.<method>"`` for error messages.

    Returns
    -------
    X : ndarray or the input unchanged
    """
    if isinstance(X, (list, tuple)) and len(X) and all(hasattr(c, "shape") for c in X):
        shapes = {tuple(np.shape(c)) for c in X}
        if len(shapes) > 1:
            lens = sorted({s[0] if s else 0 for s in shapes})
            raise ValueError(f"{where}: every clip must have the same shape (T frames of one size); "
                             f"got {len(shapes)} shapes (frame counts {lens[:5]!r}). Variable T is "
                             f"not supported yet: pad or crop the clips to one length.")
        return np.stack([np.asarray(c) for c in X])
    return X


# ---------------------------------------------------------------------------- saved state
def _frames_consistent(d: dict, attrs: dict, arrays: dict, params: dict) -> bool:
    """The layers see one frame at a time, so the schema's per-sample activation bound
    covers a frame, not a clip: bound the clip (T frames of the widest convolution) here, and
    check that the fold and the unfold agree on T."""
    arch, shape = attrs["architecture_"], attrs["input_shape_"]
    if len(shape) != 4 or arch[0].get("type") != "FramesToBatch":
        return False
    T, c, h, w = shape
    unfold = [cfg for cfg in arch if cfg.get("type") == "BatchToFrames"]
    if len(unfold) != 1 or unfold[0].get("n_frames") != T:
        return False
    widest = max([c] + [int(cfg.get("filters", 0)) for cfg in arch if cfg.get("type") == "Conv2D"])
    return T * h * w * widest <= MAX_ACTIVATION


_CRNN_SCHEMA = NEURAL_CLASSIFIER_SCHEMA.extend(rules=(
    Rule("attribute 'architecture_'", "must fold the input_shape_[0] frames of a clip into the batch "
         "(FramesToBatch first), unfold them once (BatchToFrames with n_frames = input_shape_[0]), "
         f"and keep T x h x w x widest convolution <= {MAX_ACTIVATION}", _frames_consistent),))


# ---------------------------------------------------------------------------- estimator
@register
class CRNNClassifier(ClassifierMixin, NeuralEstimatorBase):
    __doc__ = """Recurrent convolutional classifier for image sequences (video clips, animations).

    Every frame goes through the same CNN: for every entry of ``filters`` a block
    ``Conv2D(f, kernel_size, padding=kernel_size // 2, activation)`` + pooling, then
    ``Dense(frame_size, activation)``. The per-frame features form a sequence that a
    GRU/LSTM (``cell``, ``hidden_size``) reads; its last hidden state feeds a linear output
    with a fused softmax cross-entropy loss.

    ``X`` is ``(n, T, h, w)`` (one channel) or ``(n, T, c, h, w)``, or a list of ``n`` clips of
    those shapes without the first axis. All clips have the same ``T`` (fixed per fit:
    variable-length clips with a mask are not implemented). A 3-D ``(n, T, d)`` array is
    read as ``T`` frames of ``1 x d`` strips and a 2-D ``(n, d)`` array as ``d`` frames of one
    pixel (so the model also takes plain feature rows, as scikit-learn's checks use).

    Parameters
    ----------
    filters : tuple of int, default=(16, 32)
        Output channels of the per-frame convolution blocks.
    kernel_size : int, default=3
        Side of the square convolution windows (``"same"`` zero padding).
    pool : {"max", "avg", "none"}, default="max"
        Pooling after each convolution; a block whose input is smaller than the window
        skips it.
    pool_size : int, default=2
        Side (and stride) of the pooling windows.
    frame_size : int, default=64
        Width of the per-frame feature vector (the dense layer after the convolutions).
    cell : {"rnn", "gru", "lstm"}, default="gru"
        Recurrent cell over the frame features (torch's equations and gate layout).
    hidden_size : int, default=64
        Width of the recurrent state.
    activation : {"relu", "tanh", "logistic", "gelu", "identity"}, default="relu"
        Activation of the convolutions and of the per-frame dense layer.
""" + _TRAINING_DOC.replace("""    max_iter : int, default=200
        Maximum number of epochs.
""", """    max_iter : int, default=20
        Maximum number of epochs (a CNN epoch over every frame costs far more than an MLP
        epoch; set ``early_stopping=True`` for longer runs).
""") + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.""" + _SHARED_ATTRS + """
    Examples
    --------
    >>> from maaskit.datasets import make_moving_digits
    >>> from maaskit.neural_network import CRNNClassifier
    >>> X, y = make_moving_digits(n_samples=300, n_frames=4, random_state=0)
    >>> clf = CRNNClassifier(filters=(8,), frame_size=32, hidden_size=32, max_iter=3,
    ...                      learning_rate_init=0.005, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        **NEURAL_CONSTRAINTS,
        "filters": [tuple, list],
        "kernel_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "pool": [Options(frozenset({"max", "avg", "none"}))],
        "pool_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "frame_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "cell": [Options(frozenset({"rnn", "gru", "lstm"}))],
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [Options(frozenset({"identity", "relu", "tanh", "logistic", "gelu"}))],
    }
    # conv workspaces grow with chunk * T frames
    _predict_chunk = 64

    _state_schema = _CRNN_SCHEMA

    def __init__(self, filters=(16, 32), kernel_size: int = 3, *, pool: str = "max", pool_size: int = 2,
                 frame_size: int = 64, cell: str = "gru", hidden_size: int = 64,
                 activation: str = "relu", solver: str = "adam",
                 alpha: float = 0.0001, batch_size="auto", learning_rate: str = "constant",
                 learning_rate_init: float = 0.001, power_t: float = 0.5, max_iter: int = 20,
                 shuffle: bool = True, random_state=None, tol: float = 1e-4, verbose=False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 device: str = "auto", backend: str = "auto") -> None:
        self.filters = filters
        self.kernel_size = kernel_size
        self.pool = pool
        self.pool_size = pool_size
        self.frame_size = frame_size
        self.cell = cell
        self.hidden_size = hidden_size
        self.activation = activation
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

    # ------------------------------------------------------------------ hooks
    def _validate_input(self, X, y="no_validation", *, reset: bool):
        where = self._where("fit" if reset else "predict")
        no_y = isinstance(y, str) and y == "no_validation"
        X = as_clips(X, where)
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        if ndim not in (3, 4, 5):
            # flat rows (and wrong ranks): sklearn's own messages and n_features_in_
            if no_y:
                X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
            else:
                X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32))
            X = X.reshape(X.shape[0], X.shape[1], 1, 1, 1)  # d frames of one pixel
        else:
            X = check_array(X, allow_nd=True, dtype=(np.float64, np.float32), input_name="X")
            if X.ndim == 3:  # (n, T, d): T frames of 1 x d strips
                X = X[:, :, None, None, :]
            elif X.ndim == 4:  # (n, T, h, w): one channel
                X = X[:, :, None, :, :]
            if not no_y:
                if y is None:
                    raise ValueError(f"This {type(self).__name__} estimator requires y to be passed, "
                                     f"but the target y is None.")
                y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
                if y.ndim != 1:
                    raise ValueError(f"{where}: y must be 1-D; got shape {y.shape!r}.")
                check_consistent_length(X, y)
            if reset:
                self.n_features_in_ = int(np.prod(X.shape[1:]))
        return X if no_y else (X, y)

    def _build_layers(self, input_shape, n_outputs):
        T, c, h, w = input_shape
        layers: list[Layer] = [FramesToBatch()]
        k = int(self.kernel_size)
        for f in self.filters:
            layers.append(Conv2D(int(f), k, 1, k // 2, self.activation))
            h, w = h + 2 * (k // 2) - k + 1, w + 2 * (k // 2) - k + 1
            if self.pool != "none" and h >= self.pool_size and w >= self.pool_size and self.pool_size > 1:
                layers.append((MaxPool2D if self.pool == "max" else AvgPool2D)(self.pool_size))
                h, w = (h - self.pool_size) // self.pool_size + 1, (w - self.pool_size) // self.pool_size + 1
        layers += [Flatten(), Dense(int(self.frame_size), self.activation), BatchToFrames(T),
                   Recurrent(self.cell, int(self.hidden_size)), Dense(n_outputs, "identity")]
        return layers

    # ------------------------------------------------------------------ API
    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, initialising the model on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, h, w) or (n_samples, T, c, h, w)
            Clips (or a list of clips), all with the ``T`` of the first call.
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
        X : array-like of shape (n_samples, T, h, w) or (n_samples, T, c, h, w)
            Clips (or a list of clips).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._softmax_proba(X)

    def predict(self, X):
        """Most probable class per clip.

        Parameters
        ----------
        X : array-like of shape (n_samples, T, h, w) or (n_samples, T, c, h, w)
            Clips (or a list of clips).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self._predict_label(X)

    def _serial_blas(self) -> bool:
        # the conv and pool kernels run their own OpenMP team; a threaded BLAS for the
        # dense and recurrent GEMMs in between would spin against it (as in CNNClassifier)
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
