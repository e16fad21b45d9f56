"""Recurrent convolutional classifier for image sequences: :class:`CRNNClassifier`.

A CNN runs on every frame (the frames of a batch are folded into the batch axis, so each
convolution is one im2col + GEMM over ``n * T`` images), its per-frame features are
unfolded back into ``(n, T, d)`` sequences, a GRU/LSTM runs over them and a linear layer
with a fused softmax cross-entropy classifies the last hidden state.

Clips may have different lengths: a list of clips is padded at the end to the longest
with NaN frames (pad + mask; NaN can mark padding because every clip is checked finite
first). ``FramesToBatch`` folds only the real frames (no convolution on padding) and
records each clip's length in the network's context; ``BatchToFrames`` scatters the frame
features back and the recurrent kernels stop each clip at its own last frame, so a clip's
output does not depend on what it was batched with.

Kernels: ``conv2d``, ``pool``, ``dense`` (per-frame CNN and head), ``rnn``, ``optim``.
"""

from __future__ import annotations

import numbers
from typing import Any

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
def _context(layer: Layer) -> dict:
    # the network's shared per-pass dict (see Network); a layer used alone gets its own
    ctx = layer.__dict__.get("_ctx")
    if ctx is None:
        ctx = layer._ctx = {}
    return ctx


@register_layer
class FramesToBatch(Layer):
    """Fold the time axis into the batch: ``(n, T, c, h, w) -> (n * T, c, h, w)``.

    The layers after it see single frames; :class:`BatchToFrames` undoes the fold.
    Variable-length clips arrive padded at the end with NaN frames (the estimator pads
    validated, finite clips, so NaN marks padding and nothing else): the CPU path folds
    only the real frames (no convolution runs on padding) and drops the steps that are
    padding in every clip of the batch; the torch path folds every frame with padding
    zeroed (static shapes for CUDA graphs). Either way each clip's frame count goes into
    the network's context for :class:`BatchToFrames` and the recurrent layer.
    """

    def _out_shape(self, in_shape):
        if len(in_shape) != 4:
            raise ValueError(f"FramesToBatch: input must be (n, T, c, h, w); got per-sample shape {in_shape}.")
        return tuple(in_shape[1:])

    def forward(self, x, train):
        ctx = _context(self)
        n, T = x.shape[0], x.shape[1]
        pad = np.isnan(x[:, :, 0, 0, 0])
        if not pad.any():
            ctx.update(n=n, n_frames=T, lengths=None, real=None)
            return x.reshape(n * T, *x.shape[2:])
        lengths = (T - pad.sum(axis=1)).astype(np.int64)
        Tb = int(lengths.max())  # batch-local: steps that are padding in every clip are dropped
        keep = (np.arange(T)[None, :] < lengths[:, None]).ravel()
        ctx.update(n=n, n_frames=Tb, lengths=lengths,
                   real=np.flatnonzero((np.arange(Tb)[None, :] < lengths[:, None]).ravel()))
        return x.reshape(n * T, *x.shape[2:])[keep]

    def backward(self, dout):
        # nothing before it holds parameters (it is the first layer)
        return None

    def torch_forward(self, x, params):
        import torch

        ctx = _context(self)
        n, T = x.shape[0], x.shape[1]
        pad = torch.isnan(x[:, :, 0, 0, 0])
        ctx.update(torch_n_frames=T, torch_lengths=T - pad.sum(dim=1))
        x = torch.nan_to_num(x, nan=0.0)
        return x.reshape(n * T, *x.shape[2:])


@register_layer
class BatchToFrames(Layer):
    """Unfold per-frame features into sequences: ``(n * T, d) -> (n, T, d)``.

    ``T`` is the batch's frame count from :class:`FramesToBatch` (``n_frames`` is the one
    the network was built for). When the fold dropped padding frames, their rows come back
    as zeros, which the recurrent layer never reads (it stops at each clip's last frame).

    Parameters
    ----------
    n_frames : int
        ``T``, the frames per sequence the network was built for.
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
        ctx = _context(self)
        T = ctx.get("n_frames") or self.n_frames
        real = ctx.get("real")
        self._real = real
        if real is None:
            return x.reshape(x.shape[0] // T, T, x.shape[1])
        n = ctx["n"]
        out = np.zeros((n * T, x.shape[1]), dtype=x.dtype)
        out[real] = x
        return out.reshape(n, T, x.shape[1])

    def backward(self, dout):
        flat = np.ascontiguousarray(dout).reshape(-1, self.in_shape[0])
        real = self.__dict__.get("_real")
        return flat if real is None else flat[real]

    def torch_forward(self, x, params):
        T = _context(self).get("torch_n_frames") or self.n_frames
        return x.reshape(x.shape[0] // T, T, x.shape[1])


# ---------------------------------------------------------------------------- input
def _is_clip_list(X: Any) -> bool:
    """A list/tuple (or 1-D object array) whose first item is itself at least 2-D: clips."""
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim != 1:
            return False
    elif not isinstance(X, (list, tuple)):
        return False
    if len(X) == 0:
        return True  # refused with its own message
    first = X[0]
    if hasattr(first, "shape"):
        return len(np.shape(first)) >= 2
    # nested lists: a clip is a list of frames, a frame a list of rows (or values)
    return isinstance(first, (list, tuple)) and len(first) > 0 and isinstance(first[0], (list, tuple, np.ndarray))


def as_clips(X: Any, where: str) -> Any:
    """Validate a list of clips and pad it into one array; anything else is returned as is.

    Clips may have different frame counts ``T_i``; they must agree on everything else.
    Clips of one length are stacked. Clips of different lengths are padded at the end to
    the longest with NaN frames: every clip has just been checked to be finite, so NaN
    marks padding and nothing else, and the network reads each clip's length from it
    (see :class:`FramesToBatch`): no convolution runs on padding and the recurrent layer's
    final state is each clip's state at its own last frame.

    Parameters
    ----------
    X : array-like or list of array-like
        ``n`` clips, each ``(T_i, h, w)``, ``(T_i, c, h, w)`` or ``(T_i, d)``.
    where : str
        ``"<Estimator>.<method>"`` for error messages.

    Returns
    -------
    X : ndarray of shape (n, max T_i, ...) or the input unchanged
    """
    if not _is_clip_list(X):
        return X
    return pad_clips(validated_clips(X, where))


def validated_clips(X: Any, where: str) -> list[np.ndarray]:
    """Check every clip of a list (finite numbers, ``T_i >= 1``, one frame shape).

    Parameters
    ----------
    X : list of array-like
        ``n`` clips, each ``(T_i, h, w)``, ``(T_i, c, h, w)`` or ``(T_i, d)``.
    where : str
        ``"<Estimator>.<method>"`` for error messages.

    Returns
    -------
    clips : list of ndarray
    """
    if len(X) == 0:
        raise ValueError(f"{where}: X must hold at least one clip; got an empty list.")
    clips: list[np.ndarray] = []
    for i, c in enumerate(X):
        try:
            a = np.asarray(c)
        except ValueError:  # numpy refuses inhomogeneous nesting
            a = np.empty(0, dtype=object)
        if a.dtype == object:
            raise ValueError(f"{where}: clip {i} must be an array of frames of one size; got frames "
                             f"of different shapes (ragged nested lists).")
        if a.ndim not in (2, 3, 4):
            raise ValueError(f"{where}: clip {i} must be (T, h, w), (T, c, h, w) or (T, d); got an "
                             f"array of shape {a.shape!r}.")
        if a.shape[0] == 0:
            raise ValueError(f"{where}: clip {i} must have at least one frame; got shape {a.shape!r}.")
        a = check_array(a, allow_nd=True, dtype=(np.float64, np.float32), input_name="X")
        if clips and a.shape[1:] != clips[0].shape[1:]:
            raise ValueError(f"{where}: every clip must have frames of shape {clips[0].shape[1:]!r} "
                             f"(the first clip's); clip {i} has frames of shape {a.shape[1:]!r}.")
        clips.append(a)
    return clips


def pad_clips(clips: list[np.ndarray]) -> np.ndarray:
    """Stack validated clips, padding the shorter ones at the end with NaN frames.

    Parameters
    ----------
    clips : list of ndarray
        From :func:`validated_clips`.

    Returns
    -------
    X : ndarray of shape (n, max T_i, ...)
    """
    dtype = np.result_type(*[c.dtype for c in clips])
    lens = [c.shape[0] for c in clips]
    T = max(lens)
    if min(lens) == T:
        return np.stack(clips).astype(dtype, copy=False)
    out = np.full((len(clips), T, *clips[0].shape[1:]), np.nan, dtype=dtype)
    for i, c in enumerate(clips):
        out[i, :c.shape[0]] = c
    return out


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

    ``X`` is ``(n, T, h, w)`` (one channel) or ``(n, T, c, h, w)``, or a list of ``n`` clips
    ``(T_i, h, w)`` / ``(T_i, c, h, w)`` whose lengths ``T_i >= 1`` may differ. The rule
    for variable lengths is pad + mask: the clips are padded at the end to the longest,
    the CNN runs only on real frames, and the GRU/LSTM's final state is taken at each
    clip's own last frame, so a clip gets the same output alone or in any batch. Every
    clip must have frames of one shape, the fit's ``(c, h, w)``; ``T`` may differ from
    the fit's in ``predict`` and ``partial_fit``. A 3-D ``(n, T, d)`` array is
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
    # per-sample axes of any length (the frames), for the registry's signature
    _variable_sample_axes = (0,)

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
        listed = _is_clip_list(X)
        X = as_clips(X, where)  # validated and NaN-padded: no second check_array
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        if ndim not in (3, 4, 5) and not listed:
            # flat rows (and wrong ranks): sklearn's own messages and n_features_in_
            if no_y:
                X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
            else:
                X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32))
            X = X.reshape(X.shape[0], X.shape[1], 1, 1, 1)  # d frames of one pixel
        else:
            if not listed:
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

    def _check_input_shape(self, X, where):
        # T may differ from the fit's (the recurrence runs over any number of frames)
        frame = tuple(self.input_shape_[1:])
        if X.shape[2:] != frame:
            raise ValueError(f"{where}: every frame must have shape (c, h, w) = {frame!r}, as in fit; "
                             f"got frames of shape {X.shape[2:]!r}.")

    def _forward(self, X, method):
        if not _is_clip_list(X) or len(X) < 2:
            return super()._forward(X, method)
        # A list of clips of any lengths: sorted by length and padded per chunk, so one long
        # clip among many short ones costs its own frames, not n x its length.
        self._check_fitted(method)
        clips = validated_clips(X, self._where(method))
        lens = np.array([len(c) for c in clips])
        order = np.argsort(lens, kind="stable")
        budget = self._predict_chunk * int(self.input_shape_[0])  # frames per forward call
        out = None
        s, n = 0, len(clips)
        while s < n:
            e = s + 1
            while e < n and (e + 1 - s) * lens[order[e]] <= budget:
                e += 1
            part = super()._forward([clips[i] for i in order[s:e]], method)
            if out is None:
                out = np.empty((n, *part.shape[1:]), dtype=part.dtype)
            out[order[s:e]] = part
            s = e
        return out

    def _chunk_rows(self, X):
        # conv workspaces grow with clips x frames: keep chunk x T near the fitted bound
        return max(1, self._predict_chunk * int(self.input_shape_[0]) // max(1, X.shape[1]))

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
            Clips (or a list of clips of any lengths), with the frame shape of the first call.
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
            Clips (or a list of clips of any lengths ``T_i``).

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
            Clips (or a list of clips of any lengths ``T_i``).

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
